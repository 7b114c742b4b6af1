"""Training: config, recipes and the engine (a generator of events); it writes run folders
(`runs/`).

Names load on first use (PEP 562), so that importing `training.config` or `training.events`
does not import torch: the studio's window appears before torch has loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnet_studio.lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "RecipeSettings": "config",
    "MachineSettings": "config",
    "ProbeSettings": "config",
    "Trainer": "engine",
    "run_training": "engine",
    "RECIPES": "recipes",
    "Recipe": "recipes",
    "get_recipe": "recipes",
    "Activations": "events",
    "CheckpointSaved": "events",
    "Evaluated": "events",
    "Featurizing": "events",
    "Event": "events",
    "Finished": "events",
    "Planned": "events",
    "Started": "events",
    "Status": "events",
    "Step": "events",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # the same names for mypy and editors (tests/test_exports.py keeps them in step)
    from resnet_studio.training.config import MachineSettings, ProbeSettings, RecipeSettings, TrainConfig
    from resnet_studio.training.engine import Trainer, run_training
    from resnet_studio.training.events import (
        Activations,
        CheckpointSaved,
        Evaluated,
        Event,
        Featurizing,
        Finished,
        Planned,
        Started,
        Status,
        Step,
    )
    from resnet_studio.training.recipes import RECIPES, Recipe, get_recipe
else:
    __getattr__ = lazy_exports(__name__, _EXPORTS)
