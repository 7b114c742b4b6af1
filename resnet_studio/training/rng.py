"""The random generators a run draws from, seeded at its start and saved in its checkpoints, so
that a resumed run continues exactly as it would have uninterrupted.

Seeding touches process-wide state (Python's, NumPy's and torch's global generators): the engine
does it once per run, at its start, in the process or thread that trains. The studio's own code
draws from no global generator, so a run in its worker thread disturbs nothing else.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def augment_generator(seed: int, epoch: int, rank: int, state: torch.Tensor | None = None) -> torch.Generator:
    """The generator of one epoch's augmentation: a pure function of (seed, epoch, rank), or the
    saved `state` of one interrupted inside the epoch."""
    generator = torch.Generator().manual_seed(seed * 7_919 + epoch * 31 + rank)
    if state is not None:
        generator.set_state(state)
    return generator


def rng_state(device: torch.device, augment: torch.Generator | None) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if augment is not None:
        state["augment"] = augment.get_state()
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    python = state.get("python")
    if python is not None:
        random.setstate((python[0], tuple(python[1]), python[2]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
