"""The command line's view of training events: a tqdm bar on a terminal, plain lines elsewhere.

tqdm handles terminal width, rate smoothing and the ETA; writing that by hand is not worth it.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from resnet_studio.training.events import (
    Evaluated,
    Featurizing,
    Finished,
    Planned,
    Started,
    Step,
    counted,
    status_line,
)


class ProgressView:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.bar: tqdm | None = None
        self.epochs = 0
        self.planned_once = False
        # The epoch in progress, for a train-only line when it ends without validation (a log of
        # `--val-every 5` would otherwise say nothing for five epochs).
        self.epoch = 0
        self.last_step = 0
        self.steps = self.loss_sum = self.accuracy_sum = 0.0
        self.epoch_time = 0.0
        self.evaluated_epoch = 0

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def started(self, event: Started) -> None:
        self.epochs = event.epochs
        self.last_step = event.start_step
        where = f" -> {event.run_dir}" if event.run_dir else ""
        resumed = f", resuming at step {event.start_step}" if event.start_step else ""
        self._print(
            f"training on {event.device}: {event.train_images} train / {event.val_images} "
            f"val images, {len(event.classes)} classes, {event.params:,} parameters, "
            f"{counted(event.epochs, 'epoch')} of {counted(event.steps_per_epoch, 'step')}{resumed}{where}"
        )
        for note in event.notes:
            self._print(f"note: {note}")
        if self.interactive:
            self.bar = tqdm(
                total=event.total_steps,
                initial=event.start_step,
                unit="step",
                file=self.stream,
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def featurizing(self, event: Featurizing) -> None:
        """A transfer probe's pass over the images: on the bar while it runs, a line when done."""
        if self.bar is not None:
            self.bar.set_description(f"features {event.done:,}/{event.total:,}", refresh=False)
            self.bar.set_postfix_str(f"{event.images_per_s:.0f} img/s", refresh=True)
        if event.done == event.total:
            self._print(
                f"features of {event.total:,} images (mirrors included) in "
                f"{event.done / max(event.images_per_s, 1e-9):.0f} s, {event.images_per_s:.0f} images/s"
            )

    def planned(self, event: Planned) -> None:
        """A time budget set the run's length: the bar's total and ETA follow it. A line for the
        first plan, and another whenever a revision changes the number of epochs, so that the log
        never plans 55 steps in 1 epoch and then finishes 99 steps, or counts "epoch 3/5" then
        "epoch 4/4", without saying why."""
        first = not self.planned_once
        self.planned_once = True
        revised = not first and event.epochs != self.epochs
        self.epochs = event.epochs
        if self.bar is not None:
            self.bar.total = event.total_steps
            self.bar.refresh()
        if first or revised:
            left = max(0.0, event.budget - event.elapsed)
            what = "budget" if first else "budget revised from the measured speed"
            self._print(
                f"{what} {event.budget:.0f} s: {counted(event.total_steps, 'step')} in "
                f"{counted(event.epochs, 'epoch')}, {left:.0f} s left"
            )

    def step(self, event: Step) -> None:
        if event.epoch != self.epoch:
            self._epoch_ended()
            self.epoch, self.steps, self.loss_sum, self.accuracy_sum = event.epoch, 0.0, 0.0, 0.0
        steps = max(1, event.step - self.last_step)  # a Step's figures cover the steps since the last
        self.last_step = event.step
        self.steps += steps
        self.loss_sum += event.loss * steps
        self.accuracy_sum += event.accuracy * steps
        self.epoch_time = event.time
        if self.bar is None:
            return
        self.bar.update(event.step - self.bar.n)
        self.bar.set_description(f"epoch {event.epoch}/{self.epochs}", refresh=False)
        self.bar.set_postfix_str(
            f"loss {event.loss:.3f}, acc {event.accuracy:.1%}, {event.images_per_s:.0f} img/s",
            refresh=True,
        )

    def _epoch_ended(self) -> None:
        """A line for the epoch that just ended when no validation printed one."""
        if self.steps and self.epoch != self.evaluated_epoch:
            self._print(
                f"epoch {self.epoch}/{self.epochs}: train loss {self.loss_sum / self.steps:.4f} acc "
                f"{self.accuracy_sum / self.steps:.2%} | {self.epoch_time:.0f} s"
            )

    def evaluated(self, event: Evaluated) -> None:
        self.evaluated_epoch = event.epoch
        best = " (best)" if event.best else ""
        self._print(
            f"epoch {event.epoch}/{self.epochs}: train loss {event.train_loss:.4f} acc "
            f"{event.train_accuracy:.2%} | val loss {event.loss:.4f} acc {event.accuracy:.2%}"
            f"{best} | {event.time:.0f} s"
        )

    def finished(self, event: Finished) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        best = f", best val accuracy {event.best_accuracy:.2%}" if event.best_accuracy is not None else ""
        self._print(f"{status_line(event.status, event.message)}{best}")
