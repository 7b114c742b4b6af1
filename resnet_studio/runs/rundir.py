"""Run directories (resources/FORMATS.md): architecture.json, config.json, metrics.jsonl, checkpoints/.

`metrics.jsonl` is appended and flushed line by line, so another process (the studio) can follow
a run while it is written (`metrics_file.MetricsReader`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import stat
import time
from pathlib import Path
from typing import IO, Any

import resnet_studio
from resnet_studio.config_rules import check_saved_config
from resnet_studio.errors import UserError, WriteError
from resnet_studio.fileio import (
    atomic_write,
    atomic_write_bytes,
    check_real_folders,
    kind_of,
    loads_json,
    open_append,
    read_json,
    remove_stale_temp_files,
)
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.metrics_file import MAX_METRICS_BYTES, open_run_file
from resnet_studio.runs.metrics_file import reason as _reason

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STALE_AFTER_S = 600  # a "running" run whose metrics have not changed for this long was interrupted


LOCK_FILE = ".lock"  # held (flock) by the process writing the run; the OS drops it when it dies


class RunDirectory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics: IO[bytes] | None = None
        self._tensorboard: Any = None
        self._lock: int | None = None

    # -- one writer at a time ---------------------------------------------------------------------

    def lock(self, new: bool = False) -> None:
        """Hold the run for writing until `close()`; a second writer gets a `UserError` naming the
        process that holds it. The lock dies with its process (kill -9 included): never stale.
        A `new` run's folder is made here, or must be empty (`check_new`), checked again once
        locked: of two processes that both found it empty, the second is refused."""
        if new:
            self.check_new()
        else:
            self.check_for_writing()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({_reason(exc)})") from None
        if fcntl is not None and self._lock is None:
            self._lock = self._take_lock()
        if new:
            try:
                self.check_new()
                check_real_folders(self.path / "checkpoints", self.path)
            except (UserError, OSError) as exc:
                self.unlock()
                raise (
                    exc if isinstance(exc, UserError) else UserError(f"{self.path}: {_reason(exc)}")
                ) from None

    def _take_lock(self) -> int:
        lock_file = self.path / LOCK_FILE
        try:  # never through a link, never a pipe (opened without blocking, then checked)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            raise UserError(f"{lock_file}: cannot lock the run folder ({_reason(exc)})") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise UserError(f"{lock_file}: {kind_of(mode)}, not a regular file: cannot lock the run with it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise self._busy(holder) from None
        os.ftruncate(fd, 0)
        me = {"pid": os.getpid(), "host": platform.node(), "since": time.time()}
        os.write(fd, json.dumps(me).encode())
        return fd

    def _busy(self, holder: str) -> UserError:
        return UserError(
            f"{self.path}: another process is writing this run ({holder}); wait for it to end, "
            f"or follow it with `resnet-studio open {self.path}`"
        )

    def check_new(self) -> None:
        """`UserError` unless the folder can hold a new run: absent, or a real folder with nothing
        in it but the lock file of a writer that is gone (killed before it wrote anything)."""
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UserError(f"{self.path}: cannot use it as a run folder ({_reason(exc)})") from None
        if not stat.S_ISDIR(mode):
            raise UserError(f"{self.path}: exists and is {kind_of(mode)}, not a folder: name a new folder")
        with os.scandir(self.path) as entries:
            others = [e.name for e in entries if e.name != LOCK_FILE or not e.is_file(follow_symlinks=False)]
        holder = self.writer() if self._lock is None else None
        if holder is not None:
            raise self._busy(holder)
        if others:
            raise UserError(
                f"{self.path}: exists already: use --resume {self.path} to continue the run in it, "
                "or name a new folder (a run folder is created new, never written over)"
            )

    def check_for_writing(self) -> None:
        """`UserError` naming the path unless the run can be written safely: the folder and its
        checkpoints/ real folders (not links), its files regular files or absent (not links,
        pipes or devices). Temporary files a killed writer left are removed once it is locked."""
        for folder in (self.path, self.path / "checkpoints", self.tensorboard_dir):
            try:
                mode = os.lstat(folder).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise UserError(f"{folder}: cannot use it ({_reason(exc)})") from None
            if not stat.S_ISDIR(mode):
                raise UserError(f"{folder}: {kind_of(mode)}, not a folder: a run is never written through it")
        files = (self.metrics_file, self.status_file, self.config_file, self.architecture_file)
        for path in (*files, self.path / LOCK_FILE, self.last_checkpoint, self.best_checkpoint):
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if not stat.S_ISREG(mode):
                raise UserError(
                    f"{path}: {kind_of(mode)}, not a regular file: a run is never written through it"
                )

    def remove_stale_temp_files(self) -> list[str]:
        """What a writer killed mid-write left (`.last.pt.1a2b3c4d.tmp`, up to a checkpoint's size),
        in the folder and checkpoints/; only while this process holds the lock."""
        return [*remove_stale_temp_files(self.path), *remove_stale_temp_files(self.path / "checkpoints")]

    def writer(self) -> str | None:
        """Who holds the run for writing now ("process 123 on host, since ..."), or None."""
        if fcntl is None:
            return None
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _lock_holder(fd)
        else:
            return None
        finally:
            os.close(fd)  # closing drops a lock this check may have taken

    @property
    def architecture_file(self) -> Path:
        return self.path / "architecture.json"

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "best.pt"

    @property
    def initial_checkpoint(self) -> Path:
        """The weights before the first step (the loss landscape's line starts there)."""
        return self.path / "checkpoints" / "init.pt"

    def create(self, architecture: dict[str, Any], config: dict[str, Any], device: str) -> None:
        """The new run's architecture.json and config.json, as new files (after `lock(new=True)`)."""
        for path, data in (
            (self.architecture_file, architecture),
            (self.config_file, _config_record(config, device)),
        ):
            try:
                atomic_write_bytes(path, _json_bytes(data), within=self.path, exclusive=True)
            except OSError as exc:
                raise WriteError.of(path, exc) from None

    def rewrite_config(self, config: dict[str, Any], device: str) -> None:
        """config.json replaced (atomically) by what a resumed run continues with: its length
        above all. Readers take the run's planned epochs from it, and the next resume its base;
        left as the first leg's, a run resumed from 3 to 6 epochs read "epoch 6/3", and stopped
        at epoch 4, resumed again to 3, already passed."""
        try:
            atomic_write_bytes(
                self.config_file, _json_bytes(_config_record(config, device)), within=self.path
            )
        except OSError as exc:
            raise WriteError.of(self.config_file, exc) from None

    def write_status(
        self, status: str, epoch: int, step: int, message: str = "", planned: tuple[int, int] | None = None
    ) -> None:
        """running, completed, stopped or failed: what the Runs list shows (metrics alone cannot
        tell a stopped run from one still training). `planned`: the run's length in epochs and
        steps as the engine planned it (a budget's or a step count's epochs are known only there)."""
        record: dict[str, Any] = {"status": status, "epoch": epoch, "step": step, "message": message}
        if planned is not None:
            record["epochs_planned"], record["steps_planned"] = planned
        record["time"] = time.time()
        try:
            atomic_write_bytes(self.status_file, _json_bytes(record), within=self.path)
        except OSError as exc:
            raise WriteError.of(self.status_file, exc) from None

    def read_config(self) -> dict[str, Any]:
        """config.json, every field checked (`UserError` naming the file and the field)."""
        try:
            config = read_json(self.config_file, follow_links=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.config_file}: cannot read the run's config ({_reason(exc)})") from None
        if not isinstance(config, dict):
            raise UserError(f"{self.config_file}: the run's config is not a JSON object")
        check_saved_config(config, f"{self.config_file}: ")
        return config

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    def enable_tensorboard(self) -> None:
        """Mirror the metrics into a TensorBoard event log (`tensorboard --logdir RUN`)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
        try:
            check_real_folders(self.tensorboard_dir, self.path)
        except OSError as exc:
            raise WriteError.of(self.tensorboard_dir, exc) from None
        self._tensorboard = SummaryWriter(str(self.tensorboard_dir), flush_secs=5)

    def append_metrics(self, record: MetricsRecord) -> None:
        if self._metrics is None:
            try:
                self._metrics = open_append(self.metrics_file, within=self.path)
            except OSError as exc:
                raise WriteError.of(self.metrics_file, exc) from None
        try:
            self._metrics.write((json.dumps(record.to_json(), allow_nan=False) + "\n").encode())
            self._metrics.flush()
        except OSError as exc:
            raise WriteError.of(self.metrics_file, exc) from None
        if self._tensorboard is not None:
            keys = (
                ("loss", "accuracy") if record.kind == "val" else ("loss", "accuracy", "lr", "images_per_s")
            )
            for key in keys:
                self._tensorboard.add_scalar(f"{record.kind}/{key}", getattr(record, key), record.step)

    def truncate_metrics(self, step: int) -> int:
        """Drop the records after `step` (a resume from a checkpoint at `step` writes them again);
        the number dropped. Rewritten atomically, and only when there is something to drop."""
        try:
            content = _read_run_file(self.metrics_file, MAX_METRICS_BYTES)
        except FileNotFoundError:
            return 0
        kept, dropped = [], 0
        for line in content.splitlines(keepends=True):
            try:
                record = MetricsRecord.from_json(loads_json(line))
            except ValueError:
                record = None
            # A torn last line goes; other odd lines stay.
            late = record.step > step if record is not None else not line.endswith(b"\n")
            if late:
                dropped += 1
            else:
                kept.append(line)
        if dropped:
            try:
                atomic_write(self.metrics_file, lambda handle: handle.write(b"".join(kept)), within=self.path)
            except OSError as exc:
                raise WriteError.of(self.metrics_file, exc) from None
        return dropped

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def close(self) -> None:
        if self._metrics is not None:
            with contextlib.suppress(OSError):  # a last flush onto a full disk fails: nothing to save
                self._metrics.close()
            self._metrics = None
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None


def _config_record(config: dict[str, Any], device: str) -> dict[str, Any]:
    """config.json's content: the TrainConfig fields, the device used and the versions."""
    import torch  # here, so that listing and following runs does not load torch

    versions = {
        "resnet_studio": resnet_studio.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return {**config, "device_used": device, "versions": versions}


def _json_bytes(data: Any) -> bytes:
    from resnet_studio.fileio import tidy_json

    return (json.dumps(tidy_json(data), indent=2) + "\n").encode()


def _read_run_file(path: Path, max_bytes: int) -> bytes:
    with open_run_file(path, max_bytes) as handle:
        return handle.read(max_bytes)


def _lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = loads_json(os.read(fd, 4096))
        since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"])))
        return f"process {int(holder['pid'])} on {holder['host']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return "a process"
