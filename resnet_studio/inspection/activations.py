"""Activation taps: the output of the stem and of every block for one image, from a separate
no-grad pass in eval mode. Never taken from training tensors: a slice of a batch keeps the whole
batch (and its autograd graph) alive."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from resnet_studio.nn.model import ResNet

FeatureMaps = tuple[tuple[str, np.ndarray], ...]  # (block name, float32 (channels, h, w))


PREPOOL = "stem.relu"  # an ImageNet stem before its max-pool: the 112-px maps of a 224-px image


def tap_points(model: ResNet, before_pool: bool = False) -> list[tuple[str, torch.nn.Module]]:
    """The stem and every block, in network order; with `before_pool`, a stem that max-pools is
    also tapped before it (Inspect shows its twice-larger maps)."""
    pools = before_pool and hasattr(model.stem, "maxpool")
    first = [(PREPOOL, model.stem.get_submodule("relu"))] if pools else []
    return [*first, ("stem", model.stem), *model.named_blocks()]


@torch.no_grad()
def feature_maps(model: ResNet, x: Tensor, max_channels: int | None = None) -> tuple[FeatureMaps, Tensor]:
    """Block outputs for the single normalised image `x` (1, C, H, W), and the logits.

    The model runs in eval mode (BatchNorm uses its running statistics and changes nothing) and is
    put back in the mode it was in. At most `max_channels` channels of each block are kept.
    """
    outputs: list[tuple[str, Tensor]] = []
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs.append((name, out)))
        for name, module in tap_points(model)
    ]
    was_training = model.training
    model.eval()
    try:
        logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    maps = tuple(
        (name, out[0, :max_channels].float().cpu().numpy().astype(np.float32, copy=False))
        for name, out in outputs
    )
    return maps, logits.float().cpu()
