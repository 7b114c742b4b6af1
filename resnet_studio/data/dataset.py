"""A data set's images and labels, in memory or in the on-disk cache, and what is computed on them
whichever holds them: seeded subsets, a held-out part, per-channel statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from resnet_studio.data.stored import StoredImages, pick


@dataclass
class DataSet:
    images: Tensor | StoredImages  # uint8 (N, C, H, W): in memory, or read from the cache by index
    labels: Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, limit: int | None, seed: int) -> DataSet:
        """A seeded random subset of at most `limit` items (all of them when `limit` is None)."""
        if limit is None or limit >= len(self):
            return self
        keep = torch.from_numpy(balanced_pick(self.labels.numpy(), limit, seed))
        return DataSet(pick(self.images, keep), self.labels[keep])

    def hold_out(self, fraction: float, seed: int) -> tuple[DataSet, DataSet]:
        """(rest, held out): `fraction` of every class held out at random with a fixed seed, as
        He et al.'s 45k/5k split of CIFAR-10's training set."""
        held = balanced_pick(self.labels.numpy(), round(len(self) * fraction), seed)
        mask = torch.ones(len(self), dtype=torch.bool)
        mask[torch.from_numpy(held)] = False
        rest = torch.nonzero(mask).flatten()
        out = torch.nonzero(~mask).flatten()
        return DataSet(pick(self.images, rest), self.labels[rest]), DataSet(
            pick(self.images, out), self.labels[out]
        )


def balanced_pick(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of `limit` items chosen at random, classes as even as the data allows:
    `--limit-train 5000` on CIFAR-10 keeps 500 of each class."""
    order = np.random.default_rng(seed).permutation(len(labels))
    shuffled = labels[order]
    rank = np.empty(len(labels), dtype=np.int64)  # how many of its class came before it
    for label in np.unique(shuffled):
        where = np.nonzero(shuffled == label)[0]
        rank[where] = np.arange(len(where))
    return np.sort(order[np.argsort(rank, kind="stable")[:limit]])


STATS_CHUNK_VALUES = 2**23  # pixels x channels summed at a time: 64 MB as float64


def channel_stats(images: Tensor | StoredImages, sample: int = 10_000) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] over (up to `sample` of) the images, read a chunk at a
    time (the whole sample as float64 would be 12 GB at 224 px). Sums of integer pixel values are
    exact in float64, and the variance is formed from them in Python's integers: the same figures
    however the images are chunked or stored."""
    n, c = len(images), int(images.shape[1])
    step = max(1, n // sample)
    chosen = torch.arange(0, n, step)
    per_image = max(1, int(np.prod(images.shape[1:])))
    sums, squares, count = [0] * c, [0] * c, 0
    for part in chosen.split(max(1, STATS_CHUNK_VALUES // per_image)):
        x = images[part].to(torch.float64)
        sums = [a + int(b) for a, b in zip(sums, x.sum(dim=(0, 2, 3)).tolist(), strict=True)]
        squares = [a + int(b) for a, b in zip(squares, x.square().sum(dim=(0, 2, 3)).tolist(), strict=True)]
        count += x.numel() // c
    count = max(count, 1)
    mean = [s / count / 255 for s in sums]
    variance = [(q * count - s * s) / (count * max(count - 1, 1)) for s, q in zip(sums, squares, strict=True)]
    std = [max(float(np.sqrt(max(v, 0.0))) / 255, 1e-3) for v in variance]
    return [round(m, 6) for m in mean], [round(s, 6) for s in std]
