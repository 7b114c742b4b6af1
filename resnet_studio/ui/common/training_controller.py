"""The studio's training, without widgets: one session at a time (the engine in a worker thread),
the queue of a plain-vs-residual comparison, resuming a run, and runs on disk followed while
another process writes them.

The Train view renders what this sends and asks it to act; other workspaces ask it which weights
answer now (`trainer`, `last_run_dir`). What the session holds lives in the session model
(`resnet_studio.session`), which this feeds: each run's record of what the engine reported, the
comparisons and their verdicts, the run folders a project saves. A finished session releases its
trainer (the weights live on in its checkpoints); the collector is frozen while one trains (`gc_policy`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.errors import UserError, error_text
from resnet_studio.fileio import unused_run_folder
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.metrics_file import read_metrics
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.session import RunRecord, SessionModel
from resnet_studio.session.runs import Comparison, ComparisonKind
from resnet_studio.training.config import TrainConfig, resumed_config
from resnet_studio.training.events import Evaluated, Finished, Started, Step, counted
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.gc_policy import garbage_collection
from resnet_studio.ui.common.run_following import FollowedRuns
from resnet_studio.ui.common.torch_loader import load_torch
from resnet_studio.ui.common.train_worker import TrainingSession

if TYPE_CHECKING:
    from resnet_studio.training.engine import Trainer


@dataclass(frozen=True)
class Launch:
    """A session that has just started: what the view needs to give it curves."""

    run_dir: Path
    name: str  # its label in the plots
    compared: bool = False  # the second network of a comparison: drawn beside the first
    history: tuple[MetricsRecord, ...] = ()  # a resumed run's records so far


def fit_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A uint8 (C, H, W) image with `channels` channels: grey repeated to RGB, RGB averaged to grey."""
    if image.shape[0] == channels:
        return image
    if channels == 1:
        return image.mean(axis=0, keepdims=True).round().astype(np.uint8)
    return np.repeat(image[:1], channels, axis=0)


def residual_of(spec: ArchitectureSpec) -> ArchitectureSpec:
    """The network with shortcuts (projections where a plain network has none)."""
    residual = spec if spec.shortcut != "none" else dataclasses.replace(spec, shortcut="projection")
    return dataclasses.replace(residual, name=residual.name.replace(" (plain)", ""))


def plain_twin(spec: ArchitectureSpec) -> ArchitectureSpec:
    """The same layers without shortcuts."""
    return dataclasses.replace(spec, shortcut="none", name=f"{spec.name} (plain)")


def deeper(spec: ArchitectureSpec, factor: int = 3) -> ArchitectureSpec:
    """Every stage `factor` times as many blocks: ResNet-20 becomes ResNet-56, as in He et al.;
    a name that states the depth ("ResNet-20") states the new one."""
    deep = spec.with_stages([dataclasses.replace(s, count=s.count * factor) for s in spec.stages])
    suffix = f"-{spec.depth}"
    name = (
        spec.name[: -len(suffix)] + f"-{deep.depth}"
        if spec.name.endswith(suffix)
        else f"{spec.name} ({deep.depth} layers)"
    )
    return dataclasses.replace(deep, name=name)


class TrainingController(QObject):
    launched = Signal(object)  # a Launch
    engine_event = Signal(object)  # an engine event of the session under way
    failed = Signal(str)  # the session could not run: why
    ended = Signal()  # a session's end has been handled (the next one of a comparison may follow)
    message = Signal(str)  # a note for the user
    following = Signal(object)  # a run folder on disk, followed from now on
    followed = Signal(object, list)  # (run folder, new MetricsRecords) of a run on disk
    unfollowed = Signal(object)  # a run folder no longer followed: its curves go
    run_started = Signal(str)  # the run folder
    run_finished = Signal(str)
    # The run whose weights answer by default (Classify, Inspect, Export) is another now: a run
    # shown from disk or a reopened project's, or none once its project closed.
    last_run_changed = Signal()

    def __init__(
        self, runs_root: Path, parent: QObject | None = None, model: SessionModel | None = None
    ) -> None:
        super().__init__(parent)
        self.runs_root = runs_root
        self.model = model or SessionModel()
        self.record: RunRecord | None = None  # the model's record of the run training now
        self.session: TrainingSession | None = None
        self.last_run_dir: str | None = None
        self.last_network: str | None = None  # the network of the session under way or last run
        self.last_finished: Finished | None = None
        self.queue: list[tuple[ArchitectureSpec, str, TrainConfig]] = []  # the comparison's next run
        self.pinned: np.ndarray | None = None  # shown to every new session's activations
        self.on_disk = FollowedRuns(self)  # runs on disk followed, read off the UI thread
        self._project_runs: set[Path] = set()  # the open project's runs (shown or not)
        self.on_disk.following.connect(self._following)
        self.on_disk.followed.connect(self._followed)
        self.on_disk.unfollowed.connect(self._unfollowed)
        self.on_disk.failed.connect(self.message)

    # -- state ------------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        """From start until the session's end has been handled (not merely its thread ended)."""
        return self.session is not None

    @property
    def run_dirs(self) -> list[Path]:
        """Every run trained or followed here, oldest first (the model's, saved with a project)."""
        return self.model.run_folders

    @property
    def comparing(self) -> Comparison | None:
        return self.model.comparing

    @property
    def trainer(self) -> Trainer | None:
        return self.session.trainer if self.session is not None else None

    def pin(self, image: np.ndarray) -> None:
        self.pinned = image
        if self.session is not None:
            self.session.trainer.pin_image(fit_channels(image, self.session.trainer.spec.input.channels))

    # -- sessions ---------------------------------------------------------------------------------

    def start(
        self,
        spec: ArchitectureSpec | None,
        config: TrainConfig,
        name: str,
        resume: str | None = None,
        history: tuple[MetricsRecord, ...] = (),
        compared: bool = False,
    ) -> bool:
        """Train `spec` with `config`; with `resume`, continue that run folder instead."""
        if self.training:
            return False
        garbage_collection().run_started()
        try:
            load_torch()  # usually loaded already, in the background, since start-up
            from resnet_studio.training.engine import Trainer

            if resume is not None:
                trainer, run_dir = Trainer(None, config, resume=resume), Path(resume)
            else:
                assert spec is not None
                run_dir = unused_run_folder(self.runs_root, spec.name)
                trainer = Trainer(spec, config, run_dir)
        except UserError as exc:
            garbage_collection().run_ended()
            self.message.emit(str(exc))
            self.queue.clear()
            return False
        if self.pinned is not None:
            trainer.pin_image(fit_channels(self.pinned, trainer.spec.input.channels))
        self.last_run_dir, self.last_network, self.last_finished = str(run_dir), trainer.spec.name, None
        self.record = RunRecord(name, run_dir.resolve())
        for record in history:  # a resumed run's past
            self.record.add_record(record)
        self.model.add_run(self.record)  # also remembered, and the comparison's next run
        self.session = TrainingSession(trainer, self)
        self.session.engine_event.connect(self._on_event)
        self.session.failed.connect(self._on_failed)
        self.session.finished.connect(self._on_finished)
        self.launched.emit(Launch(run_dir, name, compared, history))
        self.session.start()
        self.run_started.emit(str(run_dir))
        return True

    def compare(self, spec: ArchitectureSpec, config: TrainConfig) -> bool:
        """This network, then its twin without shortcuts, with the same settings."""
        if self.training:
            return False
        residual = residual_of(spec)
        self.queue = [(plain_twin(residual), "plain", config)]
        return self._start_comparison(residual, "residual", config, "twins", spec.classes)

    def degradation(self, spec: ArchitectureSpec, config: TrainConfig) -> bool:
        """He et al.'s figure 1: this network and one three times as deep, each with its plain
        twin, one after the other with the same settings."""
        if self.training:
            return False
        shallow = residual_of(spec)
        deep = deeper(shallow)
        self.queue = [(plain_twin(shallow), plain_twin(shallow).name, config)]
        self.queue += [(deep, deep.name, config), (plain_twin(deep), plain_twin(deep).name, config)]
        return self._start_comparison(shallow, shallow.name, config, "degradation", spec.classes)

    def _start_comparison(
        self, spec: ArchitectureSpec, name: str, config: TrainConfig, kind: ComparisonKind, classes: int
    ) -> bool:
        self.model.begin_comparison(kind, spec.name, classes)
        if not self.start(spec, config, name):
            self.queue.clear()
            self.model.end_comparison(completed=False)
            return False
        return True

    def resume(self, path: str, settings: TrainConfig) -> None:
        """Continue a stopped run from its last checkpoint (a completed one for more epochs: as
        many as `settings.epochs`); `settings` also gives this machine's device and threads."""
        if self.training:
            return
        from resnet_studio.runs.runinfo import summarize_run

        holder = RunDirectory(path).writer()
        if holder is not None:  # another process trains it: follow it rather than fight over it
            self.message.emit(f"{Path(path).name} is being trained by {holder}: following it")
            self.follow(path)
            return
        try:
            summary = summarize_run(path)
            if summary.problem is not None:
                raise UserError(f"{Path(path).name} cannot be resumed: {summary.problem_here}")
            run = RunDirectory(path)
            saved = run.read_config()
            # A stopped run goes on to its own end; a completed one to Setup's epochs.
            epochs = None
            if summary.status == "completed":
                epochs = settings.epochs
                if epochs <= summary.epochs_done:
                    raise UserError(
                        f"{Path(path).name} has completed {counted(summary.epochs_done, 'epoch')}: "
                        "set Epochs above that in Setup to train it further"
                    )
            config = resumed_config(
                saved,
                f"{run.config_file}: ",
                epochs=epochs,
                threads=settings.threads,
                grad_norms=True,
                contributions=True,
                device=settings.device,
                distributed=False,
            )
        except UserError as exc:
            self.message.emit(str(exc))
            return
        self.message.emit(f"Resuming {Path(path).name}…")
        run_in_background(
            lambda: read_metrics(path),
            self,
            lambda records: self.start(None, config, Path(path).name, resume=path, history=tuple(records)),
            lambda exc: self.message.emit(f"Cannot resume {Path(path).name}: {error_text(exc)}"),
        )

    def pause(self, paused: bool) -> None:
        if self.session is not None:
            (self.session.pause if paused else self.session.resume)()

    def stop(self) -> None:
        self.queue.clear()  # stopping a comparison stops all of it
        if self.session is not None:
            self.session.stop()

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        """Stop cleanly (a checkpoint is written) and wait for the thread: closing the window."""
        self.queue.clear()
        if self.session is None or not self.session.running:
            return True
        return self.session.stop(timeout_ms)

    @property
    def thread_running(self) -> bool:
        return self.session is not None and self.session.running

    @property
    def winding_up(self) -> bool:
        """The thread still runs, but its run was stopped or has finished: only the last
        checkpoint and the data workers' exit are left, nothing to ask the user about."""
        return self.thread_running and self.session.winding_up  # type: ignore[union-attr]

    def _on_event(self, event: object) -> None:
        record = self.record
        if record is not None:  # the model's record first: the views observing it see it current
            if isinstance(event, Step):
                record.add_step(event.step, event.loss, event.grad_norms)
            elif isinstance(event, Evaluated):
                record.add_evaluation(event.epoch, event.step, event.loss, event.accuracy)
            elif isinstance(event, Started):
                record.classes = len(event.classes)
        if isinstance(event, Finished):
            self.last_finished = event
            if self.session is not None:
                self.session.winding_up = True
        self.engine_event.emit(event)

    def _on_failed(self, message: str) -> None:
        self.queue.clear()
        self.failed.emit(message)

    def _on_finished(self) -> None:
        session, self.session = self.session, None  # released: its model and data go with it
        self.record = None
        garbage_collection().run_ended()
        if session is not None:
            session.deleteLater()
        self.ended.emit()
        if self.last_run_dir:
            self.run_finished.emit(self.last_run_dir)
        completed = self.last_finished is not None and self.last_finished.status == "completed"
        if self.queue and completed:
            spec, name, config = self.queue.pop(0)
            # Each network is drawn beside the one before; a degradation run starts a new pair.
            twins = self.comparing is not None and self.comparing.kind == "twins"
            if self.start(spec, config, name, compared=twins or spec.shortcut == "none"):
                return
            completed = False  # the next could not start: the comparison is abandoned
        self.queue.clear()
        if self.comparing is not None:
            self.model.end_comparison(completed)  # with every run completed, its verdict

    # -- runs on disk -----------------------------------------------------------------------------

    def remember(self, path: Path) -> None:
        self.model.remember(path)

    def _following(self, path: Path) -> None:
        self.model.add_run(RunRecord(path.name, path, origin="followed"))
        self.following.emit(path)

    def _followed(self, path: Path, records: list[MetricsRecord]) -> None:
        record = self.model.followed(path)
        if record is not None:
            for line in records:
                record.add_record(line)
        self.followed.emit(path, records)

    def follow(self, path: str | Path, now: bool = True) -> bool:
        """Read a run folder's metrics, then keep reading what another process appends (off the
        UI thread). False when it is followed already or is the run training here. `now`: its
        curves are made at once; else in a later pass of the event loop (a project's many runs)."""
        path = Path(path).resolve()
        if path in self.on_disk or (self.training and Path(self.last_run_dir or "").resolve() == path):
            return False
        if not self.training:
            self.last_run_dir = str(path)  # what Export, Inspect and Classify use by default
            self.last_network = None
            self.last_run_changed.emit()
        self.remember(path)
        self.on_disk.add(path, now)
        return True

    def open_project_runs(self, base: Path, runs: list[str]) -> list[Path]:
        """A project's runs (relative to its folder `base`, or absolute), saved with it again
        whether shown or not; their folders. Hundreds cost no file-system calls here."""
        root = base.resolve()
        folders = [Path(os.path.normpath(root / run)) for run in runs]
        known = set(self.run_dirs)
        self.run_dirs.extend(folder for folder in dict.fromkeys(folders) if folder not in known)
        self._project_runs.update(folders)
        return folders

    def close_project(self) -> None:
        """Its runs, and every run followed from disk, leave the window: they are no longer
        followed (their curves go) nor saved with the next project."""
        self.on_disk.clear()
        self.run_dirs[:] = [run for run in self.run_dirs if run not in self._project_runs]
        self._project_runs.clear()
        self._forget_last_run_if_gone()

    def _unfollowed(self, path: Path) -> None:
        record = self.model.followed(path)
        if record is not None:
            self.model.remove_run(record)
        if path in self.run_dirs:
            self.run_dirs.remove(path)  # not saved with the next project
        self.unfollowed.emit(path)
        self._forget_last_run_if_gone()

    def _forget_last_run_if_gone(self) -> None:
        """The last run left the window (its project closed, its folder deleted): the newest run
        still in it answers instead, or, with none, the shipped weights."""
        if self.training or not self.last_run_dir or Path(self.last_run_dir).resolve() in self.run_dirs:
            return
        self.last_run_dir = str(self.run_dirs[-1]) if self.run_dirs else None
        self.last_network = None
        self.last_run_changed.emit()
