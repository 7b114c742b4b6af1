"""Training: config, recipes, the engine (a generator of events) and run directories.

Names load on first use (PEP 562), so that importing `training.config` or `training.events`
does not import torch: the studio's window appears before torch has loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config",
    "Trainer": "engine",
    "run_training": "engine",
    "RECIPES": "recipes",
    "Recipe": "recipes",
    "get_recipe": "recipes",
    "Activations": "events",
    "CheckpointSaved": "events",
    "Evaluated": "events",
    "Event": "events",
    "Finished": "events",
    "Planned": "events",
    "Started": "events",
    "Step": "events",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'resnet_studio.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"resnet_studio.training.{_EXPORTS[name]}"), name)
