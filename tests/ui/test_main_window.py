import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402

from resnet_studio.cli import main  # noqa: E402
from resnet_studio.ui import MainWindow  # noqa: E402


def test_main_window_shows_the_resnet20_summary(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)  # never edited, so closing it asks nothing
    assert window.objectName() == "ResNetStudio"
    summary = window.findChild(object, "summary")
    assert summary.rowCount() == 12  # 11 layers and the total
    assert summary.item(4, 0).text() == "stage2.block1" and summary.item(4, 2).text() == "32×16×16"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Build",
        "Train",
        "Inspect",
        "Classify",
    ]


def test_screenshot_option_writes_a_png(tmp_path, qapp):
    path = tmp_path / "studio.png"
    assert main(["--screenshot", str(path), "--workspace", "train"]) == 0
    image = QImage(str(path))
    assert image.width() >= 1000 and image.height() >= 600
