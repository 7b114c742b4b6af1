"""#27: Classify keeps the answers of several models in one list, so each row names the weights
that answered it; a folder dropped or pasted lists its files that are not images, each with its
problem, as the command line does."""

import csv

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.data import demo
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.ui import MainWindow
from resnet_studio.ui.classify.classify_view import COLUMNS

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 8, 1),))
MODEL, PROBLEM = COLUMNS.index("Model") if "Model" in COLUMNS else -1, COLUMNS.index("Problem")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("models") / "run"
    config = TrainConfig(epochs=1, batch_size=64, threads=1, limit_train=128, limit_val=64)
    run_training(Trainer(TINY, config, run))
    return run / "checkpoints" / "best.pt"


@pytest.fixture
def window(qtbot):
    w = MainWindow()  # no run and no checkpoint: the shipped CIFAR-10 weights answer
    w.show()
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


@pytest.fixture
def folder(tmp_path):
    """Two pictures, a text file and a hidden file."""
    pictures, _ = demo.generate(2, seed=5)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name, picture in zip(("a.png", "b.png"), pictures, strict=True):
        Image.fromarray(picture.transpose(1, 2, 0)).save(folder / name)
    (folder / "notes.txt").write_text("taken on Tuesday")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def drop_urls(window, paths):
    """Files dragged from a file manager onto the window, as Qt delivers them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(200, 200), *args)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(200, 200), *args)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted() and drop.isAccepted()


def cells(table, column):
    return [table.item(row, column).text() for row in range(table.rowCount())]


def test_each_answer_names_the_model_that_gave_it(window, qtbot, checkpoint, folder, tmp_path):
    """The shipped weights answer a.png, then the trained Tiny network answers b.png: both rows
    stay, each naming its weights (briefly in the table, in full in its tooltip and the CSV); the
    panel lists the classes of the row's model."""
    view = window.classify_view
    assert MODEL >= 0, f"no Model column in {COLUMNS}"
    assert drop_urls(window, [folder / "a.png"])
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert view.table.item(0, MODEL).text() == "resnet20-cifar10 (shipped)"
    shipped = view.predictions[0].model
    assert "shipped" in shipped and "CIFAR-10" in view.table.item(0, MODEL).toolTip()
    window.model_source.use_checkpoint(str(checkpoint))
    assert drop_urls(window, [folder / "b.png"])
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert cells(view.table, 1) == ["b.png", "a.png"]
    assert cells(view.table, MODEL) == ["best.pt of run run · Tiny", "resnet20-cifar10 (shipped)"]
    assert str(checkpoint) in view.table.item(0, MODEL).toolTip()
    assert "other weights" in view.status.text()
    known = view.findChild(QLabel, "knownClasses")
    view.table.selectRow(1)
    assert "airplane" in known.text() and view.bar_labels[0].text() not in demo.CLASSES
    assert "Answered by ResNet-20 trained on CIFAR-10 (shipped" in view.caption.text()
    view.table.selectRow(0)
    assert "circle" in known.text() and view.bar_labels[0].text() in demo.CLASSES
    assert view.export_csv(str(tmp_path / "out.csv"))
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    models = {row["path"].rsplit("/", 1)[-1]: row["model"] for row in rows if row["rank"] == "1"}
    assert models == {"b.png": f"Tiny, checkpoint {checkpoint}", "a.png": shipped}


def test_a_pasted_folder_lists_a_file_that_is_not_an_image(window, qtbot, checkpoint, folder):
    """notes.txt is a row with its problem (no model answered it), the pictures are classified,
    the hidden file is left out."""
    view = window.classify_view
    window.model_source.use_checkpoint(str(checkpoint))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    QGuiApplication.clipboard().setMimeData(mime)
    view.paste()
    # The clipboard owns `mime` now; emptied here so that Qt's exit does not delete a Python-made
    # object after Python has finished (a segmentation fault at the very end of the test run).
    QGuiApplication.clipboard().clear()
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert sorted(cells(view.table, 1)) == ["a.png", "b.png", "notes.txt"]
    problems = dict(zip(cells(view.table, 1), cells(view.table, PROBLEM), strict=True))
    assert problems["notes.txt"].startswith("not an image") and problems["a.png"] == ""
    assert "2 of 3 images" in view.status.text() and "1 could not be read" in view.status.text()
    models = dict(zip(cells(view.table, 1), cells(view.table, MODEL), strict=True))
    assert models["notes.txt"] == "" and models["a.png"] == "best.pt of run run · Tiny"


def test_the_command_line_lists_a_folders_file_that_is_not_an_image(checkpoint, folder, capsys):
    assert main(["classify", str(checkpoint), str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{folder}/notes.txt: error: not an image" in out and ".DS_Store" not in out
    assert f"{folder}/a.png: " in out
