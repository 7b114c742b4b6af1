"""Training: config, recipes, the engine (a generator of events) and run directories.

Names load on first use (PEP 562), so that importing `training.config` or `training.events`
does not import torch: the studio's window appears before torch has loaded.
"""

from __future__ import annotations

from resnet_studio.lazy import lazy_exports

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
