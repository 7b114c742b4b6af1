"""All training hyper-parameters in one typed config, with units in the names or comments."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from resnet_studio.errors import UserError

if TYPE_CHECKING:  # the module imports torch, which a config does not need
    from resnet_studio.data.transforms import PaddingMode

Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["step", "cosine", "onecycle", "constant"]
Device = str  # "auto", "cpu", "cuda", "cuda:N" or "mps"


@dataclass
class TrainConfig:
    data: str = "demo"  # --data SPEC
    epochs: int = 3
    steps: int | None = None  # optimizer steps in all; when set it decides the number of epochs
    budget: float | None = None  # seconds of wall time, data loading and evaluation included
    val_fraction: float = 0.0  # hold out this fraction of the training set for validation
    val_every: int = 1  # epochs between validation passes; 0: only after the last epoch
    batch_size: int = 128  # images per step (per process when distributed)
    optimizer: Optimizer = "sgd"
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9  # SGD momentum; beta1 for Adam/AdamW
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: Schedule = "onecycle"
    warmup_fraction: float = 0.15  # onecycle: fraction of all steps spent rising to `lr`
    label_smoothing: float = 0.0
    tta: bool = False  # flip test-time augmentation: predictions average an image and its mirror
    tta_shift: int = 0  # pixels; with tta, also average views shifted diagonally both ways (x3 cost)
    augment: bool = True  # pad + random crop + horizontal flip
    crop_padding: int = 4  # pixels of padding the random crop moves within (0: flips only)
    crop_fill: PaddingMode = "zeros"  # what the padding shows: black, or the border mirrored
    zero_init_residual: bool = False
    init: str | None = None  # start from these weights (checkpoint, run folder or shipped name)
    limit_train: int | None = None  # use at most this many training images
    limit_val: int | None = None
    device: Device = "auto"
    threads: int | None = None  # CPU threads for torch; None: one per core
    channels_last: bool | None = None  # None: chosen per device (measured faster on CPU and GPU)
    amp: bool | None = None  # mixed precision; None: on for CUDA (bf16 or fp16), off on CPU
    log_every: int | None = None  # steps between train metrics; None: 1 on CPU, 25 on GPU
    grad_norms: bool = False  # per-block gradient norms in Step events (the studio's gradient view)
    grad_norm_interval: float = 0.5  # seconds between two measurements of them (they cost a step ~7%)
    activation_interval: float = 0.3  # seconds between feature-map snapshots of a pinned image
    contributions: bool = False  # block contributions ||F(x)||/||x|| in Contributions events
    contribution_interval: float = 2.0  # seconds between two measurements (a 32-image no-grad pass)
    seed: int = 0
    download: bool = False
    distributed: bool = False
    tensorboard: bool = False  # also write a TensorBoard event log (needs the tensorboard package)
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        def bad(name: str, why: str) -> UserError:
            return UserError(f"{name}: {why}, got {getattr(self, name)!r}")

        padding = self.crop_padding
        if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding <= 64:
            raise bad("crop_padding", "must be an integer from 0 to 64")
        shift = self.tta_shift
        if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= 8:
            raise bad("tta_shift", "must be an integer from 0 to 8")
        every = self.val_every
        if isinstance(every, bool) or not isinstance(every, int) or not 0 <= every <= 1_000_000:
            raise bad("val_every", "must be a whole number of epochs, 0 or more")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "must be a positive integer")
        for name in (
            "lr",
            "momentum",
            "weight_decay",
            "label_smoothing",
            "warmup_fraction",
            "activation_interval",
            "contribution_interval",
            "grad_norm_interval",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise bad(name, "must be a finite number >= 0")
        if self.lr <= 0:
            raise bad("lr", "must be > 0")
        if not self.label_smoothing < 1 or not self.momentum < 1 or not self.warmup_fraction < 1:
            raise UserError("label_smoothing, momentum and warmup_fraction must be below 1")
        for name, choices in (
            ("optimizer", ("sgd", "adam", "adamw")),
            ("schedule", ("step", "cosine", "onecycle", "constant")),
            ("crop_fill", ("zeros", "reflect")),
        ):
            if getattr(self, name) not in choices:
                raise bad(name, f"must be one of {', '.join(choices)}")
        kind, _, index = str(self.device).partition(":")
        if kind not in ("auto", "cpu", "cuda", "mps") or index and (kind != "cuda" or not index.isdigit()):
            raise bad("device", "must be auto, cpu, cuda, cuda:N or mps")
        if not isinstance(self.val_fraction, (int, float)) or not 0 <= self.val_fraction <= 0.5:
            raise bad("val_fraction", "must be a number from 0 to 0.5")
        if self.budget is not None and (
            not isinstance(self.budget, (int, float)) or not math.isfinite(self.budget) or self.budget < 1
        ):
            raise bad("budget", "must be at least 1 second")
        if self.budget is not None and self.distributed:
            # Each rank would time itself and plan its own number of steps: DDP needs them equal.
            raise UserError("budget: not available with --distributed yet; use --epochs or --steps")
        for name in ("limit_train", "limit_val", "threads", "log_every", "steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise bad(name, "must be a positive integer")

        if not isinstance(self.data, str):  # a project's or config.json's "data": ["x"]
            raise bad("data", "must be text (demo, cifar10, folder:PATH)")
        if self.init is not None and (not isinstance(self.init, str) or not self.init.strip()):
            raise bad("init", "must name a checkpoint, a run folder or shipped weights")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a saved config, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def resumed_config(saved: dict[str, Any], **overrides: Any) -> TrainConfig:
    """What a resumed run trains with: its saved config (config.json), then `overrides` that are not
    None (the command line's options; the studio's epochs, device and threads)."""
    return TrainConfig.from_dict({**saved, **{k: v for k, v in overrides.items() if v is not None}})


def lr_factor(schedule: str, step: int, total: int, warmup_fraction: float = 0.15) -> float:
    """Multiplier of the peak learning rate at `step` (0-based) of `total` steps."""
    progress = step / max(1, total)
    if schedule == "constant":
        return 1.0
    if schedule == "step":  # He et al.: divide by 10 at 50% and 75% of training
        return 0.01 if progress >= 0.75 else 0.1 if progress >= 0.5 else 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    # onecycle: linear rise from 0.1x to the peak, then linear fall to zero
    if progress < warmup_fraction:
        return 0.1 + 0.9 * progress / warmup_fraction
    return max(0.0, (1 - progress) / (1 - warmup_fraction))


def parse_duration(text: str) -> float:
    """'10m' -> 600.0; also '90s', '1h', '1h30m', '2m30s' or plain seconds ('45')."""
    value = text.strip().lower()
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", value)
    if not value or match is None or not any(match.groups()):
        raise UserError(f"budget {text!r}: expected a duration such as 10m, 90s or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total < 1:
        raise UserError(f"budget {text!r}: must be at least 1 second")
    return total
