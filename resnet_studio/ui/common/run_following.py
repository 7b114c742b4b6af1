"""Run folders on disk followed by the studio, however many: a project may list hundreds.

The UI thread never reads a run's files: one background job at a time polls the followed runs
(`runs.following`: only the bytes appended since the last look), for at most READ_BUDGET_S,
and hands back what it found. Everything the UI thread does for them (announcing a run so that
its curves are made, handing out records and summaries) is done a slice at a time, at most
SLICE_MS per pass of the event loop, so the window stays responsive while hundreds fill in.

A run stops being followed when its folder disappears, or when `remove`d (its project closed).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background

if TYPE_CHECKING:
    from resnet_studio.runs.following import Poll, RunFollower
    from resnet_studio.runs.runinfo import RunSummary

FOLLOW_EVERY_MS = 500  # between looks at the followed runs
READ_BUDGET_S = 0.2  # one job's reading, before it hands its results back
SLICE_MS = 12.0  # the UI thread's share of one pass of the event loop


class FollowedRuns(QObject):
    following = Signal(object)  # a run folder, followed from now on: make its curves
    followed = Signal(object, list)  # (run folder, its new MetricsRecords; its summary is updated)
    unfollowed = Signal(object)  # a run folder no longer followed (closed, or gone from disk)
    failed = Signal(str)  # reading the runs failed: why (said once until a read succeeds)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.followers: dict[Path, RunFollower] = {}
        self.summaries: dict[Path, RunSummary] = {}  # the latest, read off the UI thread
        self._announce: deque[Path] = deque()  # followed, not yet announced (no curves yet)
        self._results: deque[tuple[RunFollower, Poll]] = deque()  # read, not yet handed out
        self._reading = False  # a job is under way
        self._failing = False
        self.timer = QTimer(self)
        self.timer.setInterval(FOLLOW_EVERY_MS)
        self.timer.timeout.connect(self._read)
        self._pump_timer = QTimer(self)  # the next slice, on the next pass of the event loop
        self._pump_timer.setSingleShot(True)
        self._pump_timer.setInterval(0)
        self._pump_timer.timeout.connect(self._pump)

    def __contains__(self, path: object) -> bool:
        return path in self.followers

    def add(self, path: Path, now: bool = True) -> None:
        """Follow this run folder (resolved); `now`: announce it at once (one run the user asked
        for), else in a later slice (the many runs of a project)."""
        from resnet_studio.runs.following import RunFollower

        self.followers[path] = RunFollower(path)
        self._announce.append(path)
        if now:
            self._pump()
        else:
            self._pump_timer.start()
        self.timer.start()

    def remove(self, path: Path) -> None:
        if self.followers.pop(path, None) is None:
            return
        self.summaries.pop(path, None)
        if path in self._announce:
            self._announce.remove(path)  # never announced: no curves to take away
        else:
            self.unfollowed.emit(path)
        if not self.followers:
            self.timer.stop()

    def clear(self) -> None:
        for path in list(self.followers):
            self.remove(path)

    @property
    def busy(self) -> bool:
        """Runs wait to be announced, read or handed out."""
        return bool(self._announce or self._results or self._reading or self._unread())

    # -- on the UI thread, a slice at a time -------------------------------------------------------

    def _pump(self) -> None:
        began = time.perf_counter()
        while (self._announce or self._results) and (time.perf_counter() - began) * 1000 < SLICE_MS:
            if self._announce:
                self.following.emit(self._announce.popleft())
            else:
                self._hand_out(*self._results.popleft())
        if self._announce or self._results:
            self._pump_timer.start()
        elif self._unread():
            self._read()  # runs never read yet: no need to wait for the timer

    def _hand_out(self, follower: RunFollower, poll: Poll) -> None:
        if self.followers.get(poll.path) is not follower:
            return  # removed meanwhile (and perhaps followed anew: read again from the start)
        if poll.summary is None:
            self.remove(poll.path)  # the folder is gone
            return
        self.summaries[poll.path] = poll.summary
        self.followed.emit(poll.path, poll.records)

    def _unread(self) -> bool:
        return any(f.summary is None for p, f in self.followers.items() if p not in self._announce)

    # -- reading, off the UI thread -----------------------------------------------------------------

    def _read(self) -> None:
        if self._reading or self._results:
            return  # one job at a time, and what the last one found is handed out first
        ready = [f for p, f in self.followers.items() if p not in self._announce]
        if not ready:
            return
        from resnet_studio.runs.following import poll_some

        self._reading = True
        run_in_background(lambda: poll_some(ready, READ_BUDGET_S), self, self._read_done, self._read_failed)

    def _read_done(self, polls: list[tuple[RunFollower, Poll]]) -> None:
        self._reading, self._failing = False, False
        self._results.extend(polls)
        self._pump()

    def _read_failed(self, exc: Exception) -> None:
        self._reading = False
        if not self._failing:  # said once, not every half second
            self._failing = True
            self.failed.emit(f"Cannot read the followed runs: {error_text(exc)}")
