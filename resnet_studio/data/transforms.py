"""Batched augmentation and normalisation on uint8 tensors, on whatever device holds the batch.

One call per batch instead of one per image: the standard CIFAR augmentation (4-pixel pad,
random 32x32 crop, horizontal flip) costs a few gathers, so the CPU spends its time on the network.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from resnet_studio.data.sources import DataSet

PaddingMode = Literal["zeros", "reflect"]


def random_crop_flip(
    x: Tensor, generator: torch.Generator, pad: int = 4, flip: bool = True, fill: PaddingMode = "zeros"
) -> Tensor:
    """Pad by `pad` pixels, crop back to the original size at a random offset, flip half the images.

    `fill` "zeros" pads with black (He et al. 2015); "reflect" mirrors the border, so a shifted
    crop shows more of the scene instead of a black band (the fast CIFAR-10 recipes' choice).
    The random numbers come from `generator` (on the CPU), so a run resumes with the same
    augmentation it would have had uninterrupted.
    """
    n, c, h, w = x.shape
    if pad:
        offsets = _to(torch.randint(0, 2 * pad + 1, (2, n), generator=generator), x.device)
        if fill == "reflect" and pad >= min(h, w):
            raise ValueError(f"reflect padding of {pad} px needs images larger than {h}x{w}")
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect" if fill == "reflect" else "constant")
        rows = (offsets[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (offsets[1, :, None] + torch.arange(w, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        channel = torch.arange(c, device=x.device)[None, :, None, None]
        x = padded[batch, channel, rows, cols]
    if flip:
        mask = _to(torch.rand(n, generator=generator) < 0.5, x.device)
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x


def _to(t: Tensor, device: torch.device) -> Tensor:
    """A small CPU tensor to `device`. From pageable memory CUDA synchronises the stream before
    copying, stalling the queued work of the step; through pinned memory the copy is asynchronous."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


@functools.lru_cache(maxsize=16)
def _constants(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[Tensor, Tensor]:
    """Normalisation constants, made once per device instead of copied every step."""
    return (
        torch.tensor(mean, device=device).view(1, -1, 1, 1),
        torch.tensor(std, device=device).view(1, -1, 1, 1),
    )


def normalize(
    x: Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    size: int | None = None,
    channels_last: bool = False,
) -> Tensor:
    """uint8 (N, C, H, W) -> float32 standardised per channel; resized to `size` when it differs."""
    x = x.float().div_(255)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    m, s = _constants(tuple(mean), tuple(std), x.device)
    x = x.sub_(m).div_(s)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffled order of epoch `epoch`: a pure function of (seed, epoch), so resuming needs no
    saved sampler state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def batches(
    data: DataSet,
    batch_size: int,
    order: Tensor | None = None,
    drop_last: bool = False,
    start: int = 0,
) -> Iterator[tuple[Tensor, Tensor]]:
    """(images, labels) batches in `order` (or in storage order), starting at batch `start`."""
    n = len(data) if order is None else len(order)  # a shard of the order covers part of the data
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for i in range(start * batch_size, stop, batch_size):
        if order is None:
            yield data.images[i : i + batch_size], data.labels[i : i + batch_size]
        else:
            idx = order[i : i + batch_size]
            yield data.images[idx], data.labels[idx]
