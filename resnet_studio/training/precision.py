"""Which number format trains fastest on this CPU: measured on the real model and batch at the
start of a run, as cuDNN's benchmark mode picks a convolution algorithm.

CPUs with bf16 matrix units (Intel AMX, AVX512-BF16; `nn.cpu_features`) run a bf16-autocast step
up to 2x faster than float32; without them bf16 is emulated and several times slower. Flags alone
do not say which wins for a given network and batch, so `auto` times a few steps of each and keeps
bf16 only when it is clearly faster. What is skipped, and why:
- a GPU keeps its own mixed precision (`device.settings_for`): `precision` is the CPU's;
- a CPU without matrix units trains in float32 without a trial;
- a short run (fewer than `TRIAL_MIN_STEPS` steps, or a budget under `TRIAL_MIN_BUDGET_S`) trains
  in float32: the trial would cost more than it could save (tests' tiny runs pay nothing);
- a distributed run trains in float32: each process would time itself and might choose otherwise;
- a resumed run trains as it started (config.json holds the choice, not "auto"), so that it
  continues exactly; a run from before the choice was recorded trained in float32.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F

from resnet_studio.nn.cpu_features import MATRIX_FLAGS, cpu_flags, cpu_model, matrix_units
from resnet_studio.training.device import DeviceSettings

if TYPE_CHECKING:
    from resnet_studio.architecture.spec import ArchitectureSpec
    from resnet_studio.training.config import TrainConfig

__all__ = ["MATRIX_FLAGS", "cpu_flags", "cpu_model", "matrix_units"]

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
KEEP_BF16_AT = 1.15  # bf16 must be this much faster: below it, float32's accuracy is worth more
TRIAL_MIN_STEPS = 150  # a trial costs about 8 steps' time: shorter runs cannot win it back
TRIAL_MIN_BUDGET_S = 60.0
TRIAL_SECONDS = 2.0  # the trial's timed rounds stop after about this long (a large network)


@dataclass(frozen=True)
class PrecisionChoice:
    precision: Literal["fp32", "bf16"]
    reason: str  # asked for, measured, or why nothing was measured
    fp32_images_per_s: float | None = None
    bf16_images_per_s: float | None = None

    @property
    def bf16_vs_fp32(self) -> float | None:
        if not self.fp32_images_per_s or self.bf16_images_per_s is None:
            return None
        return self.bf16_images_per_s / self.fp32_images_per_s

    def note(self) -> str:
        return f"precision: {self.precision} ({self.reason})"

    def to_dict(self) -> dict[str, object]:
        return {
            "precision": self.precision,
            "reason": self.reason,
            "fp32_images_per_s": _rounded(self.fp32_images_per_s),
            "bf16_images_per_s": _rounded(self.bf16_images_per_s),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def trial_speeds(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    rounds: int = 3,
    seconds: float = TRIAL_SECONDS,
) -> tuple[float, float]:
    """(float32, bf16) images a second of forward and backward passes (no optimizer step): one
    pass of each to warm up, then `rounds` rounds of one pass each, alternating, so that a passing
    disturbance on a shared machine hits both alike; the median of each. Fewer rounds (at least
    one) once `seconds` have passed."""

    def one_pass(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(images).float(), labels)
        model.zero_grad(set_to_none=True)
        loss.backward()
        return time.perf_counter() - start

    one_pass(False)
    one_pass(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    began = time.perf_counter()
    while len(times[True]) < rounds and (not times[True] or time.perf_counter() - began < seconds):
        for bf16 in (False, True) if len(times[True]) % 2 == 0 else (True, False):
            times[bf16].append(one_pass(bf16))
    model.zero_grad(set_to_none=True)
    n = len(images)
    return n / statistics.median(times[False]), n / statistics.median(times[True])


def choose_precision(
    asked: str,
    model: torch.nn.Module,
    batch: int,
    channels: int,
    size: int,
    classes: int,
    channels_last: bool,
    rounds: int = 3,
    units: tuple[str, ...] | None = None,
) -> PrecisionChoice:
    """The CPU's training precision for `asked` ("auto", "fp32" or "bf16"). `auto` times a copy of
    `model` on a batch of random images, so the run's weights, statistics and random streams are
    untouched; without bf16 matrix units (`units`, default this CPU's) it measures nothing and
    keeps float32."""
    if asked in ("fp32", "bf16"):
        return PrecisionChoice(asked, "asked for")  # type: ignore[arg-type]
    units = matrix_units() if units is None else units
    if not units:
        return PrecisionChoice("fp32", f"this CPU has no bf16 matrix units ({' or '.join(MATRIX_FLAGS)})")
    trial = copy.deepcopy(model).train()
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, channels, size, size, generator=generator)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, classes, (batch,), generator=generator)
    with torch.random.fork_rng(devices=[]):  # dropout in the trial draws from a copy of the stream
        fp32, bf16 = trial_speeds(trial, images, labels, rounds)
    ratio = bf16 / fp32
    keep = ratio >= KEEP_BF16_AT
    verdict = "kept" if keep else f"not {KEEP_BF16_AT:.2f}x faster"
    reason = (
        f"measured: bf16 {bf16:.0f} vs fp32 {fp32:.0f} images/s, {ratio:.2f}x, {verdict}; "
        f"CPU has {', '.join(units)}"
    )
    return PrecisionChoice("bf16" if keep else "fp32", reason, fp32, bf16)


def run_precision(
    asked: str,
    amp: bool | None,
    settings: DeviceSettings,
    model: torch.nn.Module,
    *,
    batch: int,
    channels: int,
    size: int,
    classes: int,
    total_steps: int,
    budget: float | None,
    resumed: str | None,
    distributed: bool,
) -> tuple[DeviceSettings, PrecisionChoice | None]:
    """A run's device settings with its CPU precision settled, and the choice (None on a GPU,
    whose mixed precision stays as `settings_for` chose it). `resumed`: the precision the resumed
    checkpoint's config recorded ("auto" or "" for a run from before it was recorded; None for a
    new run). See the module's docstring."""
    if settings.device.type != "cpu":
        return settings, None
    if asked == "auto" and amp is not None:  # the older switch, given explicitly
        asked = "bf16" if amp else "fp32"
    if asked == "auto" and resumed in ("fp32", "bf16"):
        asked = resumed
    if asked == "auto":
        short = total_steps < TRIAL_MIN_STEPS if budget is None else budget < TRIAL_MIN_BUDGET_S
        why = (
            "resumed: the run started before its precision was recorded, in float32"
            if resumed is not None
            else "a distributed run: its processes would time themselves apart"
            if distributed
            else "a short run: timing both would cost more than it could save"
            if short
            else None
        )
        if why is not None and matrix_units():
            choice = PrecisionChoice("fp32", why)
        else:
            choice = choose_precision(asked, model, batch, channels, size, classes, settings.channels_last)
    else:
        choice = PrecisionChoice(asked, "as the run started" if resumed == asked else "asked for")  # type: ignore[arg-type]
    dtype = torch.bfloat16 if choice.precision == "bf16" else None
    return replace(settings, amp_dtype=dtype), choice


def settle_precision(
    cfg: TrainConfig,
    settings: DeviceSettings,
    model: torch.nn.Module,
    spec: ArchitectureSpec,
    total_steps: int,
    world: int,
    resume_state: dict[str, Any] | None,
) -> tuple[DeviceSettings, PrecisionChoice | None]:
    """`run_precision` for a `TrainingLoop` being set up: its steps in all, its processes and the
    checkpoint it resumes, whose config says how it trained."""
    resumed = None
    if resume_state is not None:
        saved = resume_state.get("config")
        resumed = str(saved.get("precision", "")) if isinstance(saved, dict) else ""
    return run_precision(
        cfg.precision,
        cfg.amp,
        settings,
        model,
        batch=cfg.batch_size,
        channels=spec.input.channels,
        size=spec.input.size,
        classes=spec.classes,
        total_steps=total_steps,
        budget=cfg.budget,
        resumed=resumed,
        distributed=world > 1,
    )
