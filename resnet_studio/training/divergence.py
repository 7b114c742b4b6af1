"""When a run has diverged: a non-finite loss, or a loss far above where the run started.

A huge but finite loss (5e27 with `--lr 1e6`) is as dead as NaN, and weights that hold NaN or
infinity must never replace a good checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class DivergenceGuard:
    factor: float = 20.0  # a loss this many times its first value (at least 1) has diverged
    first: float | None = None  # the first loss logged (kept in checkpoints: a resume compares to it)

    def check_loss(self, loss: float, what: str = "the training loss") -> str | None:
        """Why `loss` means divergence, or None while it looks sane."""
        if not math.isfinite(loss):
            return f"{what} became {loss}"
        if self.first is None:
            self.first = loss
            return None
        limit = self.factor * max(self.first, 1.0)
        if loss > limit:
            return f"{what} rose to {loss:.3g}, over {self.factor:g} times its first value ({self.first:.3g})"
        return None


def weights_finite(model: torch.nn.Module) -> bool:
    """Every parameter and buffer finite (one host sync)."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


def diverged_message(why: str, epoch: int, step: int, last_checkpoint: Path | None) -> str:
    """What a diverged run's status says: where, why, what to try and what was kept."""
    where = f"training diverged at epoch {epoch + 1}, step {step}: {why}. Try a lower learning rate"
    if last_checkpoint is not None and last_checkpoint.is_file():
        return f"{where}; the last good checkpoint is kept ({last_checkpoint})"
    return f"{where}; no checkpoint was written (it diverged before its first epoch ended)"
