"""Where the images sit in the network's mind: the penultimate features (the pooled activations
the output layer reads, one vector per image) drawn in two dimensions, as TensorBoard's Embedding
Projector draws them.

- PCA: the two directions along which the features vary most (an exact SVD: immediate, and the
  same answer every time; the live panel of a training run draws it every epoch).
- t-SNE (van der Maaten and Hinton 2008, scikit-learn): keeps each image's nearest neighbours
  near; clusters show, but distances between clusters mean little.
- UMAP (McInnes et al. 2018, umap-learn, optional): like t-SNE, faster on many points, and keeps
  more of the large-scale layout.
Every projection is seeded: the same features give the same picture.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where features are computed: the studio's views import this
    from torch import Tensor

    from resnet_studio.data.stored import StoredImages
    from resnet_studio.nn.model import ResNet

Progress = Callable[[int, int], None]

METHODS = ("pca", "tsne", "umap")
TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
# The package each method needs beyond the default install, and how to get it.
NEEDS = {
    "tsne": ("sklearn", "scikit-learn", "pip install scikit-learn"),
    "umap": ("umap", "umap-learn", "pip install 'resnet-studio[embedding]' (umap-learn)"),
}


def unavailable(method: str) -> str | None:
    """Why `method` cannot run here (its package is not installed), or None when it can. Asks
    the import system where the package is, without importing it (umap takes seconds)."""
    if method not in METHODS:
        return f"unknown method {method!r}: choose pca, tsne or umap"
    need = NEEDS.get(method)
    if need is None or importlib.util.find_spec(need[0]) is not None:
        return None
    return f"{TITLES[method]} needs {need[1]}, which is not installed: {need[2]}"


@dataclass(frozen=True)
class Features:
    vectors: np.ndarray  # float32 (N, D): what the output layer reads for each image
    predictions: np.ndarray  # int64 (N,): the network's answer for each image


def penultimate_features(
    model: ResNet,
    images: Tensor | StoredImages,
    mean: list[float],
    std: list[float],
    *,
    size: int | None = None,
    batch_size: int = 250,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Features:
    """One pass over the uint8 `images` (N, C, H, W) in eval mode: each image's pooled features,
    the input of the output layer, and its predicted class. The model is left in the mode it was
    in; `cancelled` is asked between batches (raises `Cancelled`)."""
    import torch

    from resnet_studio.inspection.channels import eval_pass

    parts: list[Tensor] = []
    answers: list[Tensor] = []
    hook = model.head.fc.register_forward_pre_hook(lambda _m, inputs: parts.append(inputs[0].float().cpu()))
    try:
        for logits in eval_pass(
            model, images, mean, std, size=size, batch_size=batch_size, progress=progress, cancelled=cancelled
        ):
            answers.append(logits.argmax(1).cpu())
    finally:
        hook.remove()
    width = model.head.fc.in_features
    vectors = torch.cat(parts).numpy() if parts else np.zeros((0, width), np.float32)
    predictions = torch.cat(answers).numpy() if answers else np.zeros(0, np.int64)
    return Features(vectors.astype(np.float32, copy=False), predictions.astype(np.int64, copy=False))


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """The (N, D) features as float32 (N, 2) points by `method` ("pca", "tsne", "umap")."""
    why = unavailable(method)
    if why is not None:
        raise ValueError(why)
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if method == "pca" or n < 5:  # too few points for neighbours: their PCA is the honest picture
        return pca(x)
    if method == "tsne":
        return _tsne(x, seed)
    return _umap(x, seed)


def pca(features: np.ndarray) -> np.ndarray:
    """The projection on the two principal components, by an exact SVD of the centred features.
    Each axis's sign is fixed (its largest loading positive), as scikit-learn's `svd_flip` does:
    the same features always give the same picture, not a mirror image of it."""
    x = np.asarray(features, dtype=np.float64)
    points = np.zeros((len(x), 2), np.float32)
    if len(x) < 2 or x.shape[1] == 0:
        return points
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1, signs)[:, None]
    projected = centred @ axes.T
    points[:, : projected.shape[1]] = projected
    return points


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    # Perplexity must stay below the number of points; 30 is the usual choice for thousands.
    perplexity = float(min(30.0, (len(x) - 1) / 3))
    tsne = TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    return tsne.fit_transform(_leading_components(x, 50)).astype(np.float32)


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    import umap

    # A fixed random_state makes UMAP deterministic (and single-threaded).
    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(x), np.float32)


def _leading_components(x: np.ndarray, components: int) -> np.ndarray:
    """At most `components` principal components of `x` (unscaled): the usual first step of a
    t-SNE of wide features, which drops noise and halves the neighbour search."""
    if x.shape[1] <= components:
        return x - x.mean(axis=0)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:components].T


def align(previous: np.ndarray | None, current: np.ndarray) -> np.ndarray:
    """`current` (N, 2) turned (rotated or mirrored, not stretched) to lie as close as it can to
    `previous`, the same images' points drawn before (orthogonal Procrustes): a PCA redrawn each
    epoch then moves smoothly instead of flipping its axes when a component's sign changes."""
    if previous is None or previous.shape != current.shape or len(current) < 2:
        return current
    a = current - current.mean(axis=0)
    b = previous - previous.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T.astype(np.float64) @ b.astype(np.float64))
    return (a @ (u @ vt)).astype(np.float32)


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """bool (N,): which of the (N, 2) `points` lie inside the closed `polygon` (M, 2), by the
    even-odd rule (a lasso that crosses itself keeps what it encloses an odd number of times)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
    inside = np.zeros(len(points), bool)
    if len(polygon) < 3:
        return inside
    x, y = points[:, 0], points[:, 1]
    for (x1, y1), (x2, y2) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return inside


def sample_indices(count: int, wanted: int, seed: int = 0) -> np.ndarray:
    """`wanted` of `count` indices, drawn once by `seed` and sorted: the live panel's fixed
    sample, the same images every epoch (all of them when there are fewer)."""
    if count <= wanted:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, wanted, replace=False))


def embedding_dict(
    points: np.ndarray,
    labels: np.ndarray,
    features: Features,
    classes: list[str],
    method: str,
    source: str,
) -> dict:
    """The `embedding --json` object: the method, the data, and each image's point, true class
    and predicted class."""
    return {
        "method": method,
        "data": source,
        "images": len(points),
        "features": int(features.vectors.shape[1]),
        "classes": list(classes),
        "points": [
            {
                "index": i,
                "x": float(points[i, 0]),
                "y": float(points[i, 1]),
                "class": classes[int(labels[i])],
                "predicted": classes[int(features.predictions[i])],
            }
            for i in range(len(points))
        ],
    }
