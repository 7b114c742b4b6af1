"""Inspect and Classify at 224 px: a ResNet-18 of ImageNet's layout with torchvision's preparation,
a non-square photo, the channel grid at 2,048 channels, Grad-CAM over the photo."""

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.architecture import get_preset
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import save_checkpoint
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.inspect.channel_grid import ChannelGrid
from resnet_studio.ui.inspect.pictures import VIEW, filter_tiles, photo_overlay

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
LONG = "a made-up class name far too long to fit beside its bar, number"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    spec = get_preset("resnet18")
    path = tmp_path_factory.mktemp("imagenet") / "resnet18.pt"
    save_checkpoint(
        path,
        {
            "architecture": spec.to_dict(),
            "model": build_model(spec).state_dict(),
            "classes": [f"{LONG} {i}" for i in range(1000)],
            "normalization": {"mean": MEAN, "std": STD},
            "preprocessing": {
                "resize": 256,
                "crop": 224,
                "interpolation": "bilinear",
                "mean": MEAN,
                "std": STD,
            },
        },
    )
    return path


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:251, 0:333]
    picture = np.stack([x * 0.7, y * 0.9, (x + y) * 0.4], axis=2) + rng.normal(0, 20, (251, 333, 3))
    path = tmp_path / "photo.png"
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def window(qtbot, checkpoint):
    w = MainWindow()
    w.resize(1280, 800)
    w.model_source.use_checkpoint(str(checkpoint))
    w.show()
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def test_inspect_a_photo_at_224_px(window, qtbot, photo):
    view = window.inspect_view
    window.show_workspace(Workspace.INSPECT)
    assert not view.filters_title.isVisible()  # no image yet: no heading over nothing
    view.open_image(str(photo))
    qtbot.waitUntil(lambda: view.busy == 0 and view.last_cam is not None, timeout=60_000)
    maps = view.analysis.maps
    assert list(maps)[:3] == ["stem.relu", "stem", "stage1.block1"]  # the stem before its max-pool too
    sides = sorted({m.shape[-1] for m in maps.values()}, reverse=True)
    assert sides == [112, 56, 28, 14, 7]
    # Grad-CAM over the whole photo at its own aspect ratio, not over the 224-px crop.
    pixmap = view.picture.pixmap()
    assert (pixmap.width(), pixmap.height()) == (VIEW, round(251 * VIEW / 333))
    left, top, right, bottom = view.analysis.box
    # Resized to 256 on the shorter side, cropped to 224: 16/256 of it cut at the top and bottom.
    assert (top, bottom) == pytest.approx((251 * 16 / 256, 251 * 240 / 256))
    assert right - left == pytest.approx(224 * 333 / int(256 * 333 / 251))  # 339 px wide, truncated
    assert "64 of 7x7, 3 colours" in view.filters_title.text() and view.filters_title.isVisible()
    # Another block: maps and Grad-CAM from the image's one forward pass, none run again.
    model = window.model_source.load().model
    forwards = []
    hook = model.register_forward_pre_hook(lambda *_: forwards.append(1))
    try:
        view.block.setCurrentText("stem.relu")
        qtbot.waitUntil(lambda: view.busy == 0 and view.last_cam.block == "stem.relu", timeout=60_000)
    finally:
        hook.remove()
    assert forwards == []
    grid = view.maps
    assert grid.count() == 64 and grid.channels.tile == 112  # 112-px maps shown at their own size
    assert view.last_cam.heatmap.shape == (224, 224)
    view.zoom_channel(0.5)  # the enlarged map zooms (and Fit shows it whole again)
    width = view.channel_plot.getViewBox().viewRange()[0]
    assert width[1] - width[0] < 112 * 0.75
    view.zoom_channel(0)
    width = view.channel_plot.getViewBox().viewRange()[0]
    assert width[1] - width[0] == pytest.approx(112, abs=1)


def test_classify_elides_long_class_names_and_names_a_few(window, qtbot, photo):
    view = window.classify_view
    view.classify_paths([str(photo)])
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    label = view.bar_labels[0]
    assert label.toolTip().startswith(LONG) and label.text() != label.toolTip() and label.text().endswith("…")
    known = view.detail.known.text()
    assert known.startswith("This model knows 1,000 classes (") and len(known) < 1200
    row_label = view.table.item(0, 2)
    assert row_label.text() == view.predictions[0].top[0][0]
    assert row_label.toolTip().startswith(row_label.text())  # the whole name, even when elided
    # Inspect This Image: the input Classify answered with, Grad-CAM over the whole photo.
    view.detail.inspect_button.click()
    inspect = window.inspect_view
    qtbot.waitUntil(lambda: inspect.busy == 0 and inspect.last_cam is not None, timeout=60_000)
    # A listed result keeps no input (a few kilobytes each): Inspect reads the file again, as
    # the checkpoint prepares it.
    from resnet_studio.data.images import load_image

    loaded = window.model_source.loader()()
    assert np.array_equal(inspect.analysis.image, load_image(photo, loaded.preparation, loaded.channels))
    height, width = inspect.analysis.photo.shape[:2]
    assert abs(width / height - 333 / 251) < 0.02  # the whole 333x251 photo, at its aspect ratio
    assert inspect.picture.pixmap().height() == round(height * VIEW / width)


def test_the_channel_grid_draws_only_the_tiles_in_view(qtbot):
    grid = ChannelGrid("featureMaps")
    qtbot.addWidget(grid)
    grid.resize(600, 400)
    grid.show()
    qtbot.waitExposed(grid)
    maps = np.random.default_rng(0).random((2048, 7, 7), dtype=np.float32)
    rows = []
    grid.currentRowChanged.connect(rows.append)
    grid.set_maps(maps, list(range(2048)))
    grid.setCurrentRow(1500)  # as Inspect does at once: the strongest channel, enlarged and in view
    qtbot.wait(50)
    assert rows == [1500] and grid.currentRow() == 1500
    assert grid.viewport().rect().intersects(grid.visualRect(grid.currentIndex()))
    assert grid.count() == 2048
    drawn = len(grid.channels._pixmaps)
    assert 0 < drawn < 200, drawn  # a few rows' worth, not 2,048 pictures
    assert grid.channels.pixmap(5).width() == 56  # 7-px maps at 8x, pixels kept sharp
    assert grid.item(5).toolTip().startswith("channel 5: mean")
    grid.zoom(1)
    assert grid.channels.tile == 64 and grid.iconSize().width() == 64 and grid.currentRow() == 1500


def test_grad_cam_over_the_photo_outlines_the_crop():
    photo = np.full((200, 300, 3), 200, np.uint8)
    heat = np.zeros((224, 224), np.float32)
    picture = photo_overlay(photo, heat, (50.0, 0.0, 250.0, 200.0), side=300)
    assert picture.shape == (200, 300, 3)
    assert tuple(picture[100, 50]) == (0, 0, 0)  # the outline, at the crop's left edge
    assert picture[100, 10].max() < 200 and tuple(picture[100, 150]) == (200, 200, 200)  # outside dimmed


def test_first_layer_filters_are_colour_patches():
    filters = np.zeros((2, 3, 7, 7), np.float32)
    filters[0, 0] = 1.0  # a red detector
    filters[1, 2, 3, 3] = -1.0  # a dark blue spot
    tiles = filter_tiles(filters, columns=2, side=7)
    assert tuple(tiles[0, 0]) == (255, 0, 0)
    assert tuple(tiles[3, 9 + 3]) == (255, 255, 0) and tuple(tiles[0, 9]) == (255, 255, 255)


def test_the_window_and_classify_agree_on_a_jpeg(qtbot, tmp_path, capsys):
    """Issue 27 item 10: a 32-px network answered a JPEG differently in the window (which asks for
    a preview, and JPEG's reduced-size decoding followed the preview's size) and from `classify`."""
    import json

    from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
    from resnet_studio.cli import main

    torch.manual_seed(1)
    spec = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))
    path = tmp_path / "tiny.pt"
    save_checkpoint(
        path,
        {
            "architecture": spec.to_dict(),
            "model": build_model(spec).state_dict(),
            "classes": [f"c{i}" for i in range(10)],
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        },
    )
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:300, 0:451]
    picture = np.stack([x * 0.5, y * 0.8, (x * y) % 256], axis=2) + rng.normal(0, 25, (300, 451, 3))
    jpeg = tmp_path / "chelsea.jpg"
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(jpeg, quality=90)
    window = MainWindow()
    window.model_source.use_checkpoint(str(path))
    window.show()
    try:
        drop(window, jpeg)
        qtbot.waitUntil(
            lambda: not window.classify_view.busy and bool(window.classify_view.predictions), timeout=30_000
        )
        shown = window.classify_view.predictions[0].top
    finally:
        window.document.undo_stack.setClean()
        window.close()
    capsys.readouterr()
    assert main(["classify", str(path), str(jpeg), "--top", "5", "--json"]) == 0
    printed = [(t["class"], t["probability"]) for t in json.loads(capsys.readouterr().out)[0]["top"]]
    assert [c for c, _ in shown] == [c for c, _ in printed]
    assert [p for _, p in shown] == pytest.approx([p for _, p in printed], abs=1e-6)


def drop(window, path) -> None:
    """`path` dropped on the window, as a file manager drops it."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(200, 200), *args))
    QApplication.sendEvent(window, QDragMoveEvent(QPoint(200, 200), *args))
    QApplication.sendEvent(window, QDropEvent(QPointF(200, 200), *args))
