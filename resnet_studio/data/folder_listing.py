"""What a folder source holds: its class folders, their image files, and the seeded picks of them
(a 90/10 split where the folder has no validation part, a class-balanced limit)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from resnet_studio.data.dataset import balanced_pick
from resnet_studio.data.images import is_image_name

# A folder's validation part, beside its train/ (or its class folders), by any of these names.
VAL_FOLDER_NAMES = ("val", "validation", "test")

Files = list[tuple[Path, int]]  # an image file and its class's index


def class_names(folder: Path) -> list[str]:
    """The class folders of `folder`, sorted; hidden folders and a validation part left out."""
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name.lower() not in VAL_FOLDER_NAMES
    )


def listing(folder: Path, classes: Sequence[str]) -> Files:
    """Every image file under each class folder (recursively, sorted), labelled by the class's place."""
    files = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if class_dir.is_dir():
            files += [(p, label) for p in sorted(class_dir.rglob("*")) if is_image_name(p) and p.is_file()]
    return files


def split_files(files: Files, seed: int) -> tuple[Files, Files]:
    """90/10 per class, with a fixed seed, so every class is in both parts."""
    rng = np.random.default_rng(seed)
    train: Files = []
    val: Files = []
    labels = np.array([label for _, label in files])
    for label in np.unique(labels):
        idx = np.nonzero(labels == label)[0]
        rng.shuffle(idx)
        n_val = max(1, len(idx) // 10) if len(idx) > 1 else 0
        val += [files[i] for i in sorted(idx[:n_val])]
        train += [files[i] for i in sorted(idx[n_val:])]
    return train, val


def take_files(files: Files, limit: int | None, seed: int) -> Files:
    """At most `limit` of `files`, balanced across classes (all of them where `limit` is None)."""
    if limit is None or limit >= len(files):
        return files
    labels = np.array([label for _, label in files])
    return [files[i] for i in balanced_pick(labels, limit, seed)]
