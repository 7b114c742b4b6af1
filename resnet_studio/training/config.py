"""A run's settings, in three typed parts by who sets them, composed in `TrainConfig`.

- `RecipeSettings`: what a recipe sets, and what decides the weights: the data, the run's length,
  the optimiser and its schedule, augmentation, evaluation, starting weights and the seed.
- `MachineSettings`: what the machine sets: where and how fast the same recipe runs (device,
  threads, number formats, processes, memory for images).
- `ProbeSettings`: what the probes set: what is watched and logged beside training (metrics,
  gradient norms, feature maps, block contributions), none of which changes the weights.

Each part is a frozen dataclass that checks its own fields (`config_rules`); `TrainConfig` is all
three in one flat value (`TrainConfig(epochs=3, threads=2)`, `cfg.lr`), and `cfg.recipe`,
`cfg.machine` and `cfg.probes` hand out each part alone. On disk (config.json, a project's
training settings) a config is one flat object of every field (`to_dict`), as before the split;
a checkpoint keeps the recipe and the machine (`checkpoint_dict`): the probes' intervals say
nothing about its weights. Every saved form loads with `from_dict`, old ones included.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from resnet_studio.config_rules import check_config_fields, check_saved_config
from resnet_studio.errors import UserError

if TYPE_CHECKING:  # the module imports torch, which a config does not need
    from resnet_studio.data.transforms import PaddingMode

Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["step", "cosine", "onecycle", "constant"]
Transfer = Literal["probe", "finetune", "full"]
Device = str  # "auto", "cpu", "cuda", "cuda:N" or "mps"
Precision = Literal["auto", "fp32", "bf16"]

Part = TypeVar("Part", "RecipeSettings", "MachineSettings", "ProbeSettings")


class _Checked:
    """A settings part checks its fields when made (and `dataclasses.replace` makes a new one)."""

    def __post_init__(self) -> None:
        check_config_fields(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class RecipeSettings(_Checked):
    """The hyper-parameters and the data: what a recipe (`recipes.py`) sets and a checkpoint's
    weights follow from."""

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
    augment: bool = True  # random crops and horizontal flips (`augmentation` says which crops)
    # "crop-flip" (pad + random crop), "resized-crop-flip" (ImageNet's random resized crop of images
    # stored with a margin; evaluation: resize, centre crop) or "auto": the first below 64 px, the
    # second from 64 px on, resolved when the run starts (training/augmentation.py)
    augmentation: str = "auto"
    crop_padding: int = 4  # pixels of padding the random crop moves within (0: flips only)
    crop_fill: PaddingMode = "zeros"  # what the padding shows: black, or the border mirrored
    zero_init_residual: bool = False
    init: str | None = None  # start from these weights (checkpoint, run folder or shipped name)
    # With `init`, what trains (the transfer recipes, `training/transfer.py`): "probe" the new
    # output layer on features of the frozen network, "finetune" the last stage and the output
    # layer, "full" everything; None: everything, as any run
    transfer: Transfer | None = None
    limit_train: int | None = None  # images: use at most this many training images
    limit_val: int | None = None  # images
    seed: int = 0


@dataclass(frozen=True)
class MachineSettings(_Checked):
    """Where and how fast a recipe runs: the same recipe on another machine sets these anew (a
    resume takes this machine's `device` and `threads`)."""

    device: Device = "auto"
    threads: int | None = None  # CPU threads for torch; None: one per core
    channels_last: bool | None = None  # None: chosen per device (measured faster on CPU and GPU)
    amp: bool | None = None  # mixed precision; None: on for CUDA (bf16 or fp16), off on CPU
    # The CPU's number format: auto times both at the start of a run where bf16 matrix units may
    # pay (`training.precision`); a run's config.json records what it chose. GPUs keep `amp`.
    precision: Precision = "auto"
    distributed: bool = False  # one process of several started by torchrun
    sync_batchnorm: bool = False  # distributed: BatchNorm statistics over all processes' batches
    # bytes of decoded images a folder source may hold in memory; above it the images are prepared
    # into an on-disk, memory-mapped cache (--data-memory). None: a quarter of the machine's memory
    data_memory: int | None = None
    download: bool = False  # fetch a named data set (cifar10) that is not on disk yet


@dataclass(frozen=True)
class ProbeSettings(_Checked):
    """What is watched and logged beside training, throttled so that watching costs the run a
    few percent at most (`probes.py`); none of it changes the weights."""

    log_every: int | None = None  # steps between train metrics; None: 1 on CPU, 25 on GPU
    tensorboard: bool = False  # also write a TensorBoard event log (needs the tensorboard package)
    grad_norms: bool = False  # per-block gradient norms in Step events (the studio's gradient view)
    grad_norm_interval: float = 0.5  # seconds between two measurements of them (they cost a step ~7%)
    activation_interval: float = 0.3  # seconds between feature-map snapshots of a pinned image
    contributions: bool = False  # block contributions ||F(x)||/||x|| in Contributions events
    contribution_interval: float = 2.0  # seconds between two measurements (a 32-image no-grad pass)


@dataclass(frozen=True)
class TrainConfig(ProbeSettings, MachineSettings, RecipeSettings):
    """A run's settings: the recipe's, the machine's and the probes' fields in one flat value
    (fields in that order; a rule between fields of two parts, such as a budget refused with
    `distributed`, is checked here on the whole)."""

    @property
    def recipe(self) -> RecipeSettings:
        return self._part(RecipeSettings)

    @property
    def machine(self) -> MachineSettings:
        return self._part(MachineSettings)

    @property
    def probes(self) -> ProbeSettings:
        return self._part(ProbeSettings)

    def _part(self, part: type[Part]) -> Part:
        return part(**{f.name: getattr(self, f.name) for f in fields(part)})

    @classmethod
    def of(
        cls,
        recipe: RecipeSettings | None = None,
        machine: MachineSettings | None = None,
        probes: ProbeSettings | None = None,
    ) -> TrainConfig:
        """The config of these parts (each defaults to its own defaults)."""
        parts = (recipe or RecipeSettings(), machine or MachineSettings(), probes or ProbeSettings())
        return cls(**{k: v for part in parts for k, v in asdict(part).items()})

    def check(self) -> None:
        """`UserError` naming the first field that breaks its rule (`config_rules`)."""
        check_config_fields(asdict(self))

    def to_dict(self) -> dict[str, Any]:
        """Every field, flat: config.json's and a project's form (resources/FORMATS.md)."""
        return asdict(self)

    def checkpoint_dict(self) -> dict[str, Any]:
        """What a checkpoint records: the recipe's and the machine's fields, flat."""
        return {**asdict(self.recipe), **asdict(self.machine)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> TrainConfig:
        """Build from a saved config, ignoring keys this version does not know; every known field
        is checked, and an error names `where` (the file) before the field. A missing field keeps
        its default: a checkpoint's config has no probe settings, an old one lacks newer fields."""
        check_saved_config(data, where)
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except UserError as exc:  # a rule between fields, checked on the whole
            raise UserError(f"{where}{exc}") from None


def resumed_config(saved: dict[str, Any], where: str = "", **overrides: Any) -> TrainConfig:
    """What a resumed run trains with: its saved config (config.json, named by `where` in errors),
    then `overrides` that are not None (the command line's options; the studio's epochs, device
    and threads). Epochs or steps given without a budget replace the saved length entirely: the
    saved budget goes, and so do saved steps when only epochs are given."""
    base = TrainConfig.from_dict(saved, where).to_dict()
    given = {k: v for k, v in overrides.items() if v is not None}
    if "epochs" in given or "steps" in given:
        base["budget"] = given.get("budget")
        base["steps"] = given.get("steps")
    return TrainConfig.from_dict({**base, **given})


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
