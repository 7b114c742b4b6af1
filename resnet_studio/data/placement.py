"""Where a folder source's decoded images live: in memory when they fit the memory budget (today's
path, unchanged), else in the on-disk cache (`cache.py`), read by index (`stored.py`). The choice
and its reason become a note of the run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from resnet_studio.data.cache import (
    Files,
    FolderCache,
    Progress,
    human_bytes,
    memory_budget,
    probe_shape,
)
from resnet_studio.data.dataset import DataSet
from resnet_studio.data.images import Size
from resnet_studio.data.stored import StoredImages

Decode = Callable[[Files, Size, int], tuple[DataSet, int]]  # the in-memory path (`sources._decode`)


def decode_splits(
    root: Path,
    parts: dict[str, tuple[Files, Size]],
    channels: int,
    decode: Decode,
    *,
    data_memory: int | None = None,
    selection: dict[str, Any] | None = None,
    progress: Progress | None = None,
    prepares: bool = True,
) -> tuple[dict[str, tuple[DataSet, int]], str]:
    """Each split (name -> its files and their decode size) decoded as (DataSet, unreadable files),
    and a note saying where they are held and why. `prepares`: whether this process prepares a
    missing cache (torchrun's rank 0) or waits for another to (the other ranks). `selection`
    (limits, seed) names the cache apart from the files. `progress` is called as chunks finish; an
    exception it raises stops the preparation (what is finished is kept)."""
    budget = memory_budget(data_memory)
    need, count = 0, 0
    for files, size in parts.values():
        shape = probe_shape(files, size, channels) if files else None
        need += len(files) * (int(torch.Size(shape).numel()) if shape else 0)
        count += len(files)
    if need <= budget:
        note = (
            f"data: {count:,} images decoded need {human_bytes(need)}, within the memory budget of "
            f"{human_bytes(budget)}: held in memory"
        )
        return {name: decode(files, size, channels) for name, (files, size) in parts.items()}, note
    decoded, where, before = {}, set(), 0
    for name, (files, size) in parts.items():
        if not files:  # a split not asked for (validation held out of the training set)
            decoded[name] = decode(files, size, channels)
            continue
        cache = FolderCache(root, name, files, size, channels, selection or {})
        prepared = cache.prepare(_overall(progress, before, count)) if prepares else cache.wait_ready()
        before += len(files)
        where.add(str(cache.folder.parent))
        images = StoredImages(prepared)
        decoded[name] = (DataSet(images, torch.from_numpy(prepared.labels)), prepared.skipped)
    note = (
        f"data: {count:,} images decoded need {human_bytes(need)}, above the memory budget of "
        f"{human_bytes(budget)}: read from the on-disk cache in {', '.join(sorted(where))}"
    )
    return decoded, note


def _overall(progress: Progress | None, before: int, total: int) -> Progress | None:
    """One split's progress as part of all the splits'."""
    if progress is None:
        return None
    return lambda done, _: progress(before + done, total)
