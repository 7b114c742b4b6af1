"""Which trained network Inspect and Classify use: a chosen checkpoint, or the training run's
latest weights (a snapshot taken when needed), or else the last run's best checkpoint, or else the
weights that ship with the package (a ResNet-20 trained on CIFAR-10), so that a new user gets
answers before training anything.

Jobs on worker threads load the model; what to load is decided on the UI thread (`loader()`),
which owns the training controller's state. A job that adds hooks to the network, or changes its
mode, asks for its own copy (`own=True`): the cached network may be classifying at that moment.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from resnet_studio.errors import UserError
from resnet_studio.fileio import read_json
from resnet_studio.nn.shipped import default_weights

if TYPE_CHECKING:
    from resnet_studio.nn.checkpoint import LoadedModel
    from resnet_studio.training.engine import Trainer
    from resnet_studio.ui.common.training_controller import TrainingController


class ModelSource(QObject):
    changed = Signal()  # other weights answer now: views run their image through them again
    described = Signal()  # only the description changed (a run started, a network's name learned)

    def __init__(self, training: TrainingController) -> None:
        super().__init__()
        self.training = training
        self.checkpoint: str | None = None
        # Written by jobs on worker threads, read on the UI thread: only under the lock.
        self._lock = threading.Lock()
        self._cache: tuple[tuple[str, float], LoadedModel] | None = None
        self._names: dict[str, str] = {}  # checkpoint or run folder -> its network's name
        # The training run's weights answer unless the user chose others: when the run shown or
        # trained last is another (a reopened project, a run opened), its weights answer now.
        # Once per pass of the event loop: a project shows its runs one after another.
        self._moved = QTimer(self)
        self._moved.setSingleShot(True)
        self._moved.setInterval(0)
        self._moved.timeout.connect(self._last_run_moved)
        training.last_run_changed.connect(self._moved.start)
        training.run_started.connect(self._run_started)
        training.run_finished.connect(self._run_finished)

    def _run_started(self, _run_dir: str) -> None:
        self.described.emit()  # the run training now is named

    def _run_finished(self, _run_dir: str) -> None:
        self.changed.emit()  # the run's best checkpoint answers now, not its latest weights

    def describe(self) -> str:
        """The network and the weights that answer now, in words."""
        if self.checkpoint:
            with self._lock:
                name = self._names.get(self.checkpoint)
            return _named(name, f"checkpoint {self.checkpoint}")
        training = self.training
        last = training.last_run_dir
        run = Path(last).name if last else ""
        if training.trainer is not None:
            return _named(training.trainer.spec.name, f"latest weights of the run training now ({run})")
        if last:
            with self._lock:
                name = self._names.get(last)
            if name is None:  # read once, not on every label refresh
                name = training.last_network or _run_network_name(last) or ""
                with self._lock:
                    self._names[last] = name
            return _named(name, f"best checkpoint of run {run}")
        shipped = default_weights()
        if shipped is not None:
            return shipped.describe()
        return "none yet: train a network, or open a checkpoint"

    def brief(self) -> str:
        """The weights that answer now in a few words, the telling part first (a table's narrow
        column): "best.pt of run demo · ResNet-20", "run demo · ResNet-20",
        "resnet20-cifar10 (shipped)". `describe` gives them in full."""
        training = self.training
        if self.checkpoint:
            with self._lock:
                name = self._names.get(self.checkpoint)
            weights = _checkpoint_brief(self.checkpoint)
        elif training.trainer is not None:
            name = training.trainer.spec.name
            weights = f"run {Path(training.last_run_dir or '').name} (training)"
        elif training.last_run_dir:
            with self._lock:
                name = self._names.get(training.last_run_dir)
            weights = f"run {Path(training.last_run_dir).name}"
        else:
            shipped = default_weights()
            return f"{shipped.name} (shipped)" if shipped is not None else ""
        return f"{weights} · {name}" if name else weights

    def _last_run_moved(self) -> None:
        # Chosen weights stay chosen: only their description may name the run beside them.
        (self.described if self.checkpoint else self.changed).emit()

    @property
    def training_run(self) -> str | None:
        """The run whose weights would answer without a chosen checkpoint ("run X"), if any."""
        last = self.training.last_run_dir
        return f"run {Path(last).name}" if last else None

    def use_checkpoint(self, path: str) -> None:
        self.checkpoint = path
        self.changed.emit()

    def use_training(self) -> None:
        self.checkpoint = None
        self.changed.emit()

    def loader(self, own: bool = False) -> Callable[[], LoadedModel]:
        """Call on the UI thread: which weights answer is decided now (the controller's session
        may end, and be set to None, while the job runs); the function returned loads them on a
        worker. With `own`, the job gets a network of its own, to add hooks to."""
        checkpoint = self.checkpoint
        trainer = None if checkpoint else self.training.trainer
        last_run = self.training.last_run_dir
        return lambda: self._load(checkpoint, trainer, last_run, own)

    def load(self, own: bool = False) -> LoadedModel:
        """The model to use now, loaded here and now (on the UI thread: tests and scripts)."""
        return self.loader(own)()

    def _load(
        self, checkpoint: str | None, trainer: Trainer | None, last_run: str | None, own: bool
    ) -> LoadedModel:
        """On a worker thread (loading a checkpoint takes a while)."""
        from resnet_studio.nn.checkpoint import checkpoint_file, model_from_checkpoint

        if trainer is not None:
            snapshot = trainer.snapshot()  # a fresh copy each time: the job's own
            if snapshot is None:
                raise UserError("the training run is still loading its data: try again in a moment")
            return snapshot
        shipped = default_weights()
        path = checkpoint or last_run or (shipped.path if shipped else None)
        if not path:
            raise UserError("no model yet: train a network in Train, or open a checkpoint")
        # Keyed on the checkpoint file itself: a run folder's best.pt replaced by a better one
        # (a rename inside checkpoints/) is noticed, which the folder's own time would not show.
        try:
            key = (str(path), os.stat(checkpoint_file(path)).st_mtime)
        except (OSError, UserError) as exc:
            raise UserError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
        with self._lock:
            cached = self._cache[1] if self._cache is not None and self._cache[0] == key else None
        if cached is None:
            cached = model_from_checkpoint(path)  # outside the lock: other jobs go on meanwhile
            with self._lock:
                self._cache = (key, cached)
                renamed = self._names.get(str(path)) != cached.spec.name
                self._names[str(path)] = cached.spec.name
            if renamed:
                self.described.emit()  # queued to the UI thread: labels name the network now
        # Shared by every job: one that hooks it (feature maps, Grad-CAM) gets a copy, so the
        # hooks never fire inside a Classify job running the shared network at the same moment.
        return dataclasses.replace(cached, model=copy.deepcopy(cached.model)) if own else cached


def _named(network: str | None, weights: str) -> str:
    return f"{network}, {weights}" if network else weights[0].upper() + weights[1:]


def _checkpoint_brief(checkpoint: str) -> str:
    """A run's checkpoint as "best.pt of run demo"; any other file or folder by its name."""
    path = Path(checkpoint)
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.name} of run {path.parent.parent.name}"
    return path.name or checkpoint


def _run_network_name(run_dir: str) -> str | None:
    """The network's name from a run folder's architecture.json (a small file), if readable."""
    try:
        name = read_json(Path(run_dir) / "architecture.json", max_bytes=1_000_000).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None
