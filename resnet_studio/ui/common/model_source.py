"""Which trained network Inspect and Classify use: a chosen checkpoint, or the training run's
latest weights (a snapshot taken when needed), or else the last run's best checkpoint, or else the
weights that ship with the package (a ResNet-20 trained on CIFAR-10), so that a new user gets
answers before training anything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from resnet_studio.errors import UserError
from resnet_studio.fileio import read_json
from resnet_studio.nn.shipped import default_weights

if TYPE_CHECKING:
    from resnet_studio.nn.checkpoint import LoadedModel
    from resnet_studio.ui.common.training_controller import TrainingController


class ModelSource(QObject):
    changed = Signal()  # other weights answer now: views run their image through them again
    described = Signal()  # only the description changed (a run started, a network's name learned)

    def __init__(self, training: TrainingController) -> None:
        super().__init__()
        self.training = training
        self.checkpoint: str | None = None
        self._cache: tuple[tuple[str, float], LoadedModel] | None = None
        self._names: dict[str, str] = {}  # checkpoint or run folder -> its network's name

    def describe(self) -> str:
        """The network and the weights that answer now, in words."""
        if self.checkpoint:
            return _named(self._names.get(self.checkpoint), f"checkpoint {self.checkpoint}")
        training = self.training
        last = training.last_run_dir
        run = Path(last).name if last else ""
        if training.trainer is not None:
            return _named(training.trainer.spec.name, f"latest weights of the run training now ({run})")
        if last:
            if last not in self._names:  # read once, not on every label refresh
                self._names[last] = training.last_network or _run_network_name(last) or ""
            return _named(self._names[last], f"best checkpoint of run {run}")
        shipped = default_weights()
        if shipped is not None:
            return shipped.describe()
        return "none yet: train a network, or open a checkpoint"

    def use_checkpoint(self, path: str) -> None:
        self.checkpoint = path
        self.changed.emit()

    def use_training(self) -> None:
        self.checkpoint = None
        self.changed.emit()

    def load(self) -> LoadedModel:
        """The model to use now. Runs off the UI thread (loading a checkpoint takes a while)."""
        from resnet_studio.nn.checkpoint import checkpoint_file, model_from_checkpoint

        if not self.checkpoint:
            trainer = self.training.trainer
            if trainer is not None:
                snapshot = trainer.snapshot()
                if snapshot is None:
                    raise UserError("the training run is still loading its data: try again in a moment")
                return snapshot
        shipped = default_weights()
        path = self.checkpoint or self.training.last_run_dir or (shipped.path if shipped else None)
        if not path:
            raise UserError("no model yet: train a network in Train, or open a checkpoint")
        # Keyed on the checkpoint file itself: a run folder's best.pt replaced by a better one
        # (a rename inside checkpoints/) is noticed, which the folder's own time would not show.
        try:
            key = (str(path), os.stat(checkpoint_file(path)).st_mtime)
        except (OSError, UserError) as exc:
            raise UserError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, model_from_checkpoint(path))
            name = self._cache[1].spec.name
            if self._names.get(str(path)) != name:
                self._names[str(path)] = name
                self.described.emit()  # queued to the UI thread: labels name the network now
        return self._cache[1]


def _named(network: str | None, weights: str) -> str:
    return f"{network}, {weights}" if network else weights[0].upper() + weights[1:]


def _run_network_name(run_dir: str) -> str | None:
    """The network's name from a run folder's architecture.json (a small file), if readable."""
    try:
        name = read_json(Path(run_dir) / "architecture.json", max_bytes=1_000_000).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None
