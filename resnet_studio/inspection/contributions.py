"""Block contributions (Veit et al. 2016; Greff et al. 2017): for every residual block, the size of
what its branch adds relative to what flows past it on the shortcut, ||F(x)|| / ||shortcut(x)||.

Early in training the branches are large and noisy; as a residual network trains, most blocks
settle into small refinements of what passes them (ratios well below 1), the picture behind the
view of a residual network as an ensemble of shallow paths. Plain blocks have no shortcut and no
ratio. Measured in a separate no-grad pass in eval mode on a fixed batch, so that the numbers of
two steps compare and training tensors are never kept alive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from resnet_studio.data.sources import DataSet
from resnet_studio.data.transforms import batches, normalize
from resnet_studio.inspection.evaluate import bounded_batch
from resnet_studio.nn.blocks import pooled
from resnet_studio.nn.model import ResNet


def residual_block_names(model: ResNet) -> list[str]:
    """The blocks that have a shortcut, in network order."""
    return [name for name, block in model.named_blocks() if block.residual]


@torch.no_grad()
def block_contributions(model: ResNet, x: Tensor, per_image: bool = False) -> dict[str, Any]:
    """{block name: mean over the images of ||F(x)|| / ||shortcut(x)||} for the normalised batch
    `x` (with `per_image`, a CPU tensor of each image's ratio instead); each norm is taken over an
    image's whole output (channels, height, width)."""
    branch: dict[str, Tensor] = {}
    passed: dict[str, Tensor] = {}
    hooks = []
    for name, block in model.named_blocks():
        if not block.residual:
            continue
        hooks.append(
            block.branch_end().register_forward_hook(
                lambda _m, _i, out, name=name: branch.__setitem__(name, _norms(out))
            )
        )
        if block.downsample is None:  # the identity: what flows past is the block's input
            hooks.append(
                block.register_forward_pre_hook(
                    lambda m, inputs, name=name: passed.__setitem__(name, _norms(pooled(m.pool, inputs[0])))
                )
            )
        else:
            hooks.append(
                block.downsample.register_forward_hook(
                    lambda _m, _i, out, name=name: passed.__setitem__(name, _norms(out))
                )
            )
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    ratios = {name: (branch[name] / passed[name].clamp_min(1e-12)).cpu() for name in branch}
    return ratios if per_image else {name: float(r.mean()) for name, r in ratios.items()}


def _norms(t: Tensor) -> Tensor:
    return t.detach().float().flatten(1).norm(dim=1)


def contributions_on(
    model: ResNet,
    data: DataSet,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> dict[str, Any]:
    """The `contributions --json` object: every residual block's mean ratio over `data`, with
    the 10th and 90th percentiles over the images, in network order."""
    device = torch.device(device)
    per_image: dict[str, list[Tensor]] = {}
    for images, _ in batches(data, batch_size or bounded_batch(model, most=128)):
        x = normalize(images.to(device), mean, std, size=model.spec.input.size)
        for name, ratios in block_contributions(model, x, per_image=True).items():
            per_image.setdefault(name, []).append(ratios)
    rows = []
    for name, parts in per_image.items():
        ratios = torch.cat(parts)
        low, high = torch.quantile(ratios, torch.tensor([0.1, 0.9])).tolist()
        rows.append({"block": name, "ratio": float(ratios.mean()), "p10": low, "p90": high})
    return {"images": len(data), "blocks": rows}
