"""The work behind Inspect > Embedding and the Train tab's live embedding, run on worker threads
(torch and scikit-learn are imported there): the features of a model's validation images and of
the images dropped on the window, and their 2-D projection."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Progress = Callable[[int, int], None]
MOST_DROPPED = 500  # images dropped on the window drawn beside the validation images, at most


@dataclass
class EmbeddedData:
    """One model's features of its validation images (and of the images dropped on the window)."""

    images: Any  # the validation images, uint8 (N, C, H, W): a tensor or StoredImages, read by index
    labels: np.ndarray  # int (N,)
    classes: list[str]
    source: str  # the data, as `--data` names it
    vectors: np.ndarray  # float32 (N + M, D): the validation images', then the dropped ones'
    predictions: np.ndarray  # int (N + M,)
    dropped: np.ndarray  # uint8 (M, C, H, W): the dropped images, at the network's input
    dropped_names: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the features' pass

    @property
    def count(self) -> int:
        return int(len(self.labels))

    def image(self, index: int) -> np.ndarray:
        """Point `index`'s uint8 (C, H, W) image: a validation image, or a dropped one after them."""
        if index < self.count:
            return self.images[index].numpy()  # a tensor, from memory or read from the disk cache
        return self.dropped[index - self.count]

    def describe(self, index: int) -> str:
        predicted = self.classes[int(self.predictions[index])]
        if index < self.count:
            true = self.classes[int(self.labels[index])]
            verdict = "right" if predicted == true else f"taken for a {predicted}"
            return f"validation image {index}: a {true}, {verdict}"
        return f"{self.dropped_names[index - self.count]}: taken for a {predicted}"


def features_of(
    load: Callable,
    data: str | None,
    limit: int,
    dropped: Sequence[tuple[str, np.ndarray | None]],
    progress: Progress,
    cancelled: Callable[[], bool],
) -> EmbeddedData:
    """The penultimate features of the first `limit` validation images of `data` (None: the data
    the model was trained on) and of the `dropped` images ((name, uint8 image or None: the file
    is read again)), from one pass of the job's own network."""
    import torch

    from resnet_studio.inspection.classify import one_thread
    from resnet_studio.inspection.embedding import penultimate_features
    from resnet_studio.inspection.evaluate import validation_images

    loaded = load()
    began = time.perf_counter()
    val, used = validation_images(loaded, data, limit_val=limit)
    mine, names = _dropped_images(loaded, dropped)
    with one_thread():  # beside a training run, one thread keeps both steady
        features = penultimate_features(
            loaded.model,
            val.images,
            loaded.mean,
            loaded.std,
            size=loaded.input_size,
            progress=progress,
            cancelled=cancelled,
        )
        extra = penultimate_features(
            loaded.model, torch.from_numpy(mine), loaded.mean, loaded.std, size=loaded.input_size
        )
    return EmbeddedData(
        val.images,
        val.labels.numpy(),
        list(loaded.classes),
        used,
        np.concatenate([features.vectors, extra.vectors]),
        np.concatenate([features.predictions, extra.predictions]),
        mine,
        names,
        time.perf_counter() - began,
    )


def _dropped_images(
    loaded: Any, dropped: Sequence[tuple[str, np.ndarray | None]]
) -> tuple[np.ndarray, list[str]]:
    """The dropped images at the network's input: those kept as they are, files read again
    (those that cannot be read any more, or of another shape, are left out)."""
    from pathlib import Path

    from resnet_studio.data.images import load_image_or_none

    size, channels = loaded.input_size, loaded.channels
    kept: list[np.ndarray] = []
    names: list[str] = []
    for name, image in list(dropped)[:MOST_DROPPED]:
        if image is None:
            image = load_image_or_none(name, loaded.preparation, channels)
        if image is not None and image.shape == (channels, size, size):
            kept.append(np.asarray(image, np.uint8))
            names.append(Path(name).name or name)
    empty = np.zeros((0, channels, size, size), np.uint8)
    return (np.stack(kept) if kept else empty), names


def projected(vectors: np.ndarray, method: str, seed: int = 0) -> tuple[np.ndarray, float]:
    """The features' 2-D points by `method`, and the seconds the projection took."""
    from resnet_studio.inspection.embedding import project

    began = time.perf_counter()
    points = project(vectors, method, seed=seed)
    return points, time.perf_counter() - began


LIVE_SAMPLE = 500  # validation images the Train tab's live embedding draws, the same each epoch


@dataclass
class LiveFrame:
    """The live embedding after one epoch: the PCA of a fixed sample's features."""

    epoch: int
    points: np.ndarray  # float32 (S, 2), turned to match the frame before
    labels: np.ndarray  # int (S,)
    predictions: np.ndarray  # int (S,)
    images: np.ndarray  # uint8 (S, C, H, W): the thumbnails hovering shows
    classes: list[str]
    seconds: float  # what it cost: the weights copied, the features' pass and the PCA


def live_frame(
    trainer: Any, epoch: int, previous: np.ndarray | None, sample: int = LIVE_SAMPLE
) -> LiveFrame | None:
    """A running `Trainer`'s weights as they are now on the same `sample` validation images each
    epoch (chosen once by a fixed seed), projected by PCA and turned to lie as the `previous`
    frame's points did. None before the run has its data."""
    import torch

    from resnet_studio.inspection.classify import one_thread
    from resnet_studio.inspection.embedding import align, pca, penultimate_features, sample_indices

    began = time.perf_counter()
    snapshot, data = trainer.snapshot(), trainer.data
    if snapshot is None or data is None or not len(data.val):
        return None
    index = torch.from_numpy(sample_indices(len(data.val), sample))
    images = data.val.images[index].cpu()
    with one_thread():  # beside the training run: one core's share, not a fight for both
        features = penultimate_features(
            snapshot.model, images, snapshot.mean, snapshot.std, size=snapshot.input_size
        )
    points = align(previous, pca(features.vectors))
    labels = data.val.labels[index].cpu().numpy()
    seconds = time.perf_counter() - began
    return LiveFrame(
        epoch, points, labels, features.predictions, images.numpy(), list(snapshot.classes), seconds
    )
