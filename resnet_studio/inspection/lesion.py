"""Lesion study (Veit et al. 2016): remove blocks at test time and measure what is lost.

A residual network behaves like an ensemble of shallower paths: removing any one block costs it
little, while a plain network, whose only path runs through every block, collapses. A block is
removed by passing its input on unchanged. For a residual block that is exactly its branch set to
zero: post-activation, relu(x + 0) = x since x comes out of a ReLU; pre-activation, x + 0 = x. For
a plain block it removes the layer outright. Only blocks whose output has the shape of their input
can be removed, in both networks alike, so that the comparison is fair.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from resnet_studio.architecture.analysis import analyze
from resnet_studio.data.sources import DataSet
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn.model import ResNet

DRAWS = 5  # random sets of k blocks averaged for each k


def removable_blocks(model: ResNet) -> list[str]:
    """Blocks whose input and output shapes agree, in network order."""
    layers = analyze(model.spec).layers
    return [
        layer.name
        for previous, layer in zip(layers, layers[1:], strict=False)
        if layer.type in ("basic", "bottleneck", "preact") and layer.output_shape == previous.output_shape
    ]


@contextmanager
def lesioned(model: ResNet, names: Sequence[str]) -> Iterator[ResNet]:
    """`model` with the named blocks removed (each passes its input on) until the block ends."""
    blocks = dict(model.named_blocks())
    unknown = [name for name in names if name not in blocks]
    if unknown:
        raise ValueError(f"no such blocks: {', '.join(unknown)}")
    hooks = [blocks[name].register_forward_hook(lambda _m, inputs, _out: inputs[0]) for name in names]
    try:
        yield model
    finally:
        for hook in hooks:
            hook.remove()


@dataclass
class LesionResult:
    baseline: float  # validation accuracy of the whole network, a fraction
    blocks: list[tuple[str, float]] = field(default_factory=list)  # accuracy without each block
    random: list[tuple[int, float]] = field(default_factory=list)  # mean accuracy without k random blocks

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "blocks": [{"block": name, "accuracy": acc} for name, acc in self.blocks],
            "random": [{"k": k, "accuracy": acc} for k, acc in self.random],
        }


def lesion_study(
    model: ResNet,
    data: DataSet,
    classes: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    device: torch.device | str = "cpu",
    draws: int = DRAWS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LesionResult:
    """Accuracy on `data` of the whole network, without each removable block, and without k random
    removable blocks for k = 1..n (the mean of `draws` random sets each; one set when k = n).
    `progress(done, total)` is called after each evaluation (a view's progress bar, or cancel by
    raising from it)."""
    names = removable_blocks(model)
    sets: list[tuple[int, list[str]]] = []
    rng = random.Random(seed)
    for k in range(1, len(names) + 1):
        for _ in range(1 if k == len(names) else draws):
            sets.append((k, rng.sample(names, k)))
    total, done = 1 + len(names) + len(sets), 0

    def accuracy(removed: Sequence[str]) -> float:
        nonlocal done
        with lesioned(model, removed):
            result = evaluate(
                model, data, classes, mean, std, size=model.spec.input.size, device=torch.device(device)
            )
        done += 1
        if progress is not None:
            progress(done, total)
        return result.accuracy

    result = LesionResult(accuracy([]))
    result.blocks = [(name, accuracy([name])) for name in names]
    by_k: dict[int, list[float]] = {}
    for k, removed in sets:
        by_k.setdefault(k, []).append(accuracy(removed))
    result.random = [(k, sum(values) / len(values)) for k, values in by_k.items()]
    return result
