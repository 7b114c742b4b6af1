"""What a network costs in memory, estimated from the analysis alone, so that a network that
cannot fit is refused before it is built (a 2 KB file can name a trillion parameters).

The estimates are deliberately simple: float32 everywhere; training keeps about TENSORS_KEPT
tensors the size of each block's output for the backward pass (its convolutions', BatchNorms' and
ReLUs' outputs and the sum; a bottleneck's inner ones are a quarter as wide) and four copies of the
weights (weights, gradients and up to two optimizer states). For ResNet-50 that gives 112 MB an
image, close to the ~100 MB its fp32 training is known to take on a GPU. Grouped convolutions
(ResNeXt) count through the analysis's parameters; a Wide ResNet's inner tensors are half its
blocks' width, not a quarter, so its activations are underestimated by about a fifth.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from math import prod

from resnet_studio.architecture.analysis import Analysis

BYTES = 4  # float32
TENSORS_KEPT = 5  # per block output, for backward
WEIGHT_COPIES = 4  # weights, gradients, momentum / Adam's two moments
HEADROOM = 0.8  # refuse what needs more than this share of the device's memory
EVAL_BATCH = 256  # images an evaluation runs at a time, where they fit
# What an evaluation batch's activations may take when training's own figure is smaller: 256
# CIFAR images need ~50 MB; a 384-pixel network at 256 images took 5.8 GB, and 512 MB bounds it.
EVAL_MEMORY = 512 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    params: int
    activations_per_image: int  # bytes kept for backward, per image
    largest_output: int  # bytes of the largest layer output, per image

    @property
    def weights(self) -> int:
        return self.params * BYTES

    def training(self, batch: int) -> int:
        return WEIGHT_COPIES * self.weights + batch * self.activations_per_image

    def inference(self, batch: int) -> int:
        return self.weights + batch * 3 * self.largest_output  # an input, an output, a shortcut


def estimate(analysis: Analysis) -> MemoryEstimate:
    outputs = [prod(analysis.input_shape) * BYTES] + [
        prod(layer.output_shape) * BYTES for layer in analysis.layers
    ]
    return MemoryEstimate(analysis.params, TENSORS_KEPT * sum(outputs), max(outputs))


def machine_memory() -> int | None:
    """This machine's physical memory in bytes, where the system says."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def evaluation_batch(
    analysis: Analysis,
    training_batch: int | None = None,
    available: int | None = None,
    most: int = EVAL_BATCH,
) -> int:
    """Images an evaluation (no gradients) runs at a time: `most` where they fit, fewer for a large
    input, so that its activations (estimated as `MemoryEstimate.inference`'s) stay within
    EVAL_MEMORY, or within training's at `training_batch` images where that is more (what a run
    already holds during its steps), and within the device's `available` memory."""
    cost = estimate(analysis)
    budget = EVAL_MEMORY
    if training_batch is not None:
        budget = max(budget, training_batch * cost.activations_per_image)
    if available is not None:  # what training leaves: its weights, gradients and optimizer state
        budget = min(budget, int(HEADROOM * available) - WEIGHT_COPIES * cost.weights)
    per_image = cost.inference(1) - cost.weights
    return max(1, min(most, budget // max(1, per_image)))


def too_big(analysis: Analysis, batch: int, available: int | None, training: bool = True) -> str | None:
    """Why the network cannot run at `batch` images in `available` bytes, with the figures; None
    when it fits (or the memory is unknown)."""
    if available is None:
        return None
    cost = estimate(analysis)
    need = cost.training(batch) if training else cost.inference(batch)
    if need <= HEADROOM * available:
        return None
    what = f"training at batch {batch}" if training else f"running {batch} images at a time"
    return (
        f"{analysis.name}: {what} needs about {gigabytes(need)} ({analysis.params:,} parameters, "
        f"{gigabytes(cost.activations_per_image if training else 3 * cost.largest_output)} of "
        f"activations per image), more than this device's {gigabytes(available)} allow"
    )
