"""Data sources (`--data SPEC`): demo, cifar10[:ROOT], cifar100[:ROOT], folder:PATH.

Every source is decoded once into uint8 tensors held in memory (N, C, H, W): small image data sets
fit easily, and batches then cost one indexing operation instead of a Python loop per image.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from resnet_studio.data import demo
from resnet_studio.data.images import is_image_name, load_image_or_none
from resnet_studio.data.preprocessing import Preprocessing
from resnet_studio.errors import UserError

log = logging.getLogger(__name__)

DEMO_TRAIN, DEMO_VAL = 20_000, 2_000
VAL_FOLDER_NAMES = ("val", "validation", "test")


@dataclass
class DataSet:
    images: Tensor  # uint8 (N, C, H, W)
    labels: Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, limit: int | None, seed: int) -> DataSet:
        """A seeded random subset of at most `limit` items (all of them when `limit` is None)."""
        if limit is None or limit >= len(self):
            return self
        keep = torch.from_numpy(balanced_pick(self.labels.numpy(), limit, seed))
        return DataSet(self.images[keep], self.labels[keep])

    def hold_out(self, fraction: float, seed: int) -> tuple[DataSet, DataSet]:
        """(rest, held out): `fraction` of every class held out at random with a fixed seed, as
        He et al.'s 45k/5k split of CIFAR-10's training set."""
        held = balanced_pick(self.labels.numpy(), round(len(self) * fraction), seed)
        mask = torch.ones(len(self), dtype=torch.bool)
        mask[torch.from_numpy(held)] = False
        rest = torch.nonzero(mask).flatten()
        return DataSet(self.images[rest], self.labels[rest]), DataSet(self.images[~mask], self.labels[~mask])


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

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])


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
) -> DataSplits:
    """Load a data source into memory; a problem of the user's making raises `UserError`.

    `val_fraction` > 0 validates on that part of the training set, held out, instead of the
    source's own validation or test images (which are then not read at all where it can be
    helped): tuning on it keeps the test set for the one figure reported at the end."""
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
        splits = _folder(
            Path(arg or ""), image_size, channels, limit_train, limit_val, seed, skip_val=val_fraction > 0
        )
    splits.source = spec
    splits.train = splits.train.subset(limit_train, seed)
    if val_fraction > 0:
        splits.train, splits.val = splits.train.hold_out(val_fraction, seed + 2)
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
    splits.mean, splits.std = channel_stats(splits.train.images)
    return splits


def preview_samples(
    spec: str, count: int = 12, *, image_size: int = 32, channels: int = 3, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """A few training images, uint8 (N, C, H, W), and their class names: the setup panel's preview.
    Demo images are generated on the spot; other sources load (or decode) only what they need."""
    kind, _ = parse_source(spec)
    if kind == "demo":
        images, labels = demo.generate(count, seed=seed + 11)
        classes: Sequence[str] = demo.CLASSES
    else:
        splits = load_data(
            spec, image_size=image_size, channels=channels, limit_train=count, limit_val=1, seed=seed
        )
        images, labels, classes = splits.train.images.numpy(), splits.train.labels.numpy(), splits.classes
    return images, [classes[int(label)] for label in labels]


def channel_stats(images: Tensor, sample: int = 10_000) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] over (up to `sample` of) the images."""
    step = max(1, len(images) // sample)
    x = images[::step].to(torch.float64) / 255
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]


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
            f"{name} not found in {folder}: run with --download to fetch it, or put the "
            f"python version of the data set ({cls.filename}, extracted) there"
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
    size: int | Preprocessing,
    channels: int,
    limit_train: int | None,
    limit_val: int | None,
    seed: int,
    skip_val: bool = False,
) -> DataSplits:
    if not root.is_dir():
        raise UserError(f"--data folder:{root}: no such folder")
    train_dir = root / "train"
    val_dir = next((root / n for n in VAL_FOLDER_NAMES if (root / n).is_dir()), None)
    # train/ holding class folders is the train/val layout, with or without val/ beside it; a
    # train/ of images only is a class named "train" in a PATH/<class>/* layout.
    layout = train_dir if train_dir.is_dir() and _class_names(train_dir) else root
    classes = _class_names(layout)
    train_files = _listing(layout, classes)
    if layout != root and val_dir is None:
        others = [name for name in _class_names(root) if name != "train"]
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
        val_files = _listing(val_dir, classes)
    else:
        train_files, val_files = _split(train_files, seed)
    _need_two_classes(root, layout, classes, empty, ())
    # Decode only what the limits keep: a 5,000-image slice of a large folder loads in seconds.
    listed = np.bincount([label for _, label in train_files], minlength=len(classes))
    train_files = _take(train_files, limit_train, seed)
    tried = np.bincount([label for _, label in train_files], minlength=len(classes))
    val_files = [] if skip_val else _take(val_files, limit_val, seed + 1)
    train, bad_train = _decode(train_files, size, channels)
    val, bad_val = _decode(val_files, size, channels)
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
        f"folder:{root}", classes, train, val, skipped=skipped, empty_classes=empty + unreadable
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
    return DataSet(data.images[mask], labels[mask])


def _class_names(folder: Path) -> list[str]:
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name.lower() not in VAL_FOLDER_NAMES
    )


def _listing(folder: Path, classes: Sequence[str]) -> list[tuple[Path, int]]:
    files = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if class_dir.is_dir():
            files += [(p, label) for p in sorted(class_dir.rglob("*")) if is_image_name(p) and p.is_file()]
    return files


def _split(files: list[tuple[Path, int]], seed: int) -> tuple[list, list]:
    """90/10 per class, with a fixed seed, so every class is in both parts."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    labels = np.array([label for _, label in files])
    for label in np.unique(labels):
        idx = np.nonzero(labels == label)[0]
        rng.shuffle(idx)
        n_val = max(1, len(idx) // 10) if len(idx) > 1 else 0
        val += [files[i] for i in sorted(idx[:n_val])]
        train += [files[i] for i in sorted(idx[n_val:])]
    return train, val


def _take(files: list[tuple[Path, int]], limit: int | None, seed: int) -> list[tuple[Path, int]]:
    if limit is None or limit >= len(files):
        return files
    labels = np.array([label for _, label in files])
    return [files[i] for i in balanced_pick(labels, limit, seed)]


# From this many files on, decoding runs in worker processes. PIL's JPEG reader spends most of its
# time in Python (header parsing), so threads hold each other up on the GIL: measured on 2 cores,
# CIFAR-10's 50,000 training JPEGs took ~31 s with threads. Below it, starting the processes costs
# more than it saves (~1 s: `spawn`, safe beside Qt's and torch's threads; they import PIL only).
PROCESS_DECODE_MIN = 4000


def _end_workers(pool: Executor) -> None:
    """End a broken pool's surviving workers. CPython starts `spawn` workers one per submitted task,
    so one started while the pool was breaking is never told to stop: it waits on the task queue
    forever, and shutting the pool down waits on it (seen: a worker killed in its first
    milliseconds hung the load)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        process.terminate()


def _broke(pool: Executor, exc: Exception) -> bool:
    """Whether `exc` comes from a process pool that broke (a worker died). A worker that dies while
    the pool still starts others breaks it twice over: the pool closes its pipes, and starting the
    next worker then fails with "handle is closed" (OSError) or "bad value(s) in fds_to_keep"
    (ValueError) instead of BrokenProcessPool; CPython marks the pool broken before it closes them."""
    return isinstance(exc, BrokenProcessPool) or bool(getattr(pool, "_broken", False))


def _decode(files: list[tuple[Path, int]], size: int | Preprocessing, channels: int) -> tuple[DataSet, int]:
    workers = os.cpu_count() or 2
    pool: Executor
    if len(files) >= PROCESS_DECODE_MIN and workers > 1:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
    paths = [path for path, _ in files]
    chunk = max(64, len(files) // (workers * 8))
    try:
        decoded = list(pool.map(load_image_or_none, paths, repeat(size), repeat(channels), chunksize=chunk))
    except (BrokenProcessPool, OSError, ValueError) as exc:
        if not _broke(pool, exc):
            raise
        _end_workers(pool)
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
