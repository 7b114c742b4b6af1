"""Classify and Inspect with a real checkpoint: real image files dropped on the window as URLs,
pasted images, feature maps, Grad-CAM and the validation-set evaluation."""

import csv
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.cli import main
from resnet_studio.data import demo
from resnet_studio.inspection.prediction import Prediction
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.workspaces import Workspace

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("classify") / "run"
    config = TrainConfig(epochs=2, batch_size=64, threads=2, limit_train=1024, limit_val=200)
    run_training(Trainer(TINY, config, run))
    return run / "checkpoints" / "best.pt"


@pytest.fixture
def window(qtbot, checkpoint):
    w = MainWindow()
    w.model_source.use_checkpoint(str(checkpoint))
    w.show()
    yield w
    w.train_view.stop_and_wait()
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


@pytest.fixture
def images(tmp_path):
    """PNG, JPEG, grayscale, RGBA, a large photo-sized JPEG, and three files that are not images."""
    pictures, labels = demo.generate(4, seed=5)
    folder = tmp_path / "images"
    folder.mkdir()
    rgb = [Image.fromarray(p.transpose(1, 2, 0)).resize((64, 64)) for p in pictures]
    rgb[0].save(folder / "a.png")
    rgb[1].save(folder / "b.jpg", quality=95)
    rgb[2].convert("L").save(folder / "c-gray.png")
    rgb[3].convert("RGBA").save(folder / "d-rgba.png")
    Image.new("RGB", (8660, 5774), (200, 30, 30)).save(folder / "e-50mp.jpg", quality=60)
    (folder / "f-corrupt.jpg").write_bytes((folder / "b.jpg").read_bytes()[:200])
    (folder / "g-notes.png").write_text("this is text")
    (folder / "h-empty.jpg").write_bytes(b"")
    return folder


def drop_urls(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(200, 200), *args)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDragMoveEvent(QPoint(200, 200), *args))
    drop = QDropEvent(QPointF(200, 200), *args)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


def test_dropped_files_are_classified_and_bad_ones_explained(window, qtbot, images, tmp_path):
    view = window.classify_view
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    assert drop_urls(window, sorted(images.iterdir()))
    assert window.tabs.currentWidget() is view and view.busy
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    timer.stop()
    assert ticks  # the event loop kept running while files were decoded and classified
    table = window.findChild(object, "classifyResults")
    rows = {table.item(r, 1).text(): r for r in range(table.rowCount())}
    assert len(rows) == 8
    for good in ("a.png", "b.jpg", "c-gray.png", "d-rgba.png", "e-50mp.jpg"):
        row = rows[good]
        assert table.item(row, 2).text() in demo.CLASSES and table.item(row, 5).text() == ""
        assert table.item(row, 3).text().endswith("%")
    problems = {
        name: table.item(rows[name], 5).text() for name in ("f-corrupt.jpg", "g-notes.png", "h-empty.jpg")
    }
    assert "corrupt" in problems["f-corrupt.jpg"]
    assert "not an image" in problems["g-notes.png"]
    assert problems["h-empty.jpg"] == "empty file"
    assert "5 of 8 images" in view.status.text() and "3 could not be read" in view.status.text()
    # The selected image beside its top classes as bars that sum to at most 100%.
    table.selectRow(rows["a.png"])
    shown = [bar.value() for bar in view.bars if bar.isVisible()]
    assert len(shown) == 5 and shown == sorted(shown, reverse=True) and sum(shown) <= 1001
    assert not view.picture.pixmap().isNull()
    # Sorting by probability; CSV export of every image.
    table.sortItems(3, Qt.SortOrder.DescendingOrder)
    values = [table.item(r, 3).data(Qt.ItemDataRole.UserRole) for r in range(table.rowCount())]
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers, reverse=True)
    assert view.export_csv(str(tmp_path / "out.csv"))
    written = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert len([r for r in written if r["rank"] == "1"]) == 5 and len([r for r in written if r["error"]]) == 3


def test_a_dropped_folder_is_walked(window, qtbot, images):
    assert drop_urls(window, [images])
    qtbot.waitUntil(lambda: not window.classify_view.busy, timeout=60_000)
    assert window.classify_view.table.rowCount() == 8


def test_pasted_image_is_classified(window, qtbot):
    picture = np.ascontiguousarray(demo.generate(1, seed=9)[0][0].transpose(1, 2, 0))
    image = QImage(picture.data, 32, 32, 96, QImage.Format.Format_RGB888).copy()
    QGuiApplication.clipboard().setImage(image)
    window.show_workspace(Workspace.CLASSIFY)
    window.classify_view.paste()
    qtbot.waitUntil(lambda: not window.classify_view.busy, timeout=30_000)
    table = window.classify_view.table
    assert table.rowCount() == 1 and table.item(0, 1).text() == "pasted image"
    assert table.item(0, 2).text() in demo.CLASSES


def test_results_accumulate_newest_first_and_the_panel_shows_the_newest(window, qtbot, images):
    """Files, then a pasted image: both batches stay (the pasted one on top), the panel beside
    shows the pasted image, not the file selected before; Clear empties both."""
    view = window.classify_view
    assert drop_urls(window, [images / "a.png", images / "b.jpg"])
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert view.selected().path.endswith("a.png") and "a.png" in view.caption.text()
    picture = np.ascontiguousarray(demo.generate(1, seed=9)[0][0].transpose(1, 2, 0))
    QGuiApplication.clipboard().setImage(QImage(picture.data, 32, 32, 96, QImage.Format.Format_RGB888).copy())
    view.paste()
    qtbot.waitUntil(lambda: not view.busy, timeout=30_000)
    names = [view.table.item(r, 1).text() for r in range(view.table.rowCount())]
    assert names == ["pasted image", "a.png", "b.jpg"]
    assert view.selected().path == "pasted image" and "pasted image" in view.caption.text()
    assert view.bar_labels[0].text() == view.table.item(0, 2).text()
    assert "above 2 earlier results" in view.status.text()
    view.table.selectRow(2)
    assert "b.jpg" in view.caption.text()
    known = view.findChild(object, "knownClasses").text()
    assert known.startswith("This model knows 10 classes: circle, ring,") and "Any image gets one" in known
    # An answer below 50% is marked unsure, in the table and beside the picture.
    view.show_predictions([Prediction("odd.png", [("star", 0.31), ("ring", 0.30)])], list(demo.CLASSES), 0.0)
    assert view.table.item(0, 1).text() == "odd.png" and view.table.item(0, 2).font().italic()
    assert "Unsure" in view.caption.text() and "none of the classes" in view.caption.text()
    marked = [view.table.item(r, 2).font().italic() for r in range(view.table.rowCount())]
    assert marked == [p.unsure for p in view.predictions] and marked[0]  # and only those
    view.findChild(object, "clearResults").click()
    assert view.table.rowCount() == 0 and view.predictions == [] and view.selected() is None
    assert view.caption.text() == "" and view.picture.text() == "No image yet"


def test_feature_maps_and_grad_cam_of_an_image(window, qtbot, images):
    view = window.inspect_view
    view.open_image(str(images / "a.png"))
    maps = window.findChild(object, "featureMaps")
    qtbot.waitUntil(lambda: maps.count() == 16 and view.busy == 0, timeout=30_000)  # last block: 16 ch
    assert [view.block.itemText(i) for i in range(view.block.count())] == ["stem", "stage1.block1"]
    # Enlarged first: the channel of the highest mean activation (a blank channel 0 says nothing).
    means = [float(maps.item(i).toolTip().split("mean ")[1].split(",")[0]) for i in range(maps.count())]
    assert maps.currentRow() == means.index(max(means))
    assert f"channel {maps.currentRow()}: 16x16" in view.channel_caption.text()
    view.block.setCurrentText("stem")
    qtbot.waitUntil(lambda: maps.count() == 8 and view.busy == 0, timeout=30_000)
    maps.setCurrentRow(3)
    assert "stem, channel 3: 32x32" in view.channel_caption.text()
    assert view.last_cam.block == "stem" and view.last_cam.heatmap.shape == (32, 32)
    view.target.setCurrentIndex(view.target.findData(7))
    view.target.activated.emit(view.target.currentIndex())
    qtbot.waitUntil(lambda: view.last_cam.class_index == 7 and view.busy == 0, timeout=30_000)
    assert demo.CLASSES[7] in view.caption.text()
    view.sort.setChecked(True)
    means = [float(maps.item(i).toolTip().split("mean ")[1].split(",")[0]) for i in range(maps.count())]
    assert means == sorted(means, reverse=True)


def test_evaluation_table_matches_the_command_line(window, qtbot, checkpoint, capsys):
    assert main(["evaluate", str(checkpoint), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    inspect = window.inspect_view
    view = inspect.validation
    inspect.tabs.setCurrentWidget(view)
    QTest.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.evaluation is not None, timeout=60_000)
    table = view.per_class
    shown = [
        {
            "class": table.item(r, 0).text(),
            "correct": int(table.item(r, 1).text()),
            "incorrect": int(table.item(r, 2).text()),
        }
        for r in range(table.rowCount())
    ]
    assert shown == [{k: row[k] for k in ("class", "correct", "incorrect")} for row in expected["per_class"]]
    matrix = window.findChild(object, "confusionMatrix")
    assert int(matrix.item(2, 2).text()) == expected["confusion"][2][2]
    axes = [w.text for w in matrix.parent().findChildren(QWidget, "verticalLabel")]
    labels = [w.text() for w in matrix.parent().findChildren(QLabel)]
    assert axes == ["True class"] and any("Predicted class" in text for text in labels)
    mistakes = sum(row["incorrect"] for row in expected["per_class"])
    assert view.gallery.count() == min(200, mistakes)
    # A cell shows its images; one of them opens in the Image tab.
    row, column = next(
        (i, j) for i, r in enumerate(expected["confusion"]) for j, n in enumerate(r) if i != j and n
    )
    cell = view.confusion.visualItemRect(view.confusion.item(row, column)).center()
    QTest.mouseClick(view.confusion.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert view.gallery.count() == expected["confusion"][row][column]
    view.gallery.setCurrentItem(view.gallery.item(0))
    QTest.keyClick(view.gallery, Qt.Key.Key_Return)  # activates the item, as a double-click does
    assert inspect.tabs.currentIndex() == 0 and "validation image" in inspect.image_name


def test_a_folder_of_thousands_keeps_the_window_responsive(window, qtbot, tmp_path):
    pictures, _ = demo.generate(50, seed=3)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        if i % 150 == 7:
            (folder / f"{i:04d}.png").write_text("not a picture")
        else:
            Image.fromarray(pictures[i % 50].transpose(1, 2, 0)).save(folder / f"{i:04d}.png")
    view = window.classify_view
    seen, ticks = set(), []
    timer = QTimer()
    timer.timeout.connect(lambda: (ticks.append(1), seen.add(view.status.text().split("…")[0])))
    timer.start(20)
    assert drop_urls(window, [folder])
    qtbot.waitUntil(lambda: not view.busy, timeout=120_000)
    timer.stop()
    assert {"Classifying", "Showing"} <= seen and len(ticks) > 10
    assert view.table.rowCount() == 1500
    assert "1490 of 1500 images" in view.status.text() and "10 could not be read" in view.status.text()


def test_classify_with_the_latest_weights_of_a_run_in_progress(window, qtbot, images, tmp_path):
    train = window.train_view
    train.runs_root = tmp_path / "runs"
    window.document.replace(TINY, None)
    train.setup.limit_train.setValue(640)
    train.setup.limit_val.setValue(128)
    train.setup.batch_size.setValue(64)
    train.setup.epochs.setValue(200)
    window.model_source.use_training()
    train.train_button.click()
    qtbot.waitUntil(lambda: len(train.runs[0].steps) >= 2, timeout=120_000)
    view = window.classify_view
    view.classify_paths([str(images / "a.png")])
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert "Tiny, latest weights of the run training now" in view.status.text()
    assert view.table.item(0, 6).text().endswith(" (training) · Tiny")  # the Model column
    assert view.table.item(0, 2).text() in demo.CLASSES
    train.stop_and_wait()


def test_first_launch_answers_a_dropped_photo_with_the_shipped_cifar10_weights(
    qtbot, cifar_test_slice, tmp_path
):
    """No run, no checkpoint chosen: Classify and Inspect use the ResNet-20 trained on CIFAR-10 that
    ships with the package, and say so."""
    w = MainWindow()
    w.show()
    try:
        label = w.classify_view.findChild(object, "modelSource")
        assert "ResNet-20 trained on CIFAR-10" in label.text() and "shipped" in label.text()
        photos = []
        for name in ("ship", "cat", "horse"):
            for source in sorted((cifar_test_slice / "test" / name).glob("*.jpg"))[:4]:
                photo = tmp_path / f"{name}-{source.name}"
                photo.write_bytes(source.read_bytes())
                photos.append(photo)
        assert drop_urls(w, photos)
        view = w.classify_view
        qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
        table = view.table
        answers = {table.item(r, 1).text(): table.item(r, 2).text() for r in range(table.rowCount())}
        assert len(answers) == 12
        right = [name for name, answer in answers.items() if name.split("-")[0] == answer]
        assert len(right) >= 10, answers
        assert "shipped" in view.status.text()
        # Inspect: the same photo's feature maps and Grad-CAM with the same weights.
        inspect = w.inspect_view
        inspect.open_image(str(photos[0]))
        maps = inspect.findChild(object, "featureMaps")
        qtbot.waitUntil(lambda: maps.count() > 0 and inspect.busy == 0, timeout=60_000)
        assert "shipped" in inspect.findChild(object, "modelSource").text()
        # ...and the same answer: Inspect averages with the mirror image as Classify does (TTA).
        classified = next(p for p in view.predictions if p.path == str(photos[0]))
        best = int(np.argmax(inspect.analysis.probabilities))
        assert inspect.analysis.classes[best] == classified.top[0][0]
        assert inspect.analysis.probabilities[best] == pytest.approx(classified.top[0][1], abs=1e-4)
        qtbot.waitUntil(lambda: inspect.last_cam is not None and inspect.busy == 0, timeout=60_000)
        caption = inspect.caption.text()
        assert f"<b>{classified.top[0][0]}</b> ({classified.top[0][1]:.1%})" in caption, caption
    finally:
        w.train_view.stop_and_wait()
        w.document.undo_stack.setClean()
        w.close()
        w.deleteLater()


def test_classify_and_inspect_follow_the_run_shown_unless_weights_were_chosen(qtbot, checkpoint, tmp_path):
    """#27: a reopened project showed its run in Train while Classify and Inspect still said, and
    their labels kept saying, that the shipped weights answer, until Use Training Run was clicked."""
    import shutil

    from resnet_studio.project import Project, save_project

    first, second = tmp_path / "first-run", tmp_path / "second-run"
    shutil.copytree(checkpoint.parent.parent, first)
    shutil.copytree(checkpoint.parent.parent, second)
    project = tmp_path / "mine.rsproj"
    save_project(Project(TINY, {}, [first.name]), project)
    photo = tmp_path / "a.png"
    Image.fromarray(demo.generate(1, seed=3)[0][0].transpose(1, 2, 0)).save(photo)
    w = MainWindow()
    w.show()
    try:
        labels = [v.findChild(QLabel, "modelSource") for v in (w.classify_view, w.inspect_view)]
        assert all("shipped" in label.text() for label in labels)
        assert w.open_file(project)
        said = "Model: Tiny, best checkpoint of run first-run"
        qtbot.waitUntil(lambda: all(label.text() == said for label in labels), timeout=10_000)
        view = w.classify_view
        view.classify_paths([str(photo)])
        qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
        assert "with Tiny, best checkpoint of run first-run" in view.status.text()
        assert view.table.item(0, 6).text() == "run first-run · Tiny" == w.model_source.brief()
        assert view.classes_known == list(demo.CLASSES)  # the run's classes, not CIFAR-10's
        # Weights the user chose keep answering when another run is shown; the label says which
        # run Use Training Run would take.
        chosen = str(first / "checkpoints" / "init.pt")
        w.model_source.use_checkpoint(chosen)
        w.train_view.show_run(second)
        qtbot.waitUntil(lambda: "Use Training Run for run second-run" in labels[0].text(), timeout=10_000)
        assert all(f"heckpoint {chosen}" in label.text() for label in labels)
        w.classify_view.findChild(QPushButton, "useTrainingRun").click()
        assert labels[0].text() == "Model: Tiny, best checkpoint of run second-run"
        # The project closed, its runs and the one shown leave the window: the shipped weights answer.
        w.new_file()
        qtbot.waitUntil(lambda: all("shipped" in label.text() for label in labels), timeout=10_000)
        assert w.training.last_run_dir is None
    finally:
        w.document.undo_stack.setClean()
        w.close()
        w.deleteLater()
