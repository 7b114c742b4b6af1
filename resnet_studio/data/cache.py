"""An on-disk cache of a folder source's decoded images, for data sets larger than the memory budget.

Each split (train, val) of a folder is decoded once, by the same per-file function as the
in-memory path (`images.load_image_or_none`), into one raw uint8 file of (files, C, H, W) rows
that training memory-maps (`stored.StoredImages`). Beside it:
- `manifest.json`: the decode's parameters, and every source file's name, label, size and
  modification time. A file that changed (or a folder that gained or lost files) is noticed on
  the next open: the chunks it touches are decoded again, never used stale;
- `chunks/NNNNNN.json`: one marker per finished chunk of CHUNK files, written (atomically) after
  its rows, with the files of the chunk that could not be read. Preparing runs in worker
  processes; interrupted (Ctrl-C, kill -9), it resumes where it stopped: finished chunks stay.

The cache lives in a hidden folder beside the data (`PATH/.resnet-studio-cache/`) when that can be
written, else in the user's cache folder. Torch-free: it runs in the decode workers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.data.cache_location import cache_key, cache_location, decode_params
from resnet_studio.data.images import Size, load_image_or_none
from resnet_studio.data.worker_pool import decoding_pool, end_workers, worker_count
from resnet_studio.errors import UserError
from resnet_studio.fileio import (
    BadJSON,
    NotARegularFile,
    atomic_write_bytes,
    check_real_folders,
    read_json,
    remove_stale_temp_files,
)

FORMAT = "resnet-studio image cache"
VERSION = 1
CHUNK = 256  # files per chunk: what an interruption can lose, and one worker's task
DATA_FILE = "images.u8"
WAIT_POLL_S = 1.0
LOCK_FILE = ".preparing"  # flock-ed by the process that prepares the cache
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

Progress = Callable[[int, int], None]  # (images prepared, images in all); raising stops preparing
Files = list[tuple[Path, int]]  # (path, label), as sources lists them


@dataclass(frozen=True)
class Prepared:
    """A finished split: its data file, the shape of one row, and the rows that hold images."""

    data_file: Path
    rows: int  # rows in the file (one per listed file, readable or not)
    shape: tuple[int, int, int]  # (C, H, W)
    kept: np.ndarray  # int64 rows of the readable files, in listing order
    labels: np.ndarray  # int64 labels of those rows
    skipped: int  # unreadable files


def memory_budget(data_memory: int | None) -> int:
    """The bytes of decoded images a source may hold in memory: `data_memory`, or a quarter of
    the machine's memory (8 GB's quarter where the system does not say)."""
    if data_memory is not None:
        return data_memory
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return max(1, total // 4)


def human_bytes(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


def probe_shape(files: Files, size: Size, channels: int) -> tuple[int, int, int] | None:
    """The shape the per-file decode gives these files, from the first readable of them (None when
    none can be read)."""
    for path, _ in files:
        image = load_image_or_none(path, size, channels)
        if image is not None:
            return (int(image.shape[0]), int(image.shape[1]), int(image.shape[2]))
    return None


def _stamps(root: Path, files: Files) -> list[list[Any]]:
    """[name under root, label, size, mtime_ns] per file; -1 for a file that cannot be stat'ed."""
    stamps = []
    for path, label in files:
        try:
            info = os.stat(path)
            size, mtime = info.st_size, info.st_mtime_ns
        except OSError:
            size = mtime = -1
        stamps.append([os.path.relpath(path, root), int(label), size, mtime])
    return stamps


class FolderCache:
    """One split's cache folder: its manifest, markers and data file."""

    def __init__(
        self, root: Path, split: str, files: Files, size: Size, channels: int, selection: dict
    ) -> None:
        self.root, self.split, self.files = root, split, list(files)
        self.size, self.channels = size, channels
        self.folder, self.within = cache_location(root, cache_key(split, size, channels, selection))
        self.stamps = _stamps(root, self.files)
        self.params = {**decode_params(size, channels), **selection}
        self.chunks = -(-len(self.files) // CHUNK)

    @property
    def data_file(self) -> Path:
        return self.folder / DATA_FILE

    def _marker(self, chunk: int) -> Path:
        return self.folder / "chunks" / f"{chunk:06d}.json"

    def _manifest(self) -> dict[str, Any] | None:
        try:
            data = read_json(self.folder / "manifest.json", max_bytes=2**31, follow_links=False)
        except (OSError, BadJSON):
            return None
        ok = isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") == VERSION
        return data if ok else None

    def _done(self, chunk: int) -> list[int] | None:
        """The unreadable files (indices in the split) of a finished chunk; None if unfinished."""
        try:
            data = read_json(self._marker(chunk), follow_links=False)
        except (OSError, BadJSON):
            return None
        bad = data.get("skipped") if isinstance(data, dict) else None
        return [int(i) for i in bad] if isinstance(bad, list) else None

    def ready(self) -> Prepared | None:
        """The finished cache, if it matches the files as they are now; else None."""
        manifest = self._manifest()
        if manifest is None or manifest.get("files") != self.stamps or manifest.get("params") != self.params:
            return None
        shape = manifest.get("shape")
        if shape is None:  # not one file could be read: an empty split
            return self._prepared((0, 0, 0), list(range(len(self.files))))
        skipped = []
        for chunk in range(self.chunks):
            bad = self._done(chunk)
            if bad is None:
                return None
            skipped += bad
        if not self._data_file_fits(tuple(shape)):
            return None
        return self._prepared(tuple(shape), skipped)

    def _data_file_fits(self, shape: tuple) -> bool:
        try:
            info = os.lstat(self.data_file)
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and info.st_size == len(self.files) * int(np.prod(shape))

    def _prepared(self, shape: tuple, skipped: list[int]) -> Prepared:
        kept = np.setdiff1d(np.arange(len(self.files), dtype=np.int64), np.array(skipped, dtype=np.int64))
        labels = np.array([label for _, label in self.files], dtype=np.int64)[kept]
        return Prepared(self.data_file, len(self.files), shape, kept, labels, len(skipped))

    def wait_ready(self, stop: Callable[[], None] | None = None) -> Prepared:
        """Another process (torchrun's rank 0) prepares it: wait until it is finished."""
        while True:
            found = self.ready()
            if found is not None:
                return found
            if stop is not None:
                stop()
            time.sleep(WAIT_POLL_S)

    def prepare(self, progress: Progress | None = None) -> Prepared:
        """Decode what is missing or stale, keeping every finished chunk that is still valid."""
        found = self.ready()
        if found is not None:
            return found
        try:
            check_real_folders(self.folder / "chunks", self.within)
        except NotARegularFile as exc:
            raise UserError(
                f"{exc.filename}: {exc.strerror}; the image cache cannot be written there"
            ) from None
        except OSError as exc:
            raise UserError(
                f"{self.folder}: the image cache cannot be written ({exc.strerror or exc})"
            ) from None
        with self._preparing():
            found = self.ready()  # another process finished it while this one waited for the lock
            return found if found is not None else self._prepare(progress)

    @contextlib.contextmanager
    def _preparing(self) -> Iterator[None]:
        """Held while this process prepares the cache: a second process preparing the same cache
        (two runs, or the studio and a command, on one large folder) waits for the first, then
        finds it ready, instead of decoding it again and unlinking the first one's markers."""
        if fcntl is None:  # Windows: no flock
            yield
            return
        lock = self.folder / LOCK_FILE
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW, 0o644)
        except OSError as exc:
            why = "a symbolic link: never opened" if exc.errno == errno.ELOOP else exc.strerror
            raise UserError(f"{lock}: {why}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UserError(f"{lock}: not a regular file: the image cache cannot be locked")
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits while another process prepares
            yield
        finally:
            os.close(fd)  # closing drops the lock

    def _prepare(self, progress: Progress | None) -> Prepared:
        remove_stale_temp_files(self.folder / "chunks")
        remove_stale_temp_files(self.folder)
        shape = probe_shape(self.files, self.size, self.channels)
        old = self._manifest()
        todo = self._invalidate(old, shape)
        manifest = {"format": FORMAT, "version": VERSION, "source": str(self.root), "split": self.split}
        manifest |= {"params": self.params, "shape": list(shape) if shape else None, "chunk": CHUNK}
        self._write(self.folder / "manifest.json", json.dumps({**manifest, "files": self.stamps}).encode())
        if shape is not None:
            self._size_data_file(len(self.files) * int(np.prod(shape)))
            self._run(todo, shape, progress)
        found = self.ready()
        if found is None:  # a marker or the data file went missing meanwhile (another process?)
            raise UserError(f"{self.folder}: the image cache changed while it was prepared; run again")
        return found

    def _invalidate(self, old: dict[str, Any] | None, shape: tuple | None) -> list[int]:
        """The chunks to decode; the markers of those that were finished but are stale go."""
        same = (
            old is not None
            and old.get("params") == self.params
            and old.get("shape") == (list(shape) if shape else None)
            and old.get("chunk") == CHUNK
        )
        before = old.get("files", []) if same and old is not None else []
        todo = []
        for chunk in range(self.chunks):
            part = slice(chunk * CHUNK, (chunk + 1) * CHUNK)
            if before[part] == self.stamps[part] and self._done(chunk) is not None:
                continue
            todo.append(chunk)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._marker(chunk))
        for extra in range(self.chunks, len(before) // CHUNK + 2):  # a shorter listing's leftovers
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._marker(extra))
        return todo

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write_bytes(path, data, within=self.within)
        except NotARegularFile as exc:
            raise UserError(f"{exc.filename}: {exc.strerror}") from None
        except OSError as exc:
            raise UserError(f"{path}: cannot write the image cache ({exc.strerror or exc})") from None

    def _size_data_file(self, nbytes: int) -> None:
        """Create the data file (sparse) at its size, never through a link; rows already written stay."""
        try:
            fd = os.open(self.data_file, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_BINARY, 0o666)
        except OSError as exc:
            why = "a symbolic link: never written through" if exc.errno == errno.ELOOP else exc.strerror
            raise UserError(f"{self.data_file}: {why}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UserError(f"{self.data_file}: not a regular file: never written to")
            if os.fstat(fd).st_size != nbytes:
                os.ftruncate(fd, nbytes)
        except OSError as exc:
            raise UserError(
                f"{self.data_file}: cannot size the image cache ({exc.strerror or exc})"
            ) from None
        finally:
            os.close(fd)

    def _run(self, todo: list[int], shape: tuple, progress: Progress | None) -> None:
        total = len(self.files)
        done = total - sum(len(self.files[c * CHUNK : (c + 1) * CHUNK]) for c in todo)
        if progress is not None:
            progress(done, total)
        if not todo:
            return
        workers = worker_count()
        pool = decoding_pool(len(todo) * CHUNK, initializer=_ignore_interrupts)
        pending: set[Future] = set()
        try:
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < 2 * workers:  # a few ahead: a stop cancels the rest
                    chunk = queue.pop(0)
                    part = self.files[chunk * CHUNK : (chunk + 1) * CHUNK]
                    job = (str(self.data_file), str(self._marker(chunk)), str(self.within), chunk)
                    pending.add(
                        pool.submit(
                            _decode_chunk, job, [str(p) for p, _ in part], self.size, self.channels, shape
                        )
                    )
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done += future.result()
                if progress is not None:
                    progress(done, total)
        except BrokenProcessPool:
            end_workers(pool)
            raise UserError(
                f"{self.root}: a process preparing the image cache stopped unexpectedly (killed, out of "
                "memory, or an image that crashes the decoder); what was prepared is kept, run again"
            ) from None
        except BaseException:
            end_workers(pool)
            for future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (finished chunks are kept)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_chunk(
    job: tuple[str, str, str, int], paths: list[str], size: Size, channels: int, shape: tuple
) -> int:
    """Decode one chunk's files into their rows of the data file, then write its marker."""
    data_file, marker, within, chunk = job
    row_bytes = int(np.prod(shape))
    skipped = []
    fd = os.open(data_file, os.O_WRONLY | _O_NOFOLLOW | _O_BINARY)
    try:
        for i, path in enumerate(paths):
            image = load_image_or_none(path, size, channels)
            if image is not None and tuple(image.shape) != tuple(shape):
                raise UserError(f"{path}: decoded as {tuple(image.shape)}, not {tuple(shape)} as the others")
            if image is None:
                skipped.append(chunk * CHUNK + i)
                continue
            os.pwrite(fd, np.ascontiguousarray(image).tobytes(), (chunk * CHUNK + i) * row_bytes)
        os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)  # rows on disk before the marker
    finally:
        os.close(fd)
    atomic_write_bytes(marker, json.dumps({"skipped": skipped}).encode(), within=within)
    return len(paths)
