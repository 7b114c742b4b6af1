"""What a training run keeps between its steps: the controls other threads change, where the run
stands (what a checkpoint records), and the sums of losses and correct answers."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


class Controls:
    """What other threads change while a run trains: pause, stop and the pinned image. Each is
    one flag or one reference swap, safe from any thread; the loop looks at them between steps."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.pinned: np.ndarray | None = None  # uint8 (C, H, W)
        self.pinned_version = 0


@dataclass
class Position:
    """Where a run stands: what a checkpoint records and a resume restores."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps done
    batch_in_epoch: int = 0  # batches done of the epoch under way
    best: float | None = None  # best validation accuracy so far
    elapsed: float = 0.0  # seconds of training before this process started

    def restore(self, state: dict[str, Any]) -> None:
        """Take up where a checkpoint's `state` stood."""
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        self.best, self.elapsed = state.get("best_accuracy"), float(state.get("time", 0.0))


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
