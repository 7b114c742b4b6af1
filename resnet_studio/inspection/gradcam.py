"""Grad-CAM (Selvaraju et al. 2017): where in the image a block's features drive a class score.

The block's output activations are weighted by the spatial mean of the class score's gradient
with respect to them, summed over channels, passed through ReLU and scaled up to the input size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_studio.inspection.activations import tap_points
from resnet_studio.nn.model import ResNet


@dataclass(frozen=True)
class GradCam:
    heatmap: np.ndarray  # float32 (H, W) in [0, 1], at the input size
    class_index: int  # the class explained
    probabilities: np.ndarray  # float32 (classes,), softmax of the logits
    block: str


def grad_cam(model: ResNet, x: Tensor, block: str, class_index: int | None = None) -> GradCam:
    """Grad-CAM of the normalised image `x` (1, C, H, W) at `block` ("stem", "stage2.block1"...)
    for `class_index` (the predicted class when None). The model's weights are not changed."""
    module = dict(tap_points(model)).get(block)
    if module is None:
        raise ValueError(f"no block named {block!r}")
    captured: list[Tensor] = []
    hook = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)  # gradients flow even through a frozen stem
            logits = model(x)
            features = captured[0]
            index = int(logits[0].argmax()) if class_index is None else int(class_index)
            (gradients,) = torch.autograd.grad(logits[0, index], features)
    finally:
        hook.remove()
        model.train(was_training)
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * features).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else cam).float().cpu().numpy()
    probabilities = torch.softmax(logits[0].detach().float(), 0).cpu().numpy()
    return GradCam(heatmap, index, probabilities, block)


def first_layer_filters(model: ResNet) -> np.ndarray:
    """The stem's convolution kernels as float32 (out, in, k, k)."""
    conv = cast(nn.Conv2d, model.stem.get_submodule("conv"))
    return conv.weight.detach().float().cpu().numpy()
