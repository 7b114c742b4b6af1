"""Runs on disk followed while another process may be writing them, read a little at a time.

Each `RunFollower.poll()` reads only what was appended to `metrics.jsonl` since the last poll (the
reader remembers its offset) and keeps the run's summary (epochs, best accuracy, state) up to date
from the records it read: following never reads a whole file again, however long the run. A run
whose files have not changed costs a few `stat` calls. Polls run on a worker thread, one poll of a
follower at a time (`poll_some`), never on the studio's UI thread.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from resnet_studio.fileio import read_json
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.metrics_file import MetricsReader
from resnet_studio.runs.rundir import LOCK_FILE, RunDirectory
from resnet_studio.runs.runinfo import RunSummary, configured_epochs, planned_epochs, recorded_status

log = logging.getLogger(__name__)

_SMALL_FILE = 1_000_000  # bytes: architecture, config and status files are a few kilobytes


@dataclass
class Poll:
    """What one poll of a run found: the records appended since the last poll and the summary now
    (None when the run folder is gone: it is no longer followed)."""

    path: Path
    records: list[MetricsRecord] = field(default_factory=list)
    summary: RunSummary | None = None


class RunFollower:
    def __init__(self, path: str | Path) -> None:
        self.run = RunDirectory(path)
        self.path = self.run.path
        self.reader = MetricsReader(self.run.metrics_file)
        self.polled_at = 0.0  # never: polled first
        self.summary: RunSummary | None = None
        self._epochs_done = 0
        self._best: float | None = None
        self._name: str | None = None
        self._configured: int | None = None  # the epochs config.json asks for
        self._planned: int | None = None  # the epochs the engine planned (status.json)
        self._recorded: str | None = None
        self._seen: tuple = ()  # the files' sizes and times, and the writer, at the last poll

    def poll(self) -> Poll | None:
        """New records and the summary now; None when nothing changed since the last poll."""
        self.polled_at = time.monotonic()
        if not self.path.is_dir():
            return Poll(self.path)  # deleted or moved: nothing left to follow
        metrics, status, config = (_stat(f) for f in self._files())
        alive = self._writer_alive()
        seen = (metrics, status, config, alive)
        if seen == self._seen and self.summary is not None:
            return None
        last = self._seen or (None, None, None, None)
        self._seen = seen
        if config != last[2]:
            self._configured = configured_epochs(_small_json(self.run.config_file))
        if status != last[1]:
            state = _small_json(self.run.status_file)
            self._recorded, self._planned = recorded_status(state), planned_epochs(state)
        if self._name is None:
            self._name = _network_name(self.run.architecture_file)
        offset = self.reader.offset
        records = self.reader.read_new()
        if self.reader.offset < offset:  # the file was replaced: its records are counted anew
            self._epochs_done, self._best = 0, None
        for record in records:
            if record.kind == "val" and not math.isnan(record.accuracy):
                self._epochs_done = max(self._epochs_done, record.epoch)
                self._best = record.accuracy if self._best is None else max(self._best, record.accuracy)
        self.summary = RunSummary(
            path=self.path,
            architecture=self._name,
            epochs_done=self._epochs_done,
            epochs_planned=self._planned or self._configured,
            best_accuracy=self._best,
            resumable=self.run.last_checkpoint.is_file(),
            updated=max(metrics[1], status[1]),
            recorded=self._recorded,
            writer_alive=alive,
        )
        return Poll(self.path, records, self.summary)

    def _files(self) -> tuple[Path, Path, Path]:
        return self.run.metrics_file, self.run.status_file, self.run.config_file

    def _writer_alive(self) -> bool | None:
        if not (self.path / LOCK_FILE).is_file():
            return None
        return self.run.writer() is not None


def poll_some(followers: Sequence[RunFollower], budget_s: float) -> list[tuple[RunFollower, Poll]]:
    """Poll the followers polled longest ago first, until `budget_s` has passed (at least one):
    a worker thread's job that hands its results back while there is more to read."""
    began = time.monotonic()
    polls = []
    for follower in sorted(followers, key=lambda f: f.polled_at):
        try:
            found = follower.poll()
        except Exception:  # noqa: BLE001 - one broken run never stops the others being followed
            log.warning("cannot follow %s", follower.path, exc_info=True)
            continue
        if found is not None:
            polls.append((follower, found))
        if time.monotonic() - began > budget_s:
            break
    return polls


def _stat(path: Path) -> tuple[int, float]:
    try:
        info = os.stat(path)
    except OSError:
        return (-1, 0.0)
    return (info.st_size, info.st_mtime)


def _network_name(path: Path) -> str:
    try:
        name = read_json(path, _SMALL_FILE).get("name", "?")
    except (OSError, ValueError, AttributeError):
        return "?"
    return str(name)


def _small_json(path: Path) -> object:
    """A config or status file's content (None when it cannot be read)."""
    try:
        return read_json(path, _SMALL_FILE)
    except (OSError, ValueError):
        return None
