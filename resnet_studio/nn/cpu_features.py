"""What the processor offers for bf16 matrix work, read from Linux's /proc/cpuinfo (nothing
elsewhere). CPUs with bf16 matrix units (Intel AMX, AVX512-BF16; `lscpu` lists `amx_bf16` or
`avx512_bf16`) multiply bf16 matrices in hardware; without them bf16 is emulated and slower than
float32, so no bf16 path is even timed there. Torch-free."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

MATRIX_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""


def _field(name: str) -> str | None:
    for line in _cpuinfo().splitlines():
        if line.startswith(name):
            return line.partition(":")[2].strip()
    return None


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (empty where /proc/cpuinfo is absent)."""
    return frozenset((_field("flags") or "").split())


def cpu_model() -> str:
    """The processor's model name ("AMD EPYC 9R14"), else what the platform says."""
    return _field("model name") or platform.processor() or platform.machine()


def matrix_units() -> tuple[str, ...]:
    """Which of the bf16 matrix-unit flags this CPU has (e.g. ("amx_bf16", "avx512_bf16"))."""
    flags = cpu_flags()
    return tuple(flag for flag in MATRIX_FLAGS if flag in flags)
