"""Images read from the on-disk cache (`cache.py`) by index, as a `DataSet` holds them in memory.

`StoredImages` answers what the engine asks of `DataSet.images`: its `shape` and length, a batch
by slice or index tensor (a uint8 tensor, bit for bit what the in-memory path holds), `take` for a
subset (a view: nothing is read), `to(device)` (batches then arrive on that device).

The file is memory-mapped, and the pages a batch touched are handed back to the system right after
(MADV_DONTNEED): mapped pages count in the process's resident memory, so without it a pass over a
4 GB cache would leave 4 GB resident. The pages stay in the page cache, so reading them again costs
a copy, not a disk read.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from resnet_studio.data.cache import Prepared

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class _Mapping:
    """One data file mapped read-only; shared by every view of it."""

    def __init__(self, prepared: Prepared) -> None:
        self.path = prepared.data_file
        self.shape = (prepared.rows, *prepared.shape)
        self.row_bytes = int(np.prod(prepared.shape))
        self.map: mmap.mmap | None = None
        if self.row_bytes * prepared.rows:  # a split of unreadable files only has no data file
            fd = os.open(self.path, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_BINARY", 0))
            try:
                self.map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)  # the map holds its own reference to the file
        if self.map is None:
            self.array = np.zeros(self.shape, np.uint8)
        else:
            self.array = np.frombuffer(self.map, np.uint8, prepared.rows * self.row_bytes).reshape(self.shape)

    def read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.shape[1:]), np.uint8)
        np.take(self.array, rows, axis=0, out=out)
        self.release(rows)
        return out

    def release(self, rows: np.ndarray) -> None:
        """Unmap every page of the file from this process (they stay in the page cache). The whole
        map, not only the rows read: a page fault maps the pages around it too (the kernel's
        fault-around, 64 KB), which would otherwise pile up batch after batch. Unmapping pages that
        are not mapped costs next to nothing (the kernel skips empty page tables)."""
        if self.map is None or _DONTNEED is None or not len(rows):
            return
        self.map.madvise(_DONTNEED)


class StoredImages:
    """uint8 (N, C, H, W) images in a cache file; indexing reads (and copies) only those asked for."""

    dtype = torch.uint8

    def __init__(
        self,
        prepared: Prepared,
        *,
        _mapping: _Mapping | None = None,
        _rows: np.ndarray | None = None,
        _device: torch.device | None = None,
        _crop: int | None = None,
    ) -> None:
        self.prepared = prepared
        self._mapping = _mapping or _Mapping(prepared)
        self._rows = prepared.kept if _rows is None else _rows  # file row of each image
        self.device = _device or torch.device("cpu")
        # the centre crop every read returns (the evaluation view of images stored with a margin)
        self._crop = _crop

    @property
    def shape(self) -> torch.Size:
        channels, height, width = self._mapping.shape[1:]
        if self._crop is not None:
            height, width = min(height, self._crop), min(width, self._crop)
        return torch.Size((len(self._rows), channels, height, width))

    def _view(self, rows: np.ndarray | None = None, device: torch.device | None = None) -> StoredImages:
        return StoredImages(
            self.prepared,
            _mapping=self._mapping,
            _rows=self._rows if rows is None else rows,
            _device=device or self.device,
            _crop=self._crop,
        )

    def cropped(self, crop: int) -> StoredImages:
        """This view, each image read as its centre `crop` x `crop` (`augmentation.eval_view`)."""
        view = self._view()
        view._crop = crop
        return view

    def _cut(self, batch: np.ndarray) -> np.ndarray:
        if self._crop is None:
            return batch
        height, width = batch.shape[-2:]
        top, left = max(0, (height - self._crop) // 2), max(0, (width - self._crop) // 2)
        return np.ascontiguousarray(batch[..., top : top + self._crop, left : left + self._crop])

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"StoredImages({tuple(self.shape)}, {self._mapping.path})"

    def _positions(self, key: Any) -> np.ndarray:
        if isinstance(key, Tensor):
            key = key.detach().cpu().numpy()
        if isinstance(key, (int, np.integer, slice)):
            return np.atleast_1d(self._rows[key])
        key = np.asarray(key)
        if key.dtype == np.bool_:
            key = np.nonzero(key)[0]
        return self._rows[key.astype(np.int64, copy=False)]

    def __getitem__(self, key: Any) -> Tensor:
        """The images at `key` (an int, a slice, an index or mask array or tensor), read now."""
        batch = torch.from_numpy(self._cut(self._mapping.read(self._positions(key))))
        if isinstance(key, (int, np.integer)):
            batch = batch[0]
        return batch if self.device.type == "cpu" else batch.to(self.device, non_blocking=True)

    def take(self, key: Any) -> StoredImages:
        """The images at `key` as a view: nothing is read."""
        return self._view(rows=self._positions(key))

    def to(self, device: torch.device | str, *args: Any, **kwargs: Any) -> StoredImages:
        """This view, its batches delivered on `device` (the images stay in the file)."""
        return self._view(device=torch.device(device))

    def numpy(self) -> np.ndarray:
        """All of them in memory (only for small views: a preview, a probe)."""
        return self._cut(self._mapping.read(self._rows))


def pick(images: Tensor | StoredImages, key: Tensor) -> Tensor | StoredImages:
    """`images[key]` for a subset of a data set: a view for stored images, a copy in memory."""
    return images.take(key) if isinstance(images, StoredImages) else images[key]
