"""Training on the user's own photos, the studio's side: Setup's grid of a photo folder, Start from
listing imported ImageNet networks, the transfer recipes, a probe's progress and the data-memory
setting. Real widgets offscreen, a tiny generated folder and a seeded-random torchvision network."""

import dataclasses
import json

import pytest
import torch
import torchvision
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.benchmarks.photolike import make_photo_folder
from resnet_studio.training.events import Evaluated, Featurizing, Started, Step
from resnet_studio.training.recipes import RECIPES, Recipe
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.training_controller import Launch
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.train.data_memory import GB
from resnet_studio.ui.train.init_choice import TRANSFER_HINT

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow()
    w.document.replace(TINY, None)
    w.train_view.runs_root = tmp_path / "runs"
    w.show_workspace(Workspace.TRAIN)
    w.show()
    yield w
    w.train_view.stop_and_wait()
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def test_a_photo_folder_shows_its_classes_counts_and_photos_and_says_what_is_wrong(window, qtbot, tmp_path):
    root = make_photo_folder(tmp_path / "photos", 30, classes=3, width=40, height=30)
    (root / "train" / "class_0" / "aaa-broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "train" / "no_photos_yet").mkdir()
    view, setup = window.train_view, window.train_view.setup
    grid = setup.preview.folder_grid
    setup.data_path.setText(str(root))
    setup.data_kind.setCurrentText("folder")
    assert grid.overview is None and "Reading" in grid.summary.text()  # read off the UI thread
    qtbot.waitUntil(lambda: grid.overview is not None, timeout=20_000)
    assert grid.isVisibleTo(setup) and not setup.sample_list.isVisibleTo(setup)

    # 30 photos, one in ten to val/: 9 + 1 of each class, and the broken file counted by its name.
    names = {c.name: (c.train, c.val) for c in grid.overview.classes}
    assert names == {"class_0": (10, 1), "class_1": (9, 1), "class_2": (9, 1), "no_photos_yet": (0, 0)}
    summary = grid.summary.text()
    assert "3 classes" in summary and "31 images" in summary and "28 train, 3 in val/" in summary
    assert "left out, no images: no_photos_yet" in summary
    assert "Skipped, unreadable: aaa-broken.jpg" in summary  # and the next photo shown in its place
    assert "aaa-broken.jpg: not an image file" in grid.summary.toolTip()
    labels = [label.text() for label in grid.findChildren(QLabel) if label is not grid.summary]
    assert any(text.startswith("class_1<br>") and ">10 images<" in text for text in labels)
    assert any(text.startswith("no_photos_yet<br>") and "no images: left out" in text for text in labels)
    photos = grid.findChildren(QToolButton, "folderSample")
    assert len(photos) == 12 and len(setup.samples) == 12  # four of each class with photos
    assert {sample.picture.shape for c in grid.overview.classes for sample in c.samples} == {(30, 40, 3)}

    qtbot.waitUntil(lambda: view.pinned is not None)  # the first photo is pinned, as samples are
    assert view.pinned[1].startswith("class_0: ")
    window.document.replace(dataclasses.replace(TINY, input=InputSpec(3, 48)), None)
    qtbot.waitUntil(lambda: view.pinned[0].shape == (3, 48, 48), timeout=20_000)  # the network's input
    photos = grid.findChildren(QToolButton, "folderSample")  # the grid's again, at 48 px
    assert len(photos) == 12
    photos[5].click()  # the second class's second photo
    assert view.pinned[1].startswith("class_1: ") and view.pinned[0].shape == (3, 48, 48)

    setup.data_path.setText(str(tmp_path / "nowhere"))
    setup.load_samples()
    qtbot.waitUntil(lambda: setup.sample_error != "", timeout=10_000)
    assert "no such folder" in grid.summary.text() and not grid.findChildren(QToolButton, "folderSample")


@pytest.fixture
def imported_resnet18(tmp_path):
    """A torchvision resnet18 with seeded random weights, imported as the import command does."""
    from resnet_studio.nn.torchvision_import import import_torchvision

    torch.manual_seed(0)
    state = tmp_path / "resnet18-random.pth"
    torch.save(torchvision.models.resnet18().state_dict(), state)
    out = tmp_path / "imported" / "resnet18-imagenet1k_v1.pt"
    out.parent.mkdir()
    import_torchvision("torchvision:resnet18", out, from_path=state)
    return out


def test_start_from_lists_the_imported_networks_and_takes_one(window, qtbot, imported_resnet18):
    view = window.train_view
    choice = view.setup.init
    choice.import_folder = imported_resnet18.parent
    choice.refresh()
    qtbot.waitUntil(
        lambda: choice.findData(str(imported_resnet18)) >= 0 and not choice.listing, timeout=20_000
    )
    index = choice.findData(str(imported_resnet18))
    assert choice.itemText(index) == "resnet18 IMAGENET1K_V1"
    tip = choice.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Imported from torchvision's resnet18") and "1,000 classes, 224 px input" in tip
    names = [choice.itemText(i) for i in range(choice.count())]
    assert names[0] == "Random weights" and "resnet20-cifar10 (shipped)" in names
    assert names[-1] == "Checkpoint…"

    choice.setCurrentIndex(index)
    choice.activated.emit(index)  # what a click on the item sends
    qtbot.waitUntil(lambda: window.document.spec.name == "ResNet-18 (IMAGENET1K_V1)", timeout=20_000)
    assert window.document.spec.input.size == 224
    assert view.setup.config().init == str(imported_resnet18)


def test_an_import_saved_elsewhere_is_remembered_for_later_sessions(
    window, qtbot, imported_resnet18, tmp_path
):
    elsewhere = tmp_path / "elsewhere.pt"
    imported_resnet18.rename(elsewhere)
    window.train_view.setup.init.remember(str(elsewhere), "resnet18 IMAGENET1K_V1")
    later = MainWindow()  # the next session: it finds the file in the settings, not in the folder
    try:
        choice = later.train_view.setup.init
        choice.import_folder = tmp_path / "imported"  # empty now
        choice.refresh()
        qtbot.waitUntil(lambda: choice.findData(str(elsewhere)) >= 0 and not choice.listing, timeout=20_000)
        assert choice.itemText(choice.findData(str(elsewhere))) == "resnet18 IMAGENET1K_V1"
    finally:
        later.close()
        later.deleteLater()


def test_a_transfer_recipe_without_weights_says_to_choose_them(qtbot, tmp_path, monkeypatch):
    if "transfer-probe" not in RECIPES:  # the engine's recipe, where it has not landed yet
        monkeypatch.setitem(RECIPES, "transfer-probe", Recipe("transfer-probe", "Transfer: probe", "x", {}))
    w = MainWindow()
    try:
        w.document.replace(TINY, None)
        w.train_view.runs_root = tmp_path / "runs"
        w.show_workspace(Workspace.TRAIN)
        view, setup = w.train_view, w.train_view.setup
        recipes = [setup.recipe.itemData(i) for i in range(setup.recipe.count())]
        assert recipes == list(RECIPES) and "transfer-probe" in recipes
        index = recipes.index("transfer-probe")
        setup.recipe.setCurrentIndex(index)
        setup.recipe.activated.emit(index)
        assert not setup.recipe_note.isHidden() and setup.recipe_note.text() == TRANSFER_HINT
        qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
        assert not view.training and view.message.text() == TRANSFER_HINT

        setup.init.set_value("resnet20-cifar10")  # weights chosen: nothing is in the way
        assert setup.recipe_note.isHidden() and setup.start_problem() == ""
    finally:
        w.close()
        w.deleteLater()


def test_featurizing_events_show_images_per_second_then_the_heads_steps(window):
    view = window.train_view
    controller = view.controller
    controller.launched.emit(Launch(view.runs_root / "probe", "run 1"))
    controller._on_event(Started(None, "cpu", 2, 5, 10, 0, 1000, ("a", "b"), 200, 20))
    controller._on_event(Featurizing(50, 400, 123.4, 0.5))  # flipped copies: twice the images
    progress = view.progress
    assert progress.format() == "Featurising 50/400 images · 123 img/s"
    assert (progress.value(), progress.maximum()) == (50, 400)
    controller._on_event(Featurizing(400, 400, 130.0, 3.1))
    assert progress.format().startswith("Featurising 400/400 images")

    controller._on_event(Step(1, 1, 0.9, 0.5, 0.01, 5000.0, 3.2, 0.1))
    assert progress.format().startswith("epoch 1 · step 1/10 · 5000 img/s")
    assert (progress.value(), progress.maximum()) == (1, 10)
    controller._on_event(Evaluated(1, 5, 0.7, 0.75, 0.8, 0.6, 3.5, True))
    assert list(view.current.steps) == [1] and "val accuracy 75.0%" in view.message.text()


def test_data_memory_is_saved_with_the_project_and_read_back(window, tmp_path):
    setup = window.train_view.setup
    assert setup.data_memory.text().startswith("auto") and setup.config().data_memory is None
    setup.data_memory.setValue(2.0)
    assert setup.config().data_memory == 2 * GB
    project = tmp_path / "photos.rsproj"
    assert window.save_as(project)
    assert json.loads(project.read_text())["training"]["data_memory"] == 2 * GB

    setup.data_memory.setValue(0)
    assert window.open_file(project)
    assert setup.data_memory.value() == 2.0 and setup.config().data_memory == 2 * GB

    saved = json.loads(project.read_text())
    saved["training"]["data_memory"] = 3_000_000_000  # written by hand: kept to the byte
    project.write_text(json.dumps(saved))
    assert window.open_file(project)
    assert setup.data_memory.text() == "2.8 GB" and setup.config().data_memory == 3_000_000_000
    saved["training"]["data_memory"] = None
    project.write_text(json.dumps(saved))
    assert window.open_file(project)
    assert setup.data_memory.text().startswith("auto") and setup.config().data_memory is None
