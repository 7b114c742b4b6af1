"""bf16 for inference where it pays: batches on a CPU with bf16 matrix units, where a measurement
taken once per process shows bf16 clearly faster than float32.

What decides:
- the device: only the CPU (a GPU's inference keeps what its caller asks for);
- the CPU's flags (`nn.cpu_features`): without matrix units bf16 is emulated, several times slower;
- the batch: a single image (a dropped photo, Inspect's image) runs in float32. On a 2-core
  AVX512-BF16 EPYC a one-image ResNet-20 pass took twice as long in bf16 (23 against 45 images/s),
  while 256 images ran 1.2-1.7x faster;
- one measurement per process (`bf16_speedup`): a small stack of convolutions on a batch, timed in
  both formats, interleaved, the median of each; paid by the first evaluation (1.4-2.2 s on the
  2-core EPYC with a dozen other processes busy, a small fraction of that alone). On a busy machine
  the figure is noisy (0.97-1.72 in three processes), so one process may choose otherwise than
  the next: a choice between two formats whose answers agree (below), not a change of results.

Feature maps and Grad-CAM are never computed in bf16: they are one image (no gain), and bf16's 8
bits of mantissa would show as banding in the maps and noise in the gradients Grad-CAM averages.
bf16 changes an answer's top class rarely: the shipped ResNet-20, with its mirror and shift
averaging, gave float32's top-1 class on all of the first 1,000 CIFAR-10 test images (same accuracy,
90.7%; 197 s against 261 s on one thread of the busy 2-core EPYC); the tests hold it to 99.5%
(tests/inspection/test_inference_precision.py).
"""

from __future__ import annotations

import statistics
import threading
import time

import torch
from torch import nn

from resnet_studio.nn.cpu_features import matrix_units

MIN_BATCH = 16  # fewer images than this run in float32 (see above)
PAYS_AT = 1.15  # bf16 must be at least this much faster, as for training
_lock = threading.Lock()
_measured: list[float] = []  # the process's one measurement, once taken


def bf16_speedup() -> float:
    """How much faster (>1) or slower (<1) a batch of convolutions runs in bf16 autocast than in
    float32 on this CPU; measured once per process (later calls return the same figure)."""
    with _lock:
        if not _measured:
            _measured.append(_measure())
        return _measured[0]


def _measure(repeats: int = 5) -> float:
    layers: list[nn.Module] = []
    for _ in range(2):
        layers += [nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    stack = nn.Sequential(*layers).eval()
    x = torch.randn(32, 32, 32, 32, generator=torch.Generator().manual_seed(0))
    times: dict[bool, list[float]] = {False: [], True: []}
    with torch.inference_mode():
        for round_ in range(repeats + 1):  # the first round warms both up and is not counted
            for bf16 in (False, True):  # interleaved: a passing disturbance hits both alike
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    stack(x)
                if round_:
                    times[bf16].append(time.perf_counter() - start)
    return statistics.median(times[False]) / statistics.median(times[True])


def inference_dtype(device: torch.device | str, batch: int) -> torch.dtype | None:
    """The autocast dtype for an inference pass of `batch` images on `device`: bfloat16 where it
    pays (see the module's docstring), else None (float32)."""
    if torch.device(device).type != "cpu" or batch < MIN_BATCH or not matrix_units():
        return None
    return torch.bfloat16 if bf16_speedup() >= PAYS_AT else None
