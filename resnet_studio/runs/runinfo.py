"""Run folders as the Runs list and the exports see them, read without writing and without torch:
a summary of each run (its network, epochs, best accuracy and state, or why it is broken) and
its metrics as CSV."""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_studio.errors import UserError
from resnet_studio.fileio import MAX_JSON_BYTES, atomic_write_text, loads_json, read_json
from resnet_studio.runs.metrics import KEYS, MetricsRecord
from resnet_studio.runs.metrics_file import MAX_METRICS_BYTES, open_run_file, read_metrics
from resnet_studio.runs.rundir import LOCK_FILE, STALE_AFTER_S, RunDirectory, fcntl


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
    problem: str | None = None  # why the run is broken: a file that cannot be read, a bad field

    @property
    def problem_here(self) -> str | None:
        """`problem` with the run folder's own path left out ("config.json: epochs: ..."): what
        a line that already names the run needs."""
        if self.problem is None:
            return None
        return self.problem.replace(f"{self.path}{os.sep}", "")

    @property
    def status(self) -> str:
        if self.problem is not None:
            return "broken"
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
    """A run folder's architecture name, epochs, best validation accuracy and state. A run whose
    files cannot be used is summarised as broken, with the reason (`problem`), not refused: the
    Runs list shows it among the others."""
    run = RunDirectory(path)
    if not os.path.lexists(run.metrics_file) and not os.path.lexists(run.config_file):
        raise UserError(f"{path}: not a run folder (no metrics.jsonl or config.json)")
    problems = []
    try:
        name = str(read_json(run.architecture_file, follow_links=False).get("name", "?"))
    except (OSError, ValueError, AttributeError):
        name = "?"
    planned = None
    if os.path.lexists(run.config_file):
        try:
            planned = configured_epochs(run.read_config())
        except UserError as exc:
            problems.append(str(exc))
    done, best, updated = _read_val_records(run.metrics_file, problems)
    try:
        status = read_json(run.status_file, MAX_JSON_BYTES, follow_links=False)
        updated = max(updated, os.stat(run.status_file).st_mtime)
    except (OSError, ValueError):
        status = None
    recorded = recorded_status(status)
    planned = planned_epochs(status) or planned
    alive = None if fcntl is None or not (run.path / LOCK_FILE).is_file() else run.writer() is not None
    resumable = os.path.isfile(run.last_checkpoint) and not os.path.islink(run.last_checkpoint)
    problem = "; ".join(problems) or None
    return RunSummary(run.path, name, done, planned, best, resumable, updated, recorded, alive, problem)


def configured_epochs(config: Any) -> int | None:
    """The epochs a run's config.json asks for; None when its length is a step count or a time
    budget (its epochs are the engine's plan: `planned_epochs`) or the file says nothing usable."""
    if not isinstance(config, dict) or config.get("steps") is not None or config.get("budget") is not None:
        return None
    epochs = config.get("epochs", 3)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not math.isfinite(epochs):
        return None
    return int(epochs)


def planned_epochs(status: Any) -> int | None:
    """The run's length in epochs as its engine planned it, from status.json (runs of older
    versions do not record it: None)."""
    epochs = status.get("epochs_planned") if isinstance(status, dict) else None
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else None


def recorded_status(status: Any) -> str | None:
    """status.json's state, when it is one of the four."""
    recorded = status.get("status") if isinstance(status, dict) else None
    return recorded if recorded in ("running", "completed", "stopped", "failed") else None


def _read_val_records(path: Path, problems: list[str]) -> tuple[int, float | None, float]:
    """(epochs validated, best validation accuracy, when the file changed) of a metrics file;
    a file that cannot be read adds its reason to `problems`."""
    done, best, updated = 0, None, 0.0
    try:
        with open_run_file(path, MAX_METRICS_BYTES) as handle:
            updated = os.fstat(handle.fileno()).st_mtime
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
    except FileNotFoundError:
        pass
    except UserError as exc:
        problems.append(str(exc))
    return done, best, updated


def list_runs(root: str | Path) -> list[RunSummary]:
    """Every run folder directly under `root`, most recently updated first (broken ones too)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        if entry.is_dir() and any(os.path.lexists(entry / name) for name in ("metrics.jsonl", "config.json")):
            try:
                found.append(summarize_run(entry))
            except (UserError, OSError):
                continue
    return sorted(found, key=lambda run: run.updated, reverse=True)


def metrics_to_csv(run: str | Path, out: str | Path) -> int:
    """Write a run's metrics as CSV (one row per record, the keys resources/FORMATS.md gives as
    columns); the row count."""
    source = Path(run)
    if source.is_file() and source.suffix != ".jsonl":
        raise UserError(
            f"{run}: --format csv exports a run's metrics: give the run folder or its metrics.jsonl"
        )
    records = read_metrics(run)
    if not records:
        raise UserError(f"{run}: no metrics to export (no metrics.jsonl, or it is empty)")
    buffer = io.StringIO()
    table = csv.DictWriter(buffer, fieldnames=KEYS, lineterminator="\n", extrasaction="ignore")
    table.writeheader()
    table.writerows(record.to_json() for record in records)
    try:
        atomic_write_text(out, buffer.getvalue())
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return len(records)
