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
from resnet_studio.training.shipped import default_weights

if TYPE_CHECKING:
    from resnet_studio.training.checkpoint import LoadedModel
    from resnet_studio.ui.train_view import TrainView


class ModelSource(QObject):
    changed = Signal()

    def __init__(self, train_view: TrainView) -> None:
        super().__init__()
        self.train_view = train_view
        self.checkpoint: str | None = None
        self._cache: tuple[tuple[str, float], LoadedModel] | None = None

    def describe(self) -> str:
        if self.checkpoint:
            return f"checkpoint {self.checkpoint}"
        if self.train_view.session is not None:
            return "the training run's latest weights"
        if self.train_view.last_run_dir:
            return f"the best checkpoint of {Path(self.train_view.last_run_dir).name}"
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
        from resnet_studio.training.checkpoint import model_from_checkpoint

        if not self.checkpoint:
            session = self.train_view.session
            snapshot = session.trainer.snapshot() if session is not None else None
            if snapshot is not None:
                return snapshot
        shipped = default_weights()
        path = self.checkpoint or self.train_view.last_run_dir or (shipped.path if shipped else None)
        if not path:
            raise UserError("no model yet: train a network in Train, or open a checkpoint")
        try:
            key = (str(path), os.stat(path).st_mtime)
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror or exc}") from None
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, model_from_checkpoint(path))
        return self._cache[1]
