"""The Export menu writes checked exports of the last run, off the UI thread."""

import pytest

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.ui import MainWindow

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    w.show()
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def test_export_menu_exports_the_followed_run(window, qtbot, small_demo, tmp_path):
    run = tmp_path / "run"
    run_training(Trainer(TINY, TrainConfig(epochs=1, batch_size=64, threads=2), run, data=small_demo))
    assert window.open_file(run)  # follows the run; Export now defaults to it
    menu = window.export_menu
    assert [a.objectName() for a in menu.actions() if a.objectName()] == [
        "export_torchscript",
        "export_onnx",
        "export_python",
        "export_csv",
    ]
    menu.export("python", out=str(tmp_path / "tiny.py"))
    qtbot.waitUntil(lambda: menu.last_report is not None, timeout=60_000)
    assert "max abs difference" in menu.last_report and (tmp_path / "tiny.py").is_file()
    menu.last_report = None
    menu.export("csv", out=str(tmp_path / "tiny.csv"))
    qtbot.waitUntil(lambda: menu.last_report is not None, timeout=10_000)
    assert "rows of metrics" in menu.last_report
    assert (tmp_path / "tiny.csv").read_text().startswith("kind,epoch,step,loss")


def test_a_failed_export_names_the_file(window, qtbot, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"\x00" * 10)
    menu = window.export_menu
    menu.export("onnx", source=str(bad), out=str(tmp_path / "x.onnx"))
    qtbot.waitUntil(lambda: menu.last_report is not None, timeout=10_000)
    assert menu.last_report.startswith("error:") and "broken.pt" in window.last_error
    assert not (tmp_path / "x.onnx").exists()
