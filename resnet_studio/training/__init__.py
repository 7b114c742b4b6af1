"""Training: config, the engine (a generator of events), checkpoints and run directories."""

from resnet_studio.training.config import TrainConfig
from resnet_studio.training.engine import Trainer, run_training
from resnet_studio.training.events import CheckpointSaved, Evaluated, Event, Finished, Started, Step

__all__ = [
    "CheckpointSaved",
    "Evaluated",
    "Event",
    "Finished",
    "Started",
    "Step",
    "TrainConfig",
    "Trainer",
    "run_training",
]
