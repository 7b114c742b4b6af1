"""Inspect > Embedding with real widgets and real mouse events on the plot: the validation images
and the dropped ones drawn by PCA (the core's points exactly) and t-SNE, a point hovered shows its
thumbnail, a click opens it in the Image tab, a lasso shows its images; a method whose package is
missing is greyed with how to install it. And attribution beside Grad-CAM in the Image tab."""

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QStandardItemModel
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from resnet_studio.data import demo
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection import attribution, embedding
from resnet_studio.inspection.embedding import inside_polygon, pca, penultimate_features, project
from resnet_studio.inspection.evaluate import validation_images
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.ui.common.background import wait_for_background
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.training_controller import TrainingController
from resnet_studio.ui.inspect import explain
from resnet_studio.ui.inspect.inspect_view import InspectView

IMAGES = 60


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_checkpoint):
    return tiny_checkpoint(tmp_path_factory.mktemp("embedding") / "tiny.pt")


@pytest.fixture(scope="module")
def data(demo_picture_folder):
    return demo_picture_folder(IMAGES)


@pytest.fixture
def view(qtbot, tmp_path, checkpoint, data):
    source = ModelSource(TrainingController(tmp_path / "runs"))
    source.use_checkpoint(str(checkpoint))
    inspect = InspectView(source)
    inspect.embedding.limit_val = IMAGES
    inspect.embedding.data.setText(data)
    inspect.resize(1280, 760)
    inspect.show()
    qtbot.addWidget(inspect)
    qtbot.waitExposed(inspect)
    inspect.tabs.setCurrentWidget(inspect.embedding)
    yield inspect
    wait_for_background()


def draw(embedding_view, qtbot, method: str) -> None:
    embedding_view.method.setCurrentIndex(embedding_view.method.findData(method))
    qtbot.mouseClick(embedding_view.draw_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            not embedding_view.busy and embedding_view.shown is not None and embedding_view.shown[1] == method
        ),
        timeout=60_000,
    )


def expected_features(checkpoint, data, extra: np.ndarray):
    loaded = model_from_checkpoint(str(checkpoint))
    images, _ = validation_images(loaded, data)
    both = torch.cat([images.images, torch.from_numpy(extra)])
    return penultimate_features(loaded.model, both, loaded.mean, loaded.std), images


def drag(widget, points: list[QPoint]) -> None:
    """The left button pressed at the first point, moved through the others, let go at the last:
    the mouse events a hand makes (moves carry the button held, as QTest's do not)."""
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(widget, left, none, points[0])
    for point in points[1:]:
        for step in range(1, 5):  # a hand moves in small steps
            previous = points[points.index(point) - 1]
            at = QPointF(previous) + (QPointF(point) - QPointF(previous)) * step / 4
            move = QMouseEvent(
                QEvent.Type.MouseMove, at, widget.mapToGlobal(at), Qt.MouseButton.NoButton, left, none
            )
            QTest.qWait(12)  # pyqtgraph takes at most 100 moves a second
            QApplication.sendEvent(widget, move)
    QTest.qWait(12)
    QTest.mouseRelease(widget, left, none, points[-1])


def hover(widget, point: QPoint) -> None:
    """The mouse moved over `widget` to `point`, no button held (after a pause: pyqtgraph takes at
    most 100 moves a second)."""
    QTest.qWait(20)
    at = QPointF(point)
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        at,
        widget.mapToGlobal(at),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, move)


def lonely_point(cloud) -> int:
    """The point farthest from any other on the screen: hovering it can mean no other."""
    pixels = np.array([[cloud.pixel_of(i).x(), cloud.pixel_of(i).y()] for i in range(len(cloud.points))])
    gaps = np.sqrt(((pixels[:, None] - pixels[None]) ** 2).sum(-1)) + np.eye(len(pixels)) * 1e9
    return int(gaps.min(1).argmax())


def test_pca_draws_every_image_and_hover_click_and_lasso_answer_the_mouse(
    view, qtbot, checkpoint, data, tmp_path
):
    mine = demo.generate(2, seed=11)[0]
    picture = tmp_path / "dropped.png"
    Image.fromarray(mine[1].transpose(1, 2, 0)).save(picture)
    # As Classify lists them: a pasted picture (kept), a file (read again), a file gone since.
    view.embedding.dropped = lambda: [
        ("pasted", mine[0]),
        (str(picture), None),
        (str(tmp_path / "gone.png"), None),
    ]
    embedding_view = view.embedding
    assert view.findChild(type(embedding_view), "embeddingView") is embedding_view
    draw(embedding_view, qtbot, "pca")

    features, images = expected_features(checkpoint, data, mine)
    assert np.array_equal(embedding_view.points, pca(features.vectors))  # the core's points exactly
    cloud = embedding_view.cloud
    assert cloud.points.shape == (IMAGES + 2, 2)
    assert embedding_view.data_in.dropped_names == ["pasted", "dropped.png"]
    names = [label.text for _, label in cloud.legend.items]
    assert names[-1] == "your images (predicted class)" and set(names[:-1]) <= set(demo.CLASSES)
    assert "PCA of 60 validation images and 2 of yours" in embedding_view.status.text()
    # The legend's strip on the right is free of points: it hides no cluster at the edge.
    legend_left = cloud.mapFromScene(cloud.legend.sceneBoundingRect().topLeft()).x()
    assert max(cloud.pixel_of(i).x() for i in range(len(cloud.points))) < legend_left

    # Hover: the thumbnail and what the image is, beside the cursor.
    index = lonely_point(cloud)
    hover(cloud.viewport(), cloud.pixel_of(index))
    qtbot.waitUntil(lambda: cloud.preview.isVisible(), timeout=5_000)
    assert cloud.preview.caption.text() == embedding_view.data_in.describe(index)
    assert not cloud.preview.picture.pixmap().isNull()
    hover(cloud.viewport(), QPoint(2, 2))  # off every point: the thumbnail goes
    qtbot.waitUntil(lambda: not cloud.preview.isVisible(), timeout=5_000)

    # Click: the image opens in the Image tab.
    QTest.mouseClick(
        cloud.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, cloud.pixel_of(index)
    )
    qtbot.waitUntil(lambda: view.tabs.currentIndex() == 0, timeout=5_000)
    assert np.array_equal(view.image, embedding_view.data_in.image(index))
    assert view.image_name == embedding_view.data_in.describe(index)
    view.tabs.setCurrentWidget(embedding_view)

    # Lasso: a free-hand polygon round the left half of the points, drawn with the left button.
    pixels = np.array([[cloud.pixel_of(i).x(), cloud.pixel_of(i).y()] for i in range(len(cloud.points))])
    middle = float(np.median(pixels[:, 0])) + 0.5
    top, bottom = pixels[:, 1].min() - 10, pixels[:, 1].max() + 10
    left = pixels[:, 0].min() - 10
    corners = [
        (left, top),
        (middle, top),
        (middle + 15, (top + bottom) / 2),
        (middle, bottom),
        (left, bottom),
    ]
    path = [QPoint(round(x), round(y)) for x, y in corners]
    drag(cloud.viewport(), [*path, path[0]])
    polygon = np.array([[p.x(), p.y()] for p in path], float)
    expected = np.nonzero(inside_polygon(pixels, polygon))[0]
    assert len(expected) >= IMAGES // 3
    qtbot.waitUntil(lambda: len(embedding_view.selection) > 0, timeout=5_000)
    assert embedding_view.selection.tolist() == expected.tolist()
    assert embedding_view.selection_grid.count() == len(expected)
    assert f"{len(expected)} images in the lasso" in embedding_view.selection_title.text()
    assert len(cloud.chosen.data) == len(expected)  # ringed on the plot
    # A grid image opens in the Image tab too.
    item = embedding_view.selection_grid.item(0)
    embedding_view.selection_grid.itemClicked.emit(item)
    assert np.array_equal(view.image, embedding_view.data_in.image(int(expected[0])))


def test_tsne_is_drawn_from_the_features_kept_and_other_weights_are_computed_again(
    view, qtbot, checkpoint, data
):
    embedding_view = view.embedding
    draw(embedding_view, qtbot, "pca")
    kept = embedding_view.data_in
    draw(embedding_view, qtbot, "tsne")
    assert embedding_view.data_in is kept  # no new pass: a projection only
    assert np.array_equal(embedding_view.points, project(kept.vectors, "tsne"))
    assert "t-SNE of 60 validation images" in embedding_view.status.text()
    view.source.use_checkpoint(str(checkpoint))  # other weights answer
    assert embedding_view.data_in is None
    draw(embedding_view, qtbot, "pca")
    assert embedding_view.data_in is not kept and np.array_equal(embedding_view.data_in.vectors, kept.vectors)


def test_a_method_whose_package_is_missing_is_greyed_with_how_to_install_it(qtbot, monkeypatch, tmp_path):
    monkeypatch.setitem(embedding.NEEDS, "umap", ("no_such_module_here", "umap-learn", "pip install it"))
    from resnet_studio.ui.inspect.embedding_view import EmbeddingView

    panel = EmbeddingView(ModelSource(TrainingController(tmp_path / "runs")))
    qtbot.addWidget(panel)
    model = panel.method.model()
    assert isinstance(model, QStandardItemModel)
    row = panel.method.findData("umap")
    assert not model.item(row).isEnabled() and "umap-learn" in model.item(row).toolTip()
    assert model.item(panel.method.findData("pca")).isEnabled()


def test_integrated_gradients_and_occlusion_beside_grad_cam(view, qtbot, checkpoint):
    if not attribution.captum_available():
        pytest.skip("Captum is not installed")
    image = demo.generate(1, seed=3)[0][0]
    view.set_image(image, "demo.png")
    qtbot.waitUntil(lambda: view.last_cam is not None and not view.busy, timeout=30_000)
    assert "Grad-CAM for" in view.caption.text()
    loaded = model_from_checkpoint(str(checkpoint))
    x = normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)
    target = int(np.argmax(view.analysis.probabilities))
    for method, title in (("integrated-gradients", "Integrated Gradients"), ("occlusion", "Occlusion")):
        row = view.explain_by.findData(method)
        view.explain_by.setCurrentIndex(row)
        view.explain_by.activated.emit(row)  # as a choice in the box does
        qtbot.waitUntil(
            lambda m=method: getattr(view.last_cam, "method", "") == m and not view.busy, timeout=60_000
        )
        assert f"{title} for" in view.caption.text() and attribution.NOTES[method] in view.caption.text()
        if method == "occlusion":
            expected = attribution.occlusion(loaded.model, x, target)
        else:
            baseline = attribution.black_baseline(x, loaded.mean, loaded.std)
            expected = attribution.integrated_gradients(loaded.model, x, target, baseline)
        assert np.allclose(view.last_cam.heatmap, expected.heatmap, atol=1e-4)
    # Another block changes nothing for them (they see the input), and Grad-CAM comes back.
    shown = view.last_cam
    view.block.setCurrentText("stem")
    assert view.last_cam is shown
    view.explain_by.setCurrentIndex(0)
    view.explain_by.activated.emit(0)
    qtbot.waitUntil(lambda: getattr(view.last_cam, "block", "") == "stem", timeout=30_000)
    assert "Grad-CAM for" in view.caption.text() and "at stem" in view.caption.text()


def test_without_captum_the_attribution_methods_are_greyed_with_the_install_hint(qtbot, monkeypatch):
    monkeypatch.setattr(explain, "captum_available", lambda: False)
    box = explain.method_box()
    model = box.model()
    assert model.item(0).isEnabled()  # Grad-CAM needs nothing more
    for row in (1, 2):
        assert not model.item(row).isEnabled()
        assert "resnet-studio[attribution]" in model.item(row).toolTip()
