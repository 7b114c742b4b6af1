"""Run directories (DESIGN.md): architecture.json, config.json, metrics.jsonl, checkpoints/.

`metrics.jsonl` is appended and flushed line by line, so another process (the studio) can follow
a run while it is written; `MetricsReader` reads only complete lines and remembers where it was.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import resnet_studio
from resnet_studio.errors import UserError, WriteError
from resnet_studio.fileio import atomic_write, atomic_write_json, atomic_write_text, loads_json, read_json
from resnet_studio.training.metrics import KEYS, MetricsRecord

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STALE_AFTER_S = 600  # a "running" run whose metrics have not changed for this long was interrupted


LOCK_FILE = ".lock"  # held (flock) by the process writing the run; the OS drops it when it dies


class RunDirectory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics: IO[str] | None = None
        self._tensorboard: Any = None
        self._lock: int | None = None

    # -- one writer at a time ---------------------------------------------------------------------

    def lock(self) -> None:
        """Hold the run for writing until `close()`; a second writer gets a `UserError` naming the
        process that holds it. The lock dies with its process (kill -9 included): never stale."""
        if fcntl is None or self._lock is not None:
            return  # no flock on this system: one writer is the user's to ensure
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot lock the run folder ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise UserError(
                f"{self.path}: another process is writing this run ({holder}); wait for it to end, "
                f"or follow it with `resnet-studio open {self.path}`"
            ) from None
        os.ftruncate(fd, 0)
        me = {"pid": os.getpid(), "host": platform.node(), "since": time.time()}
        os.write(fd, json.dumps(me).encode())
        self._lock = fd

    def writer(self) -> str | None:
        """Who holds the run for writing now ("process 123 on host, since ..."), or None."""
        if fcntl is None or not (self.path / LOCK_FILE).is_file():
            return None
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
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
        import torch  # here, so that listing and following runs does not load torch

        try:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the run folder ({exc.strerror})") from None
        versions = {
            "resnet_studio": resnet_studio.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        for path, data in (
            (self.architecture_file, architecture),
            (self.config_file, {**config, "device_used": device, "versions": versions}),
        ):
            try:
                atomic_write_json(path, data)
            except OSError as exc:
                raise WriteError.of(path, exc) from None

    def write_status(self, status: str, epoch: int, step: int, message: str = "") -> None:
        """running, completed, stopped or failed: what the Runs list shows (metrics alone cannot
        tell a stopped run from one still training)."""
        record = {"status": status, "epoch": epoch, "step": step, "message": message, "time": time.time()}
        try:
            atomic_write_json(self.status_file, record)
        except OSError as exc:
            raise WriteError.of(self.status_file, exc) from None

    def read_config(self) -> dict[str, Any]:
        try:
            config = read_json(self.config_file)
        except (OSError, ValueError) as exc:
            raise UserError(f"{self.config_file}: cannot read the run's config ({exc})") from None
        if not isinstance(config, dict):
            raise UserError(f"{self.config_file}: the run's config is not a JSON object")
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
        self._tensorboard = SummaryWriter(str(self.tensorboard_dir), flush_secs=5)

    def append_metrics(self, record: MetricsRecord) -> None:
        if self._metrics is None:
            try:
                self._metrics = open(self.metrics_file, "a", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise WriteError.of(self.metrics_file, exc) from None
        try:
            self._metrics.write(json.dumps(record.to_json(), allow_nan=False) + "\n")
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
        if not self.metrics_file.is_file():
            return 0
        kept, dropped = [], 0
        for line in self.metrics_file.read_bytes().splitlines(keepends=True):
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
            atomic_write(self.metrics_file, lambda handle: handle.write(b"".join(kept)))
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


class MetricsReader:
    """Follows a `metrics.jsonl` that may still be growing; call `read_new()` as often as you like."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0

    def read_new(self) -> list[MetricsRecord]:
        try:
            with open(self.path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < self.offset:
                    self.offset = 0  # the file was replaced: start again
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        records = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            try:
                record = MetricsRecord.from_json(loads_json(line))
            except ValueError:  # a torn line, bytes that are not UTF-8, absurd numbers or nesting
                record = None
            if record is None:
                self.bad_lines += 1
            else:
                records.append(record)
        return records


def _lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = loads_json(os.read(fd, 4096))
        since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"])))
        return f"process {int(holder['pid'])} on {holder['host']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process"


def read_metrics(path: str | Path) -> list[MetricsRecord]:
    """All complete records of a run's metrics file (a run folder or the file itself)."""
    path = Path(path)
    return MetricsReader(path / "metrics.jsonl" if path.is_dir() else path).read_new()


@dataclass(frozen=True)
class RunSummary:
    """What the Runs list shows of a run folder, read without torch or checkpoints."""

    path: Path
    architecture: str
    epochs_done: int
    epochs_planned: int | None
    best_accuracy: float | None
    resumable: bool  # checkpoints/last.pt exists
    updated: float  # when metrics.jsonl last changed (seconds since the epoch)

    recorded: str | None = None  # from status.json, written by the engine
    writer_alive: bool | None = None  # a process holds the run's lock (None: cannot tell)

    @property
    def status(self) -> str:
        if self.recorded == "running" and (
            self.writer_alive is False or time.time() - self.updated > STALE_AFTER_S
        ):
            return "interrupted"  # its process ended without saying so (killed, crashed)
        if self.recorded:
            return self.recorded
        if self.epochs_planned is not None and self.epochs_done >= self.epochs_planned:
            return "completed"
        return "stopped" if self.resumable else "incomplete"


def summarize_run(path: str | Path) -> RunSummary:
    """A run folder's architecture name, epochs, best validation accuracy and state."""
    run = RunDirectory(path)
    if not run.metrics_file.is_file() and not run.config_file.is_file():
        raise UserError(f"{path}: not a run folder (no metrics.jsonl or config.json)")
    try:
        name = read_json(run.architecture_file).get("name", "?")
    except (OSError, ValueError, AttributeError):
        name = "?"
    try:
        planned = int(read_json(run.config_file)["epochs"])
    except (OSError, KeyError, TypeError, ValueError):
        planned = None
    done, best = 0, None
    try:
        with open(run.metrics_file, "rb") as handle:
            for line in handle:
                if b'"val"' not in line:
                    continue  # most lines are per-step train records: skip without parsing
                try:
                    record = MetricsRecord.from_json(loads_json(line))
                except ValueError:
                    continue
                if record is None or record.kind != "val" or math.isnan(record.accuracy):
                    continue
                done = max(done, record.epoch)
                best = record.accuracy if best is None else max(best, record.accuracy)
        updated = os.stat(run.metrics_file).st_mtime
    except OSError:
        updated = 0.0
    try:
        recorded = read_json(run.status_file).get("status")
        updated = max(updated, os.stat(run.status_file).st_mtime)
    except (OSError, ValueError, AttributeError):
        recorded = None
    recorded = recorded if recorded in ("running", "completed", "stopped", "failed") else None
    alive = None if fcntl is None or not (run.path / LOCK_FILE).is_file() else run.writer() is not None
    return RunSummary(
        run.path, str(name), done, planned, best, run.last_checkpoint.is_file(), updated, recorded, alive
    )


def list_runs(root: str | Path) -> list[RunSummary]:
    """Every run folder directly under `root`, most recently updated first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        if entry.is_dir() and ((entry / "metrics.jsonl").is_file() or (entry / "config.json").is_file()):
            try:
                found.append(summarize_run(entry))
            except UserError:
                continue
    return sorted(found, key=lambda run: run.updated, reverse=True)


def metrics_to_csv(run: str | Path, out: str | Path) -> int:
    """Write a run's metrics as CSV (one row per record, DESIGN.md's keys as columns); the row count."""
    source = Path(run)
    if source.is_file() and source.suffix != ".jsonl":
        raise UserError(
            f"{run}: --format csv exports a run's metrics: give the run folder or its metrics.jsonl"
        )
    records = read_metrics(run)
    if not records:
        raise UserError(f"{run}: no metrics to export (no metrics.jsonl, or it is empty)")
    buffer = io.StringIO()
    table = csv.DictWriter(buffer, fieldnames=KEYS, lineterminator="\n")
    table.writeheader()
    table.writerows(record.to_json() for record in records)
    try:
        atomic_write_text(out, buffer.getvalue())
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return len(records)
