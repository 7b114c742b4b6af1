"""The whitening stem's filters: PCA of the training images' k x k patches.

Each eigenvector of the patch covariance, scaled by 1/sqrt(eigenvalue), is a filter whose output
has unit variance and is uncorrelated with the others; with each filter's negative beside it, the
ReLU that follows keeps all of the information. The network then starts from decorrelated inputs
and never spends a gradient on its first layer (Page 2018, "How to train your ResNet"; Jordan
2024, airbench).
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 5e-4  # added to the eigenvalues: the near-empty directions (noise) are not blown up
CHUNK_PATCHES = 400_000  # patches per pass: ~40 MB of float64 rows at 12 values each


def patch_covariance(images: Tensor, kernel: int, stride: int = 1) -> Tensor:
    """The (C k k) x (C k k) second-moment matrix of all k x k patches of normalised (N, C, H, W)
    images, accumulated in float64."""
    c = images.shape[1]
    dim = c * kernel * kernel
    total = torch.zeros(dim, dim, dtype=torch.float64)
    count = 0
    side = (images.shape[-1] - kernel) // stride + 1
    chunk = max(1, CHUNK_PATCHES // max(1, side * side))  # images per pass, whatever their size
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].float()
        patches = x.unfold(2, kernel, stride).unfold(3, kernel, stride)  # N, C, H', W', k, k
        flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, dim).double()
        total += flat.T @ flat
        count += len(flat)
    return total / max(count, 1)


def whitening_filters(images: Tensor, kernel: int, stride: int = 1, eps: float = EPS) -> Tensor:
    """2 C k^2 filters (out, C, k, k): the whitening directions, then their negatives."""
    c = images.shape[1]
    eigenvalues, eigenvectors = torch.linalg.eigh(patch_covariance(images, kernel, stride))
    filters = eigenvectors.T / torch.sqrt(eigenvalues.clamp(min=0) + eps)[:, None]
    filters = filters.reshape(-1, c, kernel, kernel).float()
    return torch.cat([filters, -filters])
