"""Which number format trains fastest on this CPU: measured on the real model and batch, as
cuDNN's benchmark mode picks a convolution algorithm.

CPUs with bf16 matrix units (Intel AMX, AVX512-BF16; `lscpu` lists `amx_bf16` or `avx512_bf16`)
run a bf16-autocast step up to 2x faster than float32; without them bf16 is emulated and several
times slower. Flags alone do not say which wins for a given network and batch, so `auto` times a
few steps of each and keeps bf16 only when it is clearly faster.
"""

from __future__ import annotations

import copy
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
MATRIX_FLAGS = ("amx_bf16", "avx512_bf16")
KEEP_BF16_AT = 1.15  # bf16 must be this much faster: below it, float32's accuracy is worth more


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (Linux's /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def matrix_units() -> tuple[str, ...]:
    """Which of the bf16 matrix-unit flags this CPU has (e.g. ("amx_bf16", "avx512_bf16"))."""
    flags = cpu_flags()
    return tuple(flag for flag in MATRIX_FLAGS if flag in flags)


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
            "fp32_images_per_s": self.fp32_images_per_s,
            "bf16_images_per_s": self.bf16_images_per_s,
        }


def step_speed(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    dtype: torch.dtype | None,
    steps: int = 3,
    seconds: float = 4.0,
) -> float:
    """Images a second of forward and backward passes (no optimizer step) in `dtype` autocast:
    one pass to warm up, then `steps` timed, fewer when they pass `seconds` (a large network)."""

    def one_pass() -> None:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = F.cross_entropy(model(images).float(), labels)
        model.zero_grad(set_to_none=True)
        loss.backward()

    one_pass()
    start = time.perf_counter()
    done = 0
    while done < steps and (done == 0 or time.perf_counter() - start < seconds):
        one_pass()
        done += 1
    return done * len(images) / (time.perf_counter() - start)


def choose_precision(
    asked: str,
    model: torch.nn.Module,
    batch: int,
    channels: int,
    size: int,
    classes: int,
    channels_last: bool,
    steps: int = 3,
) -> PrecisionChoice:
    """The CPU's training precision for `asked` ("auto", "fp32" or "bf16"). `auto` times a copy of
    `model` on a batch of random images, so the run's weights, statistics and random streams are
    untouched; without bf16 matrix units it measures nothing and keeps float32."""
    if asked in ("fp32", "bf16"):
        return PrecisionChoice(asked, "asked for")  # type: ignore[arg-type]
    units = matrix_units()
    if not units:
        return PrecisionChoice("fp32", f"this CPU has no bf16 matrix units ({' or '.join(MATRIX_FLAGS)})")
    trial = copy.deepcopy(model).train()
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, channels, size, size, generator=generator)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, classes, (batch,), generator=generator)
    with torch.random.fork_rng(devices=[]):  # dropout in the trial draws from a copy of the stream
        fp32 = step_speed(trial, images, labels, None, steps)
        bf16 = step_speed(trial, images, labels, torch.bfloat16, steps)
    ratio = bf16 / fp32
    keep = ratio >= KEEP_BF16_AT
    verdict = "kept" if keep else f"not {KEEP_BF16_AT:.2f}x faster"
    reason = (
        f"measured: bf16 {bf16:.0f} vs fp32 {fp32:.0f} images/s, {ratio:.2f}x, {verdict}; "
        f"CPU has {', '.join(units)}"
    )
    return PrecisionChoice("bf16" if keep else "fp32", reason, fp32, bf16)
