"""Attribution beside Grad-CAM (Captum): Integrated Gradients keeps its completeness (the shares add
up to the score's change from the baseline), occlusion finds the one region a synthetic network
looks at, and both leave the model as it was."""

import numpy as np
import pytest
import torch
from torch import nn

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.data import demo
from resnet_studio.data.transforms import normalize
from resnet_studio.errors import UserError
from resnet_studio.inspection import attribution
from resnet_studio.inspection.attribution import black_baseline, integrated_gradients, occlusion
from resnet_studio.nn import build_model

# The test extra installs Captum; a bare install runs only the last test.
needs_captum = pytest.mark.skipif(not attribution.captum_available(), reason="Captum is not installed")
MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def small_network():
    spec = ArchitectureSpec(
        name="Small",
        input=InputSpec(3, 32),
        classes=10,
        stem=StemSpec(channels=8),
        stages=(StageSpec("basic", 1, 8, 1), StageSpec("basic", 1, 16, 2)),
    )
    torch.manual_seed(0)
    model = build_model(spec)
    for module in model.modules():  # BatchNorms of a trained network, not the identity
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return model.train()


def demo_input():
    image = torch.from_numpy(demo.generate(1, seed=5)[0])
    return normalize(image, MEAN, STD)


@needs_captum
def test_integrated_gradients_add_up_to_the_change_of_the_score():
    model, x = small_network(), demo_input()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    baseline = black_baseline(x, MEAN, STD)
    assert torch.allclose(baseline * 0.25 + 0.5, torch.zeros_like(x), atol=1e-6)  # black, unnormalised
    target = 3
    result = integrated_gradients(model, x, target, baseline, steps=128)
    assert model.training  # put back in its mode
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # weights untouched
    model.eval()
    with torch.no_grad():
        change = float(model(x)[0, target] - model(baseline)[0, target])
    assert result.values.shape == (3, 32, 32) and result.heatmap.shape == (32, 32)
    assert result.values.sum() == pytest.approx(change, rel=0.02, abs=1e-3)
    assert abs(result.delta) < 0.02 * max(1.0, abs(change))
    assert result.class_index == target and result.heatmap.min() >= 0 and result.heatmap.max() == 1.0


class Quadrant(nn.Module):
    """Class 0's score is the mean of the top-left 8x8 pixels (all channels); class 1's is 0."""

    def forward(self, x):
        score = x[:, :, :8, :8].mean(dim=(1, 2, 3))
        return torch.stack([score, torch.zeros_like(score)], dim=1)


@needs_captum
def test_occlusion_marks_only_the_region_the_score_depends_on():
    x = torch.ones(1, 3, 32, 32)
    result = occlusion(Quadrant(), x, 0, window=8, stride=8)
    # Hiding the top-left square (set to 0) takes the whole score (1); hiding any other square
    # takes nothing. Captum gives each pixel the mean drop of the windows that cover it.
    assert result.values.shape == (3, 32, 32)
    assert np.allclose(result.values[:, :8, :8], 1.0) and np.allclose(result.values[:, 8:, :], 0.0)
    assert np.allclose(result.values[:, :, 8:], 0.0)
    assert result.heatmap[:8, :8].min() == 1.0 and result.heatmap[8:].max() == 0.0
    assert occlusion(Quadrant(), x, 1, window=8, stride=8).heatmap.max() == 0.0  # class 1 sees nothing


@needs_captum
def test_occlusion_of_a_real_network_by_default_windows():
    model, x = small_network(), demo_input()
    result = occlusion(model, x, 2)
    assert model.training and result.method == "occlusion"
    assert result.heatmap.shape == (32, 32) and np.isfinite(result.values).all()
    # Overlapping windows (8 pixels, moved by 4): every pixel gets some value, and they vary.
    assert np.unique(result.values[0]).size > 10


def test_without_captum_the_methods_say_how_to_install_it(monkeypatch):
    monkeypatch.setattr(attribution, "captum_available", lambda: False)
    with pytest.raises(UserError, match=r"resnet-studio\[attribution\]"):
        occlusion(small_network(), demo_input(), 0)
