"""Grad-CAM, feature maps, per-image predictions of an evaluation, pictures that are not files."""

import numpy as np
import pytest
import torch

from resnet_studio.architecture import get_preset
from resnet_studio.data.images import load_image, load_image_with_preview
from resnet_studio.data.sources import DataSet
from resnet_studio.inspection.activations import feature_maps
from resnet_studio.inspection.classify import classify_picture
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.inspection.gradcam import first_layer_filters, grad_cam
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import LoadedModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(get_preset("resnet20")).eval()


def test_grad_cam_highlights_where_the_evidence_is(model):
    """An image whose only content is its top-left quadrant: Grad-CAM lights that, not the rest."""
    x = torch.randn(1, 3, 32, 32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cam = grad_cam(model, x, "stage1.block2", class_index=3)
    assert cam.heatmap.shape == (32, 32) and cam.heatmap.max() == pytest.approx(1.0)
    assert cam.class_index == 3 and cam.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing changed
    assert not model.training and all(p.grad is None for p in model.parameters())

    class Corner(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 4, 1)
            self.head = torch.nn.Linear(4, 2)

        def named_blocks(self):
            return []

        def forward(self, x):
            features = self.stem(x)
            return self.head(features.mean(dim=(2, 3)))

    corner = Corner()
    torch.nn.init.constant_(corner.stem.weight, 1.0)
    torch.nn.init.zeros_(corner.stem.bias)
    torch.nn.init.constant_(corner.head.weight, 1.0)
    image = torch.zeros(1, 3, 32, 32)
    image[:, :, :16, :16] = 1.0
    heat = grad_cam(corner, image, "stem", 0).heatmap
    assert heat[:14, :14].mean() > 0.5 and heat[18:, 18:].max() < 0.05
    with pytest.raises(ValueError, match="no block named"):
        grad_cam(model, x, "stage9.block1")


def test_feature_maps_of_every_block_and_first_layer_filters(model):
    maps, logits = feature_maps(model, torch.randn(1, 3, 32, 32))
    assert [name for name, _ in maps][:3] == ["stem", "stage1.block1", "stage1.block2"] and len(maps) == 10
    assert maps[-1][1].shape == (64, 8, 8) and logits.shape == (1, 10)
    assert first_layer_filters(model).shape == (16, 3, 3, 3)


def test_evaluation_keeps_per_image_predictions(model, demo_splits):
    data = DataSet(demo_splits.val.images[:100], demo_splits.val.labels[:100])
    result = evaluate(
        model, data, demo_splits.classes, demo_splits.mean, demo_splits.std, keep_predictions=True
    )
    assert len(result.labels) == 100 and result.confidence.min() > 0
    mistakes = result.mistakes()
    assert len(mistakes) == 100 - int(np.trace(result.confusion))
    assert list(result.confidence[mistakes]) == sorted(result.confidence[mistakes], reverse=True)
    i, j = np.unravel_index(np.argmax(result.confusion), result.confusion.shape)
    assert len(result.images_of(i, j)) == result.confusion[i, j]


def test_pictures_and_previews(model, demo_splits, tmp_path):
    from PIL import Image

    loaded = LoadedModel(
        model, get_preset("resnet20"), list(demo_splits.classes), demo_splits.mean, demo_splits.std
    )
    rgb = np.zeros((50, 80, 3), np.uint8)
    rgb[:, 40:] = 255
    prediction = classify_picture(loaded, rgb, "pasted")
    assert prediction.image.shape == (3, 32, 32) and len(prediction.top) == 5
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    image, preview = load_image_with_preview(tmp_path / "wide.png", 32, 3, preview=40)
    assert preview.shape == (25, 40, 3) and np.array_equal(image, load_image(tmp_path / "wide.png", 32, 3))
