"""Grad-CAM (Selvaraju et al. 2017): where in the image a block's features drive a class score.

The block's output activations are weighted by the spatial mean of the class score's gradient
with respect to them, summed over channels, passed through ReLU and scaled up to the input size.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_studio.inspection.activations import FeatureMaps, tap_points
from resnet_studio.nn.model import ResNet


@dataclass(frozen=True)
class GradCam:
    heatmap: np.ndarray  # float32 (H, W) in [0, 1], at the input size
    class_index: int  # the class explained
    probabilities: np.ndarray  # float32 (classes,), softmax of the logits
    block: str


class CamSession:
    """One image's forward pass, kept with its autograd graph: every tap's output (the stem's
    before its max-pool too) and the logits. Inspect draws every block's maps from it, and another
    block's (or class's) Grad-CAM then costs only the backward pass from the score to that block,
    no new forward pass. The model's weights are not changed; it is left in the mode it was in."""

    def __init__(self, model: ResNet, x: Tensor) -> None:
        captured: dict[str, Tensor] = {}
        hooks = [
            module.register_forward_hook(lambda _m, _i, out, name=name: captured.setdefault(name, out))
            for name, module in tap_points(model, before_pool=True)
        ]
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                self.x = x.detach().requires_grad_(True)  # gradients flow even through a frozen stem
                self.logits = model(self.x)
        finally:
            for hook in hooks:
                hook.remove()
            model.train(was_training)
        self.features = captured
        self.probabilities = torch.softmax(self.logits[0].detach().float(), 0).cpu().numpy()
        self._lock = threading.Lock()  # one backward pass at a time through the shared graph

    def maps(self, max_channels: int | None = None) -> FeatureMaps:
        """Every tap's output as float32 (channels, h, w), in network order."""
        return tuple(
            (name, out[0, :max_channels].detach().float().cpu().numpy().astype(np.float32, copy=False))
            for name, out in self.features.items()
        )

    def cam(self, block: str, class_index: int | None = None) -> GradCam:
        """Grad-CAM at `block` for `class_index` (the predicted class when None)."""
        features = self.features.get(block)
        if features is None:
            raise ValueError(f"no block named {block!r}")
        index = int(self.logits[0].argmax()) if class_index is None else int(class_index)
        with self._lock, torch.enable_grad():
            (gradients,) = torch.autograd.grad(self.logits[0, index], features, retain_graph=True)
        weights = gradients.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * features.detach()).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=self.x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        peak = float(cam.max())
        heatmap = (cam / peak if peak > 0 else cam).float().cpu().numpy()
        return GradCam(heatmap, index, self.probabilities, block)


def grad_cam(model: ResNet, x: Tensor, block: str, class_index: int | None = None) -> GradCam:
    """Grad-CAM of the normalised image `x` (1, C, H, W) at `block` ("stem", "stage2.block1"...)
    for `class_index` (the predicted class when None). The model's weights are not changed."""
    if block not in dict(tap_points(model, before_pool=True)):
        raise ValueError(f"no block named {block!r}")
    return CamSession(model, x).cam(block, class_index)


def first_layer_filters(model: ResNet) -> np.ndarray:
    """The stem's convolution kernels as float32 (out, in, k, k)."""
    conv = cast(nn.Conv2d, model.stem.get_submodule("conv"))
    return conv.weight.detach().float().cpu().numpy()
