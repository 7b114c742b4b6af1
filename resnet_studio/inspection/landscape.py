"""Loss landscape (Li et al. 2018): the loss around the trained weights, and on the way to them.

- The 2-D slice: the loss at theta + a d1 + b d2 on a grid of (a, b), for two random directions
  d1, d2 that are *filter-normalised*: each filter of a direction is scaled to the norm of the same
  filter of the weights, so that a step of 1 means as much in every layer whatever its scale
  (BatchNorm makes a network blind to its filters' scale: raw directions would mislead). BatchNorm
  parameters, biases and fixed layers stay put, as in the paper. Residual networks show one wide,
  smooth basin; deep plain networks a rugged, chaotic surface.
- The line: the loss on the straight path from the initial to the trained weights,
  (1 - t) theta_0 + t theta_1 for t a little beyond [0, 1] (Goodfellow et al. 2015), when the run
  folder kept its initial weights (`checkpoints/init.pt`).

Losses are measured in eval mode (BatchNorm's running statistics) on one fixed set of validation
images, without gradients. The model's own weights are restored afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from resnet_studio.data.sources import DataSet
from resnet_studio.data.transforms import batches, normalize
from resnet_studio.errors import UserError
from resnet_studio.inspection.evaluate import bounded_batch
from resnet_studio.nn.model import ResNet

if TYPE_CHECKING:
    from resnet_studio.nn.checkpoint import LoadedModel

GRID = 21  # points per side of the 2-D slice
SPAN = 1.0  # the slice covers [-SPAN, SPAN] along each direction
LINE_POINTS = 25
LINE_RANGE = (-0.2, 1.2)  # t: a little before the initial weights and beyond the trained ones

Progress = Callable[[int, int], None]


@dataclass
class Landscape:
    origin_loss: float  # the trained weights' loss on the images (the slice's centre)
    images: int
    x: list[float]  # the slice's coordinates along d1 and d2 (the same for both)
    surface: list[list[float]]  # surface[j][i]: loss at (x[i], x[j])
    line_t: list[float] | None = None  # the path from the initial weights (t = 0) to the trained
    line_loss: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON has it: a loss that overflowed (far out on a plain network's slice) is null."""
        line = None
        if self.line_t is not None and self.line_loss is not None:
            line = {"t": self.line_t, "loss": [_finite(v) for v in self.line_loss]}
        return {
            "origin_loss": _finite(self.origin_loss),
            "images": self.images,
            "surface": {
                "x": self.x,
                "y": self.x,
                "loss": [[_finite(v) for v in row] for row in self.surface],
            },
            "line": line,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _perturbed(model: ResNet) -> list[tuple[str, torch.nn.Parameter]]:
    """The parameters a direction moves: trainable filters and classifier rows (ndim > 1)."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad and p.ndim > 1]


def filter_normalized_direction(model: ResNet, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A random direction, each filter (output row) scaled to the norm of the weights' own."""
    direction = {}
    for name, p in _perturbed(model):
        d = torch.randn(p.shape, generator=generator).to(p.device, p.dtype)
        rows, d_rows = p.detach().flatten(1), d.flatten(1)
        scale = rows.norm(dim=1) / d_rows.norm(dim=1).clamp(min=1e-12)
        direction[name] = (d_rows * scale[:, None]).view_as(p)
    return direction


@contextmanager
def _restored(model: ResNet) -> Iterator[None]:
    """The model's weights and statistics as they were, whatever happens inside."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        yield
    finally:
        model.load_state_dict(saved)


class _Loss:
    """Mean cross-entropy of the model on fixed images, normalised once."""

    def __init__(
        self, model: ResNet, data: DataSet, mean: Sequence[float], std: Sequence[float], device
    ) -> None:
        self.model, self.device = model, torch.device(device)
        size = model.spec.input.size
        self.batches = [
            (normalize(x.to(self.device), mean, std, size=size), y.to(self.device))
            for x, y in batches(data, bounded_batch(model))
        ]
        self.count = len(data)

    @torch.no_grad()
    def __call__(self) -> float:
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for x, y in self.batches:
            total += F.cross_entropy(self.model(x).float(), y, reduction="sum").double()
        return float(total) / max(self.count, 1)


def initial_weights(
    loaded: LoadedModel, path: str | None = None
) -> tuple[dict[str, torch.Tensor] | None, str]:
    """The initial weights of `loaded`'s run: from `path` if given, else `checkpoints/init.pt`
    beside the checkpoint; (None, "") when its run kept none."""
    from resnet_studio.nn.checkpoint import load_checkpoint

    if path is None:
        beside = Path(loaded.path).parent / "init.pt"
        if not beside.is_file() or beside == Path(loaded.path):
            return None, ""
        path = str(beside)
    state = load_checkpoint(path)
    if state["architecture"] != loaded.spec.to_dict():
        raise UserError(f"{path}: its network differs from {loaded.path}'s")
    return state["model"], str(path)


def loss_landscape(
    model: ResNet,
    data: DataSet,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    initial: dict[str, torch.Tensor] | None = None,
    grid: int = GRID,
    span: float = SPAN,
    line_points: int = LINE_POINTS,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> Landscape:
    """The 2-D filter-normalised slice around the model's weights on `data`, and the line from
    `initial` (a state dict of the same network) when given. `progress(done, total)` after each
    point (raise from it to cancel)."""
    if grid < 2:
        raise ValueError("grid: at least 2 points per side")
    loss = _Loss(model, data, mean, std, device)
    generator = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(model, generator)
    d2 = filter_normalized_direction(model, generator)
    params = dict(_perturbed(model))
    xs = [-span + 2 * span * i / (grid - 1) for i in range(grid)]
    total = grid * grid + (line_points if initial is not None else 0)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    with _restored(model), torch.no_grad():
        origin = {name: p.detach().clone() for name, p in params.items()}
        origin_loss = loss()
        surface = []
        for b in xs:
            row = []
            for a in xs:
                for name, p in params.items():
                    p.copy_(origin[name] + a * d1[name] + b * d2[name])
                row.append(loss())
                tick()
            surface.append(row)
    result = Landscape(origin_loss, loss.count, xs, surface)
    if initial is not None:
        result.line_t, result.line_loss = _line(model, initial, loss, line_points, tick)
    return result


def _line(
    model: ResNet, initial: dict[str, torch.Tensor], loss: _Loss, points: int, tick: Callable[[], None]
) -> tuple[list[float], list[float]]:
    trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    missing = sorted(set(trained) - set(initial))
    if missing or any(initial[k].shape != v.shape for k, v in trained.items()):
        raise ValueError(
            "the initial weights are not of this network" + (f" (no {missing[0]})" if missing else "")
        )
    weights = {name for name, _ in model.named_parameters()}
    low, high = LINE_RANGE
    ts = [low + (high - low) * i / (points - 1) for i in range(points)]
    losses = []
    with _restored(model):
        for t in ts:
            state = {}
            for k, v in trained.items():
                if not v.is_floating_point():
                    state[k] = v  # counters
                    continue
                # Weights go the whole way, past both ends; BatchNorm's statistics stop at them
                # (a variance extrapolated past its end could turn negative).
                u = t if k in weights else min(max(t, 0.0), 1.0)
                state[k] = (1 - u) * initial[k].to(v.device, v.dtype) + u * v
            model.load_state_dict(state)
            losses.append(loss())
            tick()
    return ts, losses
