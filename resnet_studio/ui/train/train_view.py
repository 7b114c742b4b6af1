"""The Train workspace: setup and runs on the left; Train/Pause/Stop, the plain-vs-residual
experiment, progress with ETA, live plots and live activations on the right.

The view renders; `TrainingController` (training_controller.py) runs sessions, comparisons,
resumes and follows runs on disk. Events are stored as they arrive and drawn by a paced timer
(redraw_ticker.py). Each run keeps its curves, in its own colour, so runs can be compared; runs on
disk (also ones another process is writing) can be shown and followed, and stopped ones resumed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.errors import UserError, error_text
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.training.events import (
    Activations,
    Contributions,
    Evaluated,
    Featurizing,
    Finished,
    Planned,
    Started,
    Step,
    status_line,
)
from resnet_studio.ui.common.auto_splitter import AutoSplitter
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.document import Document
from resnet_studio.ui.common.plain_text import message_line, tooltip
from resnet_studio.ui.common.training_controller import Launch, TrainingController, fit_channels
from resnet_studio.ui.train.activation_view import ActivationView
from resnet_studio.ui.train.comparisons import Comparisons
from resnet_studio.ui.train.redraw_ticker import RedrawTicker
from resnet_studio.ui.train.run_progress import RunProgress
from resnet_studio.ui.train.runs_panel import RunsPanel
from resnet_studio.ui.train.train_plots import RunCurves, TrainPlots
from resnet_studio.ui.train.train_setup import SetupPanel

# The message line until a run's messages replace it: what the buttons above it do.
HINT = "Train: the canvas's network, with Setup's settings. Plain vs residual: it and its plain twin."


class TrainView(QWidget):
    def __init__(self, document: Document, controller: TrainingController) -> None:
        super().__init__()
        self.document = document
        self.controller = controller
        self.current: RunCurves | None = None
        self.run_notes: tuple[str, ...] = ()  # the Started event's notes of the run shown
        self.pinned: tuple[np.ndarray, str] | None = None
        self.pinned_by_default = False  # the data's first sample, not one the user chose
        self.followed: dict[Path, RunCurves] = {}  # run folder on disk -> its curves

        self.setup = SetupPanel(controller.model.setup)
        self.setup.sample_chosen.connect(self.pin)
        self.setup.samples_loaded.connect(self._pin_first_sample)
        self.setup.init.chosen.connect(self._take_network_of)
        self.runs_panel = RunsPanel()
        self.runs_panel.show_requested.connect(self.show_run)
        self.runs_panel.resume_requested.connect(self.resume_run)
        self.left = QTabWidget()
        self.left.addTab(self.setup, "Setup")
        self.left.addTab(self.runs_panel, "Runs")
        self.left.currentChanged.connect(self._left_tab_changed)
        self.left.setMaximumWidth(400)
        self.plots = TrainPlots()
        self.activation_view = ActivationView()
        self.activation_view.image_dropped.connect(self.pin_file)
        # Plots first: the activations take a third of the width at most (their maps scroll
        # sideways beyond that).
        full = self.activation_view.full_width
        splitter = AutoSplitter(1, lambda total: min(full, max(240, total // 3)))
        splitter.addWidget(self.plots)
        splitter.addWidget(self.activation_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter

        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._controls())
        column.addWidget(self.message)
        column.addWidget(self.summary)
        column.addWidget(splitter, 1)
        # Setup and runs: about a quarter of the window, between 300 and 360 pixels.
        self.outer = AutoSplitter(0, lambda total: max(300, min(360, total // 4)))
        self.outer.addWidget(self.left)
        self.outer.addWidget(right)
        self.outer.setChildrenCollapsible(False)
        layout = QHBoxLayout(self)
        layout.addWidget(self.outer)
        self.runs_root = controller.runs_root

        self.ticker = RedrawTicker((*TrainPlots.PARTS, "activations"), self._redraw, self)
        controller.launched.connect(self._on_launch)
        controller.engine_event.connect(self._on_event)
        controller.failed.connect(self._on_failed)
        controller.ended.connect(self._on_ended)
        controller.message.connect(self.message.setText)
        controller.following.connect(self._on_following)
        controller.followed.connect(self._add_records)
        controller.unfollowed.connect(lambda path: self.plots.remove_run(self.followed.pop(path, None)))
        document.changed.connect(self._update_buttons)
        # the weights' network changed: its input may want other samples
        document.changed.connect(lambda: self._load_samples() if self.isVisible() else None)
        self._update_buttons()

    # Aliases the tests and the main window use.
    gradient_view = property(lambda self: self.plots.gradient_view)
    runs = property(lambda self: self.plots.runs)
    compare_short = property(lambda self: self.comparisons.short)
    compare_full = property(lambda self: self.comparisons.full)
    compare = property(lambda self: self.comparisons.compare)
    degradation = property(lambda self: self.comparisons.degradation)

    @property
    def runs_root(self) -> Path:
        return self.runs_panel.root

    @runs_root.setter
    def runs_root(self, root: Path) -> None:
        self.runs_panel.set_root(Path(root))
        self.controller.runs_root = Path(root)

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.clicked.connect(self.stop)
        say = lambda text: self.message.setText(text)  # noqa: E731 - the label comes below
        self.comparisons = Comparisons(self.document, self.controller, self.setup.config, self, say)
        self.compare_button = self.comparisons.button
        self.summary: QLabel = self.comparisons.summary
        self.progress = RunProgress()
        self.message: QLabel = message_line("trainMessage", HINT)
        for widget in (self.train_button, self.pause_button, self.stop_button, self.compare_button):
            row.addWidget(widget)
        row.addWidget(self.progress, 1)
        return row

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.setup.device.count() == 2:
            self.setup.list_devices()
        self._load_samples()

    def _load_samples(self) -> None:
        """Samples at the network's input (read again only when the data or the input changed)."""
        spec = self.document.spec
        self.setup.load_samples(spec.input.size, spec.input.channels)

    def _left_tab_changed(self, index: int) -> None:
        if self.left.widget(index) is self.runs_panel:
            self.runs_panel.refresh()

    # -- the pinned image ---------------------------------------------------------------------------

    def pin(self, image: np.ndarray, description: str) -> None:
        image = fit_channels(np.asarray(image, dtype=np.uint8), self.document.spec.input.channels)
        self.pinned = (image, description)
        self.pinned_by_default = False
        self.activation_view.show_pinned(image, description)
        self.controller.pin(image)

    def _pin_first_sample(self) -> None:
        """The data's first sample, unless the user has pinned one: other data (their photos)
        replaces a sample of the data before."""
        if self.setup.samples and (self.pinned is None or self.pinned_by_default):
            self.pin(*self.setup.samples[0])
            self.pinned_by_default = True

    def pin_file(self, path: str) -> None:
        """Decode a dropped image off the UI thread, then pin it: prepared as evaluation prepares
        images for this network (from 64 px: resized with a margin, centre crop)."""
        from resnet_studio.data.images import load_image
        from resnet_studio.data.preprocessing import studio_preparation

        spec = self.document.spec
        run_in_background(
            lambda: load_image(path, studio_preparation(spec.input.size), spec.input.channels),
            self,
            lambda image: self.pin(image, Path(path).name),
            lambda exc: self.message.setText(f"{Path(path).name}: {exc}"),
        )

    # -- running ------------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.controller.training

    def _update_buttons(self) -> None:
        running = self.training
        valid = self.document.valid
        reason = "" if valid else f"Fix the network first: {self.document.problems[0]}"
        self.train_button.setEnabled(valid and not running)
        note = self.document.training_note
        warning = f"{note}: lower Batch size in Setup" if note else ""
        self.train_button.setToolTip(tooltip(reason or warning))
        self.comparisons.set_enabled(valid and not running, reason)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.setChecked(False)

    def start(self) -> bool:
        """Train the document's network with Setup's settings."""
        if self.training or not self.document.valid:
            return False
        try:
            config = self.setup.config()
        except UserError as exc:
            self.message.setText(str(exc))
            return False
        if problem := self.setup.start_problem():
            self.message.setText(problem)
            return False
        return self.controller.start(self.document.spec, config, f"run {len(self.runs) + 1}")

    def _take_network_of(self, init: str | None) -> None:
        """Weights fit one network: the canvas takes theirs (one undoable edit) when it differs in
        more than its name and class count (the output layer follows the data anyway)."""
        if init is None:
            return

        def take(spec: ArchitectureSpec) -> None:
            if self.setup.model.settings.init != init:  # the user has chosen other weights meanwhile
                return
            mine = self.document.spec
            if dataclasses.replace(spec, name=mine.name, classes=mine.classes) != mine:
                self.document.apply(spec, f"Use the network of {Path(init).name}")
                self.message.setText(f"The canvas now shows {spec.name}, the network of {init} (Undo: yours)")

        def read() -> ArchitectureSpec:  # off the UI thread, and torch only once it is needed
            from resnet_studio.nn.checkpoint import checkpoint_spec, load_checkpoint

            return checkpoint_spec(load_checkpoint(init))

        run_in_background(read, self, take, lambda exc: self.message.setText(error_text(exc)))

    def resume_run(self, path: str) -> None:
        """Continue a stopped run from its last checkpoint (a completed one for Setup's epochs)."""
        try:
            settings = self.setup.config()
        except UserError as exc:
            self.message.setText(str(exc))
            return
        self.controller.resume(path, settings)

    def _pause_toggled(self, paused: bool) -> None:
        if not self.training:
            return
        self.controller.pause(paused)
        self.pause_button.setText("Continue" if paused else "Pause")
        self.progress.set_paused(paused)

    def stop(self) -> None:
        if self.training:
            self.controller.stop()
            self.progress.setFormat("Stopping after this step…")

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        """Stop cleanly (a checkpoint is written) and wait for the thread: closing the window."""
        return self.controller.stop_and_wait(timeout_ms)

    # -- events -------------------------------------------------------------------------------------

    def _on_launch(self, launch: Launch) -> None:
        previous = self.current
        self.current = self.plots.add_run(launch.name)
        for record in launch.history:
            self.current.add_record(record)
        if launch.compared and previous is not None:
            self.plots.gradient_runs = [*self.plots.gradient_runs[-1:], self.current]
        else:
            self.plots.gradient_runs = [self.current]
        self.activation_view.clear_maps()
        self.progress.loading()
        self.message.setText("")
        self.message.setToolTip("")
        self.run_notes = ()
        self._update_buttons()

    def _on_event(self, event: object) -> None:
        curves = self.current
        if curves is None:  # events come from a session this view launched: its curves exist
            return
        if isinstance(event, Started):
            self.progress.started(event)
            self.activation_view.set_classes(event.classes)
            self.plots.contribution_view.new_run()
            self.plots.embedding_view.new_run(event.epochs)
            self.run_notes = event.notes  # what set-up decided: the output layer, skipped files, init
            if event.notes:
                self.message.setText(f"{curves.name}: {'; '.join(event.notes)}")
                self.message.setToolTip(tooltip("\n".join(event.notes)))
        elif isinstance(event, Planned):
            self.progress.planned(event)
        elif isinstance(event, Featurizing):  # a probe's one pass of the images, before its steps
            self.progress.featurizing(event)
        elif isinstance(event, Step):
            curves.add_step(event.step, event.loss, event.lr, event.images_per_s, event.accuracy)
            if event.grad_norms:
                curves.set_grads(event.grad_norms)
            name = curves.name if self.controller.comparing else ""
            self.progress.stepped(event, name, self.pause_button.isChecked())
        elif isinstance(event, Activations):
            self.activation_view.set_activations(event)
        elif isinstance(event, Contributions):
            self.plots.contribution_view.add(event)
        elif isinstance(event, Evaluated):
            curves.add_epoch(event.epoch, event.step, event.loss, event.accuracy)
            self.plots.embedding_view.epoch_ended(self.controller.trainer, event.epoch, event.time)
            self.message.setText(f"{curves.name} · epoch {event.epoch}: val accuracy {event.accuracy:.1%}")
        elif isinstance(event, Finished):
            notes = "".join(f" · {note}" for note in self.run_notes)  # again, once the run is over
            self.message.setText(f"{curves.name} {status_line(event.status, event.message)}{notes}")
            self.progress.setFormat(f"{event.status.capitalize()} · step {event.step}")

    def _on_failed(self, message: str) -> None:
        self.message.setText(message)
        self.progress.show_text("Failed", 0, 1)

    def _on_ended(self) -> None:
        self.redraw_all()
        self._update_buttons()
        if self.runs_panel.loaded:
            self.runs_panel.refresh()

    def _redraw(self, part: str) -> bool:
        """Redraw one part, if it changed (the ticker paces them: redraw_ticker.py)."""
        return self.activation_view.refresh() if part == "activations" else self.plots.redraw(part)

    def redraw_all(self) -> None:
        self.plots.redraw()
        self.activation_view.refresh()

    # -- runs from disk -----------------------------------------------------------------------------

    def show_run(self, path: str | Path, now: bool = True) -> None:
        """Overlay a run folder's curves and keep following it while another process writes it
        (`now`: its curves at once, else in a later pass of the event loop)."""
        self.controller.follow(path, now)

    def _on_following(self, path: Path) -> None:
        curves = self.followed[path] = self.plots.add_run(path.name)
        if not self.training:  # the run last shown: its gradient flow, once its records are read
            self.plots.gradient_runs = [curves]

    def _add_records(self, path: Path, records: list[MetricsRecord]) -> None:
        curves = self.followed.get(path)
        if curves is None:
            return
        for record in records:
            curves.add_record(record)
        summary = self.controller.on_disk.summaries.get(path)  # read with the records, off this thread
        if not self.training and summary is not None:
            self.progress.followed(path.name, summary, curves)

    def confirm_close(self) -> bool:
        """While training: ask, then stop cleanly. True when the window may close."""
        if not self.controller.thread_running:
            return True  # no thread left, even if its last events are still queued
        if self.controller.winding_up:
            return self.stop_and_wait()  # stopped or finished: only the last checkpoint to wait for
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Training in progress",
            "A network is training. Stop it (a checkpoint is kept) and close?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("stopTraining")
        if box.exec() != QMessageBox.StandardButton.Yes:
            return False
        return self.stop_and_wait()
