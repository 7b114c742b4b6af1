"""The engine's events: small plain values that the command line and the studio render."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from resnet_studio.user_text import counted as counted  # the events' messages count with it


class Status(StrEnum):
    """A run's status (`RunState.status`, status.json's "status"); `Finished.status` is one of
    the last three. Each equals its text, so `finished.status == "completed"` holds and JSON
    writes the text."""

    RUNNING = "running"  # training: nothing has ended it yet
    COMPLETED = "completed"  # ran to its planned end
    STOPPED = "stopped"
    FAILED = "failed"


def status_line(status: str, message: str) -> str:
    """`completed: finished 99 steps`, but `stopped at epoch 2, step 40` where the message already
    starts with the status (never "stopped: stopped at epoch 2")."""
    return message if message.startswith(status) else f"{status}: {message}"


@dataclass(frozen=True)
class Started:
    run_dir: str | None
    device: str
    epochs: int
    steps_per_epoch: int
    total_steps: int
    start_step: int  # > 0 when resumed
    params: int
    classes: tuple[str, ...]
    train_images: int
    val_images: int
    notes: tuple[str, ...] = ()  # e.g. unreadable files skipped


@dataclass(frozen=True)
class Planned:
    """A time budget has set (or revised) the length of the run."""

    epochs: int
    total_steps: int
    budget: float  # seconds
    elapsed: float  # seconds of the budget spent so far


@dataclass(frozen=True)
class Step:
    epoch: int  # 1-based epoch in progress
    step: int  # optimizer steps done, over the whole run
    loss: float  # mean training loss since the previous Step event
    accuracy: float  # training accuracy since the previous Step event
    lr: float
    images_per_s: float
    time: float  # seconds of training since the run started
    progress: float  # 0..1 of all steps
    # L2 norm of each block's weight gradients, stem to head; NaN for a part without trainable weights
    grad_norms: tuple[float, ...] = ()


@dataclass(frozen=True)
class Evaluated:
    epoch: int
    step: int
    loss: float
    accuracy: float
    train_loss: float  # over the whole epoch
    train_accuracy: float
    time: float
    best: bool


@dataclass(frozen=True)
class Activations:
    """Feature maps of the pinned image after `step` steps, from a separate no-grad pass."""

    step: int
    maps: tuple[tuple[str, np.ndarray], ...] = field(repr=False)  # (block, float32 (c, h, w))
    probabilities: tuple[float, ...] = field(repr=False, default=())  # softmax over the classes


@dataclass(frozen=True)
class Contributions:
    """Block contributions ||F(x)|| / ||shortcut(x)|| of every residual block (the studio's
    contribution strip), on the fixed probe batch and on the pinned image when there is one."""

    step: int
    blocks: tuple[str, ...]
    probe: tuple[float, ...]  # mean over the probe batch, one per block
    pinned: tuple[float, ...] = ()  # the pinned image's, one per block; () when none is pinned
    seconds: float = 0.0  # what measuring them took (their cost to training, summed in bench)


@dataclass(frozen=True)
class Featurizing:
    """A transfer probe passing the training images through the frozen network once, before its
    new output layer trains on the pooled features (the head's Step events follow)."""

    done: int  # images featurised so far (flipped copies included)
    total: int
    images_per_s: float
    time: float  # seconds since the run started


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    epoch: int
    step: int


@dataclass(frozen=True)
class Finished:
    status: Status  # completed, stopped or failed: never running
    message: str
    epoch: int
    step: int
    best_accuracy: float | None
    time: float


Event = (
    Started
    | Planned
    | Step
    | Evaluated
    | Activations
    | Contributions
    | Featurizing
    | CheckpointSaved
    | Finished
)
