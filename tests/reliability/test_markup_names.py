"""Names full of markup (a network's, a class's, a file's) show as the characters typed: never as
HTML, and never as an <img> that makes Qt read a file. The picture named in the markup is a real
300x300 PNG, so that a label which rendered it would grow to its size."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from PySide6.QtCore import QModelIndex, QSettings
from PySide6.QtGui import Qt as QtGui_Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QAbstractItemView, QLabel, QMessageBox, QWidget

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec, get_preset
from resnet_studio.nn.checkpoint import FORMAT, VERSION
from resnet_studio.nn.model import build_model
from resnet_studio.project import FORMAT as PROJECT_FORMAT
from resnet_studio.project import VERSION as PROJECT_VERSION
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.plain_text import tooltip

Qt = QtGui_Qt
TITLE = "<h1 style='color:red'>Big</h1>"
SEEN = "<h1 style='color:red'>Big"  # what any of the names shows, as characters


@pytest.fixture
def markup(tmp_path) -> str:
    picture = tmp_path / "big.png"
    Image.new("RGB", (300, 300), (255, 0, 0)).save(picture)
    return f"{TITLE}<img src='{picture}'>"


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    w.show()
    yield w
    w.train_view.stop_and_wait()
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def shown(text: str, fmt: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """The characters a label or tool tip with this text and format puts on screen."""
    if fmt == Qt.TextFormat.PlainText or (fmt == Qt.TextFormat.AutoText and not Qt.mightBeRichText(text)):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def columns(model) -> int:
    try:
        return model.columnCount(QModelIndex())
    except TypeError:  # a list's model keeps columnCount private: one column
        return 1


def assert_markup_shown_as_text(window: QWidget, markup: str, expect_labels: int) -> None:
    labels = [
        label
        for label in window.findChildren(QLabel)
        if "Big" in label.text() and not isinstance(label.parent(), QMessageBox)
    ]
    assert len(labels) >= expect_labels, [label.text() for label in labels]
    for label in labels:
        assert SEEN in shown(label.text(), label.textFormat()), (label.objectName(), label.text())
        # Below the 300-px picture a label rendering it would need (the text itself, which names a
        # temporary path, may wrap to several lines where the path is long).
        assert label.sizeHint().height() < 300, label.objectName()
    tips = [w.toolTip() for w in window.findChildren(QWidget) if "Big" in w.toolTip()]
    for view in window.findChildren(QAbstractItemView):
        model = view.model()
        root = QModelIndex()
        for row in range(min(model.rowCount(root), 50)):
            for column in range(columns(model)):
                tip = model.index(row, column).data(Qt.ItemDataRole.ToolTipRole)
                if isinstance(tip, str) and "Big" in tip:
                    tips.append(tip)
    for tip in tips:
        assert SEEN in shown(tip), tip


def test_a_tool_tip_of_markup_shows_the_markup():
    text = "a <b>bold</b> & line\nnext <img src='/dev/zero'>"
    assert shown(tooltip(text)) == text
    assert tooltip("plain words, no tags") == "plain words, no tags"


def test_an_architecture_file_named_with_markup_shows_its_name_as_text(window, markup, tmp_path, qtbot):
    arch = tmp_path / "net.resnet.json"
    arch.write_text(json.dumps({**get_preset("resnet20").to_dict(), "name": markup}))
    assert window.open_file(arch)
    qtbot.wait(20)
    assert_markup_shown_as_text(window, markup, expect_labels=1)  # the status bar's figures
    assert TITLE in shown(window.status_figures.text(), window.status_figures.textFormat())


def test_a_project_named_with_markup_shows_its_name_as_text(window, markup, tmp_path, qtbot):
    project = tmp_path / "net.rsproj"
    arch = {**get_preset("resnet20").to_dict(), "name": markup}
    training = {"data": f"folder:{tmp_path}/{TITLE}", "epochs": 2}
    document = {
        "format": PROJECT_FORMAT,
        "version": PROJECT_VERSION,
        "architecture": arch,
        "training": training,
    }
    project.write_text(json.dumps({**document, "runs": []}))
    assert window.open_file(project)
    qtbot.wait(20)
    assert_markup_shown_as_text(window, markup, expect_labels=1)
    # An edit that makes it invalid: the problem, which may quote the network, is shown as text.
    window.document.apply(window.document.spec.with_stages([StageSpec("bottleneck", 1, 18, 1)]), "edit")
    qtbot.wait(20)
    reason = window.status_figures.text()
    assert "Invalid" in shown(reason, window.status_figures.textFormat())
    assert window.status_figures.textFormat() == Qt.TextFormat.RichText and "<img" not in reason


def test_a_checkpoint_named_with_markup_shows_its_names_as_text(window, markup, tmp_path, qtbot):
    classes = [f"{TITLE}cat", "<b>dog</b>", "<img src='x'>"]
    spec = ArchitectureSpec(
        name=markup,
        input=InputSpec(3, 8),
        classes=3,
        stem=StemSpec(channels=4),
        stages=(StageSpec("basic", 1, 4, 1),),
    )
    checkpoint = tmp_path / "net.pt"
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "architecture": spec.to_dict(),
            "model": build_model(spec).state_dict(),
            "classes": classes,
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        },
        checkpoint,
    )
    picture = tmp_path / f"{TITLE.replace('/', '')}.png"  # a file named with markup too
    Image.new("RGB", (8, 8), (0, 200, 0)).save(picture)
    window.model_source.use_checkpoint(str(checkpoint))
    window.model_source.load()
    view = window.classify_view
    view.classify_paths([str(picture)])
    qtbot.waitUntil(lambda: view.table.rowCount() == 1 and not view.busy, timeout=20_000)
    view.table.selectRow(0)
    qtbot.waitUntil(lambda: "Big" in view.model_label.text(), timeout=5_000)
    assert_markup_shown_as_text(window, markup, expect_labels=2)  # Model lines, caption, bars


def test_an_error_naming_a_markup_file_is_plain_text(window, tmp_path, qtbot):
    bad = tmp_path / "<h1 style='color:red'>Big<h1>.rsproj"
    bad.write_text("{")
    assert not window.open_file(bad)
    boxes = [b for b in window.findChildren(QMessageBox) if "Big" in b.text()]
    assert boxes and all(b.textFormat() == Qt.TextFormat.PlainText for b in boxes)


@pytest.mark.parametrize("stored", [7, 2.5, {"a": 1}, [1, None, "", "/x/net.rsproj"], True])
def test_recent_files_of_any_type_never_break_open_recent(window, stored):
    settings = QSettings("ResNet Studio", "ResNet Studio")
    settings.setValue("recentFiles", stored)
    settings.sync()
    window.settings.sync()
    window.recent_menu.aboutToShow.emit()  # what opening File > Open Recent does
    texts = [a.text() for a in window.recent_menu.actions()]
    assert texts in (["No recent files"], ["net.rsproj"]), texts


def test_classify_export_csv_writes_a_file_name_that_is_not_utf8(window, tmp_path):
    import csv
    import os

    from resnet_studio.inspection.prediction import Prediction

    view = window.classify_view
    odd = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"bad\xff\xfe.png"))
    empty = Prediction(str(tmp_path / "x.png"), error="empty")
    view.predictions = [Prediction(odd, top=[("cat", 0.75)]), empty]
    out = tmp_path / "classified.csv"
    assert view.export_csv(str(out)), view.status.text()
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[1][:3] == [f"{tmp_path}/bad\\xff\\xfe.png", "1", "cat"] and rows[2][4] == "empty"
