"""The Train workspace's progress bar: what the run is doing, its step, speed and ETA.

It keeps the little state an ETA needs (the run's total steps, where it started, when a budget
ends) so that the Train view only hands it the engine's events.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressBar

from resnet_studio.training.events import Featurizing, Planned, Started, Step
from resnet_studio.ui.common.plain_text import tooltip

if TYPE_CHECKING:
    from resnet_studio.runs.runinfo import RunSummary
    from resnet_studio.ui.train.train_plots import RunCurves

PAUSED = " · paused"


class RunProgress(QProgressBar):
    """Its text on one line, cut with "…" where the bar is narrow; the whole text in the tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("trainProgress")
        self.setTextVisible(True)
        self.total_steps = 0
        self.start_step = 0
        self.started_at = 0.0
        self.budget_end: float | None = None  # perf_counter() when a budgeted run ends
        self.featurized = False  # the bar counts a probe's images, not steps
        self.show_text("Ready", 0, 1)

    def text(self) -> str:
        full = super().text()
        tip = tooltip(full)  # the run's name is in it
        if self.toolTip() != tip:
            self.setToolTip(tip)
        return self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, max(20, self.width() - 12))

    def show_text(self, text: str, value: int | None = None, maximum: int | None = None) -> None:
        if maximum is not None:
            self.setRange(0, maximum)
        if value is not None:
            self.setValue(value)
        self.setFormat(text)

    def loading(self) -> None:
        self.setRange(0, 0)  # busy until the data is loaded
        self.setFormat("Loading data…")

    def started(self, event: Started) -> None:
        self.total_steps, self.start_step = event.total_steps, event.start_step
        self.started_at = time.perf_counter()
        self.budget_end = None
        self.featurized = False
        self.show_text(f"Training on {event.device}", event.start_step, max(1, event.total_steps))

    def planned(self, event: Planned) -> None:
        """A time budget set the run's length: the bar and the ETA follow the budget."""
        self.total_steps = event.total_steps
        self.setMaximum(max(1, event.total_steps))
        self.budget_end = time.perf_counter() + max(0.0, event.budget - event.elapsed)

    def featurizing(self, event: Featurizing) -> None:
        """A transfer probe passing the images through the frozen network: the bar counts images.
        The head's steps follow, timed from the end of this pass (their ETA leaves it out)."""
        self.setRange(0, max(1, event.total))
        self.setValue(min(event.done, event.total))
        speed = f"{event.images_per_s:.0f} img/s"  # as the steps say it: the bar is narrow
        self.setFormat(f"Featurising {event.done:,}/{event.total:,} images · {speed}")
        self.started_at = time.perf_counter()
        self.featurized = True

    def stepped(self, event: Step, name: str = "", paused: bool = False) -> None:
        if self.featurized:  # back from counting images to counting steps
            self.featurized = False
            self.setRange(0, max(1, self.total_steps))
            self.start_step = event.step - 1
        done = event.step - self.start_step
        elapsed = time.perf_counter() - self.started_at
        remaining = (self.total_steps - event.step) * elapsed / done if done else 0
        if self.budget_end is not None:
            remaining = max(0.0, self.budget_end - time.perf_counter())
        eta = f"{int(remaining // 60)}:{int(remaining % 60):02d}"
        self.setValue(event.step)
        self.setFormat(
            f"{f'{name} · ' if name else ''}epoch {event.epoch} · step {event.step}/{self.total_steps} · "
            f"{event.images_per_s:.0f} img/s · ETA {eta}{PAUSED if paused else ''}"
        )

    def set_paused(self, paused: bool) -> None:
        text = self.format().split(PAUSED)[0]
        self.setFormat(text + PAUSED if paused else text)

    def followed(self, name: str, summary: RunSummary, curves: RunCurves) -> None:
        """A run on disk that another process trains: its epochs, step, speed and best accuracy."""
        planned = summary.epochs_planned or max(1, summary.epochs_done)
        speed = f" · {curves.speed[-1]:.0f} img/s" if curves.speed else ""
        step = f" · step {int(curves.steps[-1])}" if curves.steps else ""
        best = f" · best {summary.best_accuracy:.1%}" if summary.best_accuracy is not None else ""
        self.show_text(
            f"{name} ({summary.status}): epoch {summary.epochs_done}/{planned}{step}{speed}{best}",
            min(summary.epochs_done, planned),
            planned,
        )
