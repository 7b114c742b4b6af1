"""What a training run keeps between its steps: the controls other threads change, and the run's
own state (`RunState`): where it stands, its length, its status, its sums and its clocks."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from resnet_studio.errors import UserError
from resnet_studio.training.divergence import DivergenceGuard
from resnet_studio.training.events import Status
from resnet_studio.training.rng import augment_generator


class Controls:
    """What other threads change while a run trains: pause, stop and the pinned image. Each is
    one flag or one reference swap, safe from any thread; the loop looks at them between steps."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.pinned: np.ndarray | None = None  # uint8 (C, H, W)
        self.pinned_version = 0
        # Told (images prepared, images in all) while a folder's on-disk image cache is prepared
        # before the first step: a progress bar, or the studio's status.
        self.on_preparing: Callable[[int, int], None] | None = None

    def preparing(self, done: int, total: int) -> None:
        """The image cache's progress (`data.cache`); a stop asked for meanwhile ends it there:
        the chunks finished are kept, and the next run prepares only the rest."""
        if self.stop.is_set():
            raise UserError("stopped while preparing the image cache; what is prepared is kept for next time")
        if self.on_preparing is not None:
            self.on_preparing(done, total)


class Sums:
    """Loss and correct answers summed on the device (adding costs no host sync), and the count."""

    def __init__(self, device: torch.device, carried: list | None = None) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.int64)
        self.seen = 0
        if carried is not None:  # an interrupted epoch's sums, from its checkpoint
            self.loss += float(carried[0])
            self.correct += int(carried[1])
            self.seen = int(carried[2])

    def add(self, loss_times_n: Tensor, correct: Tensor, n: int) -> None:
        self.loss += loss_times_n
        self.correct += correct
        self.seen += n

    def means(self) -> tuple[float, float]:
        """(mean loss, accuracy): the host sync."""
        total = max(1, self.seen)
        return float(self.loss) / total, float(self.correct) / total

    def saved(self) -> list:
        return [float(self.loss), int(self.correct), self.seen]


@dataclass
class RunState:
    """Everything of a run that changes as it trains, in one place, made before its first step
    (`RunState.new`): where it stands (what a checkpoint records and a resume restores), its
    planned length (a time budget revises it), its status, its sums and its clocks. The loop and
    its hooks (`hooks.py`) read and change it; nothing else holds run state."""

    steps_per_epoch: int  # full batches an epoch, all processes together
    total_steps: int  # optimizer steps the run makes in all, as planned now
    log_every: int  # steps between two Step events
    guard: DivergenceGuard  # the first loss logged, and what counts as diverged from it
    epoch_sums: Sums  # the epoch's losses and correct answers so far (its train loss)
    since_log: Sums  # what the next Step event reports
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps done
    batch_in_epoch: int = 0  # batches done of the epoch under way
    best: float | None = None  # best validation accuracy so far
    elapsed: float = 0.0  # seconds of training before this process started
    status: Status = Status.RUNNING
    message: str = ""  # what Finished and status.json say
    augment: torch.Generator | None = None  # the epoch's augmentation generator, while it runs
    started_at: float = 0.0  # perf_counter() when the run's time began (`elapsed` before now)
    tick: float = 0.0  # perf_counter() when the steps of the next Step event began
    grads_at: float = -math.inf  # perf_counter() when gradient norms were last measured
    epoch_ended_at: float | None = None  # perf_counter() after the last epoch's last step
    epoch_evaluated: bool = False  # whether that epoch's end evaluated the weights

    @classmethod
    def new(
        cls, device: torch.device, steps_per_epoch: int, total_steps: int, log_every: int, world: int
    ) -> RunState:
        # Distributed ranks see different local losses: there only a non-finite one counts (the
        # weights, the same on every rank, are checked each epoch), so that all ranks stop together.
        guard = DivergenceGuard(factor=math.inf if world > 1 else 20.0)
        return cls(steps_per_epoch, total_steps, log_every, guard, Sums(device), Sums(device))

    @property
    def epochs(self) -> int:
        """Epochs in all, as planned now: a last epoch may be partial."""
        return -(-self.total_steps // self.steps_per_epoch)

    @property
    def training(self) -> bool:
        """Whether another epoch is due: steps left and nothing has ended the run."""
        return self.epoch < self.epochs and self.step < self.total_steps and self.running

    @property
    def may_step(self) -> bool:
        """Whether the epoch under way may make another step: steps left, and not ended."""
        return self.step < self.total_steps and self.running

    @property
    def running(self) -> bool:
        """Whether nothing has ended the run yet (a stop, a failure, its planned end)."""
        return self.status is Status.RUNNING

    @property
    def last_of_epoch(self) -> bool:
        """Whether the step just made was its epoch's last (or the run's)."""
        return self.batch_in_epoch == self.steps_per_epoch or self.step == self.total_steps

    @property
    def log_due(self) -> bool:
        """Whether the step just made ends a stretch that a Step event reports."""
        return self.step % self.log_every == 0 or self.last_of_epoch

    def end(self, status: Status, message: str) -> None:
        self.status, self.message = status, message

    def complete(self) -> None:
        """The run reached its planned end, unless something ended it first."""
        if self.running:
            self.status = Status.COMPLETED

    def stop(self) -> None:
        self.end(Status.STOPPED, f"stopped at epoch {self.epoch + 1}, step {self.step}")

    def restore(self, saved: dict[str, Any], seed: int, rank: int) -> None:
        """Take up where a checkpoint's state stood; an epoch interrupted inside continues with
        its sums and its augmentation generator."""
        self.epoch, self.step = int(saved["epoch"]), int(saved["step"])
        self.batch_in_epoch = int(saved.get("batch_in_epoch", 0))
        self.best, self.elapsed = saved.get("best_accuracy"), float(saved.get("time", 0.0))
        self.guard.first = saved.get("first_loss")
        if self.batch_in_epoch:
            self.epoch_sums = Sums(self.epoch_sums.loss.device, saved.get("epoch_sums"))
            self.augment = augment_generator(seed, self.epoch, rank, saved["rng"].get("augment"))
