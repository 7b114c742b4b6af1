"""Data sources (`--data SPEC`): demo, cifar10[:ROOT], cifar100[:ROOT], folder:PATH.

Every source is decoded once into uint8 tensors held in memory (N, C, H, W): small image data sets
fit easily, and batches then cost one indexing operation instead of a Python loop per image. A
folder whose decoded images exceed the memory budget is decoded once into an on-disk cache
instead, read by index (`placement.py`).

A folder's training images may be stored with a margin for random resized crops (`train_margin`,
networks of 64 px and more): R x R, the shorter side resized to R and the centre square kept; its
validation images are always what evaluation sees (resized to R, centre crop C). `eval_view` turns
the first into the second; `split_preparations` says how each split's files are decoded.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from torch import Tensor

import resnet_studio.data.demo as demo
from resnet_studio.data.augmentation import eval_view
from resnet_studio.data.cache import Progress
from resnet_studio.data.dataset import DataSet, channel_stats
from resnet_studio.data.folder_listing import VAL_FOLDER_NAMES, class_names, listing, split_files, take_files
from resnet_studio.data.images import Size, load_image_or_none
from resnet_studio.data.placement import decode_splits
from resnet_studio.data.preprocessing import Preprocessing, studio_preparation
from resnet_studio.data.stored import StoredImages, pick
from resnet_studio.data.worker_pool import broke, decoding_pool, end_workers, worker_count
from resnet_studio.errors import UserError

log = logging.getLogger(__name__)

DEMO_TRAIN, DEMO_VAL = 20_000, 2_000


@dataclass
class DataSplits:
    source: str
    classes: list[str]
    train: DataSet
    val: DataSet
    mean: list[float] = field(default_factory=list)  # per channel, in [0, 1]
    std: list[float] = field(default_factory=list)
    skipped: int = 0  # unreadable files left out (folder sources)
    empty_classes: tuple[str, ...] = ()  # class folders without a single image, left out
    # How a folder's files were prepared (None: a source at its own resolution, or the studio's
    # preparation at the size asked for); a run's checkpoint records it as its evaluation transform.
    preparation: Preprocessing | None = None
    # The side of the evaluation view when the training images are stored larger, with a margin
    # for random resized crops (None: stored as the network sees them).
    crop: int | None = None
    storage: str = ""  # where a folder's decoded images are held, and why (a note of the run)

    @overload
    def train_eval_view(self, images: Tensor) -> Tensor: ...
    @overload
    def train_eval_view(self, images: StoredImages | None = None) -> Tensor | StoredImages: ...
    def train_eval_view(self, images: Tensor | StoredImages | None = None) -> Tensor | StoredImages:
        """Training images (all of them by default) as evaluation sees them: their centre crop
        when they are stored with a margin, else themselves. What statistics, a whitening stem,
        previews and a transfer probe's features are taken from."""
        return eval_view(self.train.images if images is None else images, self.crop)

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "resnet-studio" / "data"


def parse_source(spec: str) -> tuple[str, str | None]:
    """'cifar10:/data' -> ('cifar10', '/data'); checks the kind."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in ("demo", "cifar10", "cifar100", "folder"):
        raise UserError(
            f"--data {spec!r}: unknown source; use demo, cifar10[:ROOT], cifar100[:ROOT] or folder:PATH"
        )
    if kind == "folder" and not arg:
        raise UserError("--data folder:PATH needs a path, e.g. folder:~/pictures/flowers")
    return kind, (os.path.expanduser(arg) if arg else None)


def load_data(
    spec: str,
    *,
    image_size: int | Preprocessing = 32,
    channels: int = 3,
    limit_train: int | None = None,
    limit_val: int | None = None,
    seed: int = 0,
    download: bool = False,
    val_fraction: float = 0.0,
    train_margin: bool = False,
    data_memory: int | None = None,
    progress: Progress | None = None,
    prepares: bool = True,
) -> DataSplits:
    """Load a data source into memory; a problem of the user's making raises `UserError`.

    `val_fraction` > 0 validates on that part of the training set, held out, instead of the
    source's own validation or test images (which are then not read at all where it can be
    helped): tuning on it keeps the test set for the one figure reported at the end.

    `train_margin` with a `Preprocessing` whose resize exceeds its crop stores a folder's training
    images at resize x resize (`split_preparations`); other sources keep their own resolution.

    A folder whose decoded images need more than `data_memory` bytes (None: a quarter of the
    machine's memory) is read from an on-disk cache, prepared with `progress` by this process or,
    unless `prepares`, by another one (torchrun's rank 0) that this one waits for."""
    kind, arg = parse_source(spec)
    for option, limit in (("--limit-train", limit_train), ("--limit-val", limit_val)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            # subset() would take a negative limit as "all but N" (a slice's end)
            raise UserError(f"{option}: must be a positive integer, got {limit!r}")
    if kind == "demo":
        splits = _demo()
    elif kind in ("cifar10", "cifar100"):
        splits = _cifar(kind, Path(arg) if arg else default_root(), download)
    else:
        train_size, val_size = split_preparations(image_size, train_margin)
        splits = _folder(
            Path(arg or ""),
            (train_size, val_size),
            channels,
            limit_train,
            limit_val,
            seed,
            skip_val=val_fraction > 0,
            placing={"data_memory": data_memory, "progress": progress, "prepares": prepares},
        )
        splits.preparation = image_size if isinstance(image_size, Preprocessing) else None
        if isinstance(val_size, Preprocessing) and train_size != val_size:
            splits.crop = val_size.crop  # training images stored with a margin around it
    splits.source = spec
    splits.train = splits.train.subset(limit_train, seed)
    if val_fraction > 0:
        splits.train, held = splits.train.hold_out(val_fraction, seed + 2)
        # validated as any validation image is: its evaluation view, not its margin
        view = splits.train_eval_view(held.images)
        splits.val = DataSet(view.contiguous() if isinstance(view, Tensor) else view, held.labels)
    splits.val = splits.val.subset(limit_val, seed + 1)
    if len(splits.train) == 0:
        raise UserError(f"--data {spec}: no training images")
    if len(splits.val) == 0:
        raise UserError(f"--data {spec}: no validation images")
    if splits.channels != channels:
        raise UserError(
            f"--data {spec}: images have {splits.channels} channels but the architecture "
            f"expects {channels} (input.channels)"
        )
    splits.mean, splits.std = channel_stats(splits.train_eval_view())
    return splits


def split_preparations(size: Size, train_margin: bool = False) -> tuple[Size, Size]:
    """(training, validation) preparations of a folder's files: both `size`, or with
    `train_margin` and a `size` that resizes beyond its crop, the training split's square of the
    resized side (`Preprocessing.with_margin`). Each split is decoded file by file with
    `load_image_or_none(path, preparation, channels)`, whatever stores the result (memory, a cache)."""
    if train_margin and isinstance(size, Preprocessing) and size.resize > size.crop:
        return size.with_margin(), size
    return size, size


def preview_samples(
    spec: str, count: int = 12, *, image_size: Size = 32, channels: int = 3, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """A few training images, uint8 (N, C, H, W), and their class names: the setup panel's preview.
    Demo images are generated on the spot; other sources load (or decode) only what they need.
    A folder's are prepared as evaluation sees them (for a 64-px network or larger: resized with a
    margin, centre crop), since a preview may be pinned and shown to the network."""
    kind, _ = parse_source(spec)
    if kind == "demo":
        images, labels = demo.generate(count, seed=seed + 11)
        classes: Sequence[str] = demo.CLASSES
    else:
        if isinstance(image_size, int):
            image_size = studio_preparation(image_size)
        splits = load_data(
            spec, image_size=image_size, channels=channels, limit_train=count, limit_val=1, seed=seed
        )
        images, labels, classes = splits.train.images.numpy(), splits.train.labels.numpy(), splits.classes
    return images, [classes[int(label)] for label in labels]


@functools.lru_cache(maxsize=1)
def _demo_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generated once per process (about 2 s); callers never write into these arrays."""
    return (*demo.generate(DEMO_TRAIN, seed=1), *demo.generate(DEMO_VAL, seed=2))


def _demo() -> DataSplits:
    train_x, train_y, val_x, val_y = _demo_arrays()
    return DataSplits(
        source="demo",
        classes=list(demo.CLASSES),
        train=DataSet(torch.from_numpy(train_x), torch.from_numpy(train_y)),
        val=DataSet(torch.from_numpy(val_x), torch.from_numpy(val_y)),
    )


def _cifar(kind: str, root: Path, download: bool) -> DataSplits:
    from torchvision import datasets

    cls = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
    folder = root / cls.base_folder
    name = "CIFAR-10" if kind == "cifar10" else "CIFAR-100"
    try:
        train = cls(str(root), train=True, download=download)
        val = cls(str(root), train=False, download=False)
    except RuntimeError:
        raise UserError(
            f"{name} not found in {folder}: `resnet-studio train --data {kind} --download` fetches "
            f"it (the studio: Setup's Download Now), or put the python version of the data set "
            f"({cls.filename}, extracted) there, or name other images with --data"
        ) from None
    except OSError as exc:
        raise UserError(
            f"{name}: download or read failed ({exc}); put the extracted {cls.filename} in {root}"
        ) from None

    def to_set(ds: datasets.CIFAR10) -> DataSet:
        images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
        return DataSet(images, torch.tensor(ds.targets, dtype=torch.int64))

    return DataSplits(kind, list(train.classes), to_set(train), to_set(val))


def _folder(
    root: Path,
    sizes: tuple[Size, Size],  # (training, validation) preparations
    channels: int,
    limit_train: int | None,
    limit_val: int | None,
    seed: int,
    skip_val: bool = False,
    placing: dict[str, Any] | None = None,
) -> DataSplits:
    if not root.is_dir():
        raise UserError(f"--data folder:{root}: no such folder")
    train_dir = root / "train"
    val_dir = next((root / n for n in VAL_FOLDER_NAMES if (root / n).is_dir()), None)
    # train/ holding class folders is the train/val layout, with or without val/ beside it; a
    # train/ of images only is a class named "train" in a PATH/<class>/* layout.
    layout = train_dir if train_dir.is_dir() and class_names(train_dir) else root
    classes = class_names(layout)
    train_files = listing(layout, classes)
    if layout != root and val_dir is None:
        others = [name for name in class_names(root) if name != "train"]
        log.warning(
            "folder:%s: no val/, validation/ or test/ beside train/: validating on 10%% of train/%s",
            root,
            f" (folders beside it not used: {', '.join(others)})" if others else "",
        )
    # A class folder without images is no class: left out (and said), never a class never seen.
    present = {label for _, label in train_files}
    empty = tuple(name for label, name in enumerate(classes) if label not in present)
    classes, train_files = _without(classes, train_files, empty)
    if layout != root and val_dir is not None:
        val_files = listing(val_dir, classes)
    else:
        train_files, val_files = split_files(train_files, seed)
    _need_two_classes(root, layout, classes, empty, ())
    # Decode only what the limits keep: a 5,000-image slice of a large folder loads in seconds.
    listed = np.bincount([label for _, label in train_files], minlength=len(classes))
    train_files = take_files(train_files, limit_train, seed)
    tried = np.bincount([label for _, label in train_files], minlength=len(classes))
    val_files = [] if skip_val else take_files(val_files, limit_val, seed + 1)
    selection = {"limits": [limit_train, limit_val], "seed": seed}
    parts = {"train": (train_files, sizes[0]), "val": (val_files, sizes[1])}
    placed, storage = decode_splits(root, parts, channels, _decode, selection=selection, **(placing or {}))
    (train, bad_train), (val, bad_val) = placed["train"], placed["val"]
    skipped = bad_train + bad_val
    if skipped:
        log.warning("folder:%s: skipped %d unreadable files", root, skipped)
    # A class whose every training file was tried and none could be read is no class either.
    decoded = np.bincount(train.labels.numpy(), minlength=len(classes))
    unreadable = tuple(
        name
        for label, name in enumerate(classes)
        if decoded[label] == 0 and tried[label] == listed[label] > 0
    )
    if unreadable:
        log.warning(
            "folder:%s: left out %d class folders whose images are all unreadable: %s",
            root,
            len(unreadable),
            ", ".join(unreadable),
        )
        keep = [label for label, name in enumerate(classes) if name not in unreadable]
        train, val = _relabelled(train, keep, len(classes)), _relabelled(val, keep, len(classes))
        classes = [classes[label] for label in keep]
        _need_two_classes(root, layout, classes, empty, unreadable)
    return DataSplits(
        f"folder:{root}",
        classes,
        train,
        val,
        skipped=skipped,
        empty_classes=empty + unreadable,
        storage=storage,
    )


def _need_two_classes(
    root: Path, layout: Path, classes: list[str], empty: Sequence[str], unreadable: Sequence[str]
) -> None:
    if len(classes) >= 2:
        return
    found = f"found {len(classes)}{f' ({classes[0]})' if classes else ''}"
    without = f"; without images: {', '.join(empty)}" if empty else ""
    if unreadable:
        without += f"; with only unreadable images: {', '.join(unreadable)}"
    if layout != root:  # the user has the train/ layout: say what it lacks, not what it is
        raise UserError(
            f"--data folder:{root}: train/ needs at least 2 class folders with images, {found}{without}"
        )
    raise UserError(
        f"--data folder:{root}: needs at least 2 class folders with images, {found} (expected "
        f"PATH/<class>/* or PATH/train/<class>/* with PATH/val/<class>/*){without}"
    )


def _without(
    classes: list[str], files: list[tuple[Path, int]], dropped: Sequence[str]
) -> tuple[list[str], list[tuple[Path, int]]]:
    """`classes` less `dropped`, and `files` relabelled to match (none of them in a dropped class)."""
    if not dropped:
        return classes, files
    keep = [name for name in classes if name not in dropped]
    relabel = {classes.index(name): new for new, name in enumerate(keep)}
    return keep, [(path, relabel[label]) for path, label in files if label in relabel]


def _relabelled(data: DataSet, keep: list[int], count: int) -> DataSet:
    """The items of the classes `keep` (of `count`), labelled by their place in `keep`."""
    lookup = torch.full((count,), -1, dtype=torch.int64)
    lookup[torch.tensor(keep, dtype=torch.int64)] = torch.arange(len(keep))
    labels = lookup[data.labels]
    mask = labels >= 0
    return DataSet(pick(data.images, mask), labels[mask])


def _decode(files: list[tuple[Path, int]], size: int | Preprocessing, channels: int) -> tuple[DataSet, int]:
    pool = decoding_pool(len(files))
    paths = [path for path, _ in files]
    chunk = max(64, len(files) // (worker_count() * 8))
    try:
        decoded = list(pool.map(load_image_or_none, paths, repeat(size), repeat(channels), chunksize=chunk))
    except (BrokenProcessPool, OSError, ValueError) as exc:
        if not broke(pool, exc):
            raise
        end_workers(pool)
        folder = os.path.commonpath([str(path.parent) for path in paths])
        raise UserError(
            f"{folder}: a process decoding its images stopped unexpectedly (killed, out of memory, or "
            "an image that crashes the decoder); nothing was loaded, try again or remove that image"
        ) from None
    finally:
        pool.shutdown()
    keep = [i for i, image in enumerate(decoded) if image is not None]
    kept = [image for image in decoded if image is not None]
    side = size.crop if isinstance(size, Preprocessing) else size
    images = np.stack(kept) if kept else np.zeros((0, channels, side, side), np.uint8)
    labels = np.array([files[i][1] for i in keep], dtype=np.int64)
    return DataSet(torch.from_numpy(images), torch.from_numpy(labels)), len(files) - len(keep)
