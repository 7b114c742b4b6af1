"""Representation similarity (Kornblith et al. 2019): linear CKA between the outputs of blocks.

CKA compares two representations of the same images, whatever their shapes: 1 for the same
representation (also when one is a rotation or a rescaling of the other), near 0 for unrelated
ones. Between every pair of blocks of a network it shows which blocks compute alike: a residual
network's blocks within a stage refine one representation (a bright block structure); a plain
network's change it at every layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from resnet_studio.data.sources import DataSet
from resnet_studio.data.transforms import batches, normalize
from resnet_studio.inspection.activations import tap_points
from resnet_studio.inspection.evaluate import bounded_batch
from resnet_studio.nn.model import ResNet

MAX_FEATURES = 16_384  # numbers kept per image and block: a CIFAR network's 16x32x32, unpooled


def centered_gram(x: Tensor) -> Tensor:
    """The (n, n) Gram matrix of n examples (n, features), centred (float64)."""
    x = x.reshape(len(x), -1).double()
    x = x - x.mean(0, keepdim=True)
    return x @ x.T


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of two representations of the same n examples, each (n, ...)."""
    return cka_of_grams(centered_gram(x), centered_gram(y))


def cka_of_grams(k: Tensor, l: Tensor) -> float:  # noqa: E741 - the paper's names
    hsic = (k * l).sum()
    norm = torch.linalg.matrix_norm(k) * torch.linalg.matrix_norm(l)
    if not (torch.isfinite(hsic) and torch.isfinite(norm)):
        return float("nan")  # outputs that are not numbers: unknown, never a confident 0.0
    return float(hsic / norm) if norm > 0 else 0.0


@torch.no_grad()
def block_grams(
    model: ResNet,
    data: DataSet,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> tuple[list[str], list[Tensor]]:
    """The names of the stem and every block, and the centred Gram matrix of each one's output
    on `data` (eval mode, no gradients; only the (n, n) matrices are kept, not the outputs)."""
    device = torch.device(device)
    points = tap_points(model)
    outputs: dict[str, list[Tensor]] = {name: [] for name, _ in points}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: outputs[name].append(_bounded(out)))
        for name, module in points
    ]
    was_training = model.training
    model.eval()
    try:
        for images, _ in batches(data, batch_size or bounded_batch(model, most=128)):
            model(normalize(images.to(device), mean, std, size=model.spec.input.size))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    names = [name for name, _ in points]
    return names, [centered_gram(torch.cat(outputs.pop(name))) for name in names]


def _bounded(out: Tensor) -> Tensor:
    """A block's output for the Gram matrix, on the CPU: at most MAX_FEATURES numbers an image. A
    larger map (an ImageNet network's 56x56 stage) is average-pooled to fewer positions first, so
    that the outputs kept for a few hundred images stay in the hundreds of MB, not tens of GB."""
    channels, height, width = out.shape[1:]
    if channels * height * width > MAX_FEATURES:
        side = max(1, int((MAX_FEATURES / channels) ** 0.5))
        out = F.adaptive_avg_pool2d(out, (min(side, height), min(side, width)))
    return out.float().cpu()


@dataclass
class Similarity:
    rows: list[str]  # blocks of the first network
    columns: list[str]  # blocks of the second (the same network: a block x block map)
    cka: np.ndarray  # float (rows, columns)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": self.columns, "cka": self.cka.round(6).tolist()}


def similarity(first: tuple[list[str], list[Tensor]], second: tuple[list[str], list[Tensor]]) -> Similarity:
    """CKA between every block of one network and every block of another (or of itself), from
    their `block_grams` on the same images."""
    (rows, a), (columns, b) = first, second
    if a and b and a[0].shape != b[0].shape:
        raise ValueError("the two networks were probed on different numbers of images")
    matrix = np.array([[cka_of_grams(k, l) for l in b] for k in a])  # noqa: E741
    return Similarity(rows, columns, matrix)
