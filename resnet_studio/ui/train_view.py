"""The Train workspace: setup, Train/Pause/Stop, progress with ETA, and live plots.

Events from the engine are stored as they arrive and drawn by a 10 Hz timer, so a fast GPU run
cannot flood the UI thread with redraws. Each run of the session keeps its curves, in its own
colour, so runs can be compared.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import UserError
from resnet_studio.fileio import run_folder_name
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.events import Evaluated, Finished, Started, Step
from resnet_studio.ui.document import Document
from resnet_studio.ui.train_worker import TrainingSession, studio_threads

RUN_COLOURS = ["#4c8bf5", "#e8833a", "#3aa675", "#d0508a", "#8e6cd8", "#c9a227"]
RECIPES = {
    "Quick demo (3 epochs, one-cycle)": dict(
        epochs=3,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        schedule="onecycle",
        label_smoothing=0.0,
    ),
    "He et al. 2015 CIFAR (182 epochs, step)": dict(
        epochs=182,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-4,
        schedule="step",
        label_smoothing=0.0,
    ),
}


@dataclass
class RunCurves:
    """One run's data and its plot items."""

    colour: str
    steps: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    smooth: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    val_steps: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    items: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    dirty: bool = False


def _spin(
    low: float, high: float, value: float, decimals: int = 0, step: float = 1
) -> QSpinBox | QDoubleSpinBox:
    box = QDoubleSpinBox() if decimals else QSpinBox()
    if decimals:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class TrainView(QWidget):
    run_finished = Signal(str)  # the run folder

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.session: TrainingSession | None = None
        self.runs: list[RunCurves] = []
        self.runs_root = Path.home() / "ResNetStudio" / "runs"
        self.last_run_dir: str | None = None
        self.last_finished: Finished | None = None
        self.total_steps = 0
        self.started_at = 0.0
        self.start_step = 0

        layout = QHBoxLayout(self)
        layout.addWidget(self._setup_panel())
        right = QVBoxLayout()
        right.addLayout(self._controls())
        right.addLayout(self._plots(), 1)
        layout.addLayout(right, 1)
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setInterval(100)
        self.redraw_timer.timeout.connect(self._redraw)
        self.redraw_timer.start()
        document.changed.connect(self._update_buttons)
        self._update_buttons()

    # -- layout ---------------------------------------------------------------------------------

    def _setup_panel(self) -> QWidget:
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        self.recipe = QComboBox()
        self.recipe.addItems(list(RECIPES))
        self.recipe.activated.connect(lambda _: self.apply_recipe(self.recipe.currentText()))
        form.addRow("Recipe", self.recipe)
        self.data_kind = QComboBox()
        self.data_kind.addItems(["demo", "cifar10", "cifar100", "folder"])
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("folder (default cache for CIFAR)")
        browse = QPushButton("…")
        browse.setFixedWidth(28)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.data_path)
        path_row.addWidget(browse)
        self.download = QCheckBox("Download CIFAR if missing")
        form.addRow("Data", self.data_kind)
        form.addRow("Location", path_row)
        form.addRow("", self.download)
        self.limit_train = _spin(0, 10_000_000, 0)
        self.limit_train.setSpecialValueText("all")
        self.limit_val = _spin(0, 10_000_000, 0)
        self.limit_val.setSpecialValueText("all")
        form.addRow("Train images", self.limit_train)
        form.addRow("Val images", self.limit_val)
        self.augment = QCheckBox("Pad, crop and flip")
        self.augment.setChecked(True)
        form.addRow("Augment", self.augment)
        self.epochs = _spin(1, 10_000, 3)
        self.batch_size = _spin(1, 8192, 128)
        self.optimizer = QComboBox()
        self.optimizer.addItems(["sgd", "adam", "adamw"])
        self.schedule = QComboBox()
        self.schedule.addItems(["onecycle", "cosine", "step", "constant"])
        self.lr = _spin(1e-6, 10, 0.1, 5, 0.01)
        self.momentum = _spin(0, 0.999, 0.9, 3, 0.01)
        self.weight_decay = _spin(0, 1, 5e-4, 5, 1e-4)
        self.label_smoothing = _spin(0, 0.5, 0.0, 2, 0.05)
        self.seed = _spin(0, 2**31 - 1, 0)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu"])  # GPUs are listed once torch has loaded (first show)
        for label, widget in (
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Optimizer", self.optimizer),
            ("LR schedule", self.schedule),
            ("Learning rate", self.lr),
            ("Momentum", self.momentum),
            ("Weight decay", self.weight_decay),
            ("Label smoothing", self.label_smoothing),
            ("Seed", self.seed),
            ("Device", self.device),
        ):
            form.addRow(label, widget)
        for combo in form_widget.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        scroll = QScrollArea()
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(form_widget)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(360)
        return scroll

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
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")
        self.progress.setTextVisible(True)
        self.message = QLabel()
        for widget in (self.train_button, self.pause_button, self.stop_button):
            row.addWidget(widget)
        row.addWidget(self.progress, 1)
        row.addWidget(self.message)
        return row

    def _plots(self) -> QGridLayout:
        grid = QGridLayout()

        def plot(name: str, title: str, left: str) -> pg.PlotWidget:
            widget = pg.PlotWidget(title=title)
            widget.setObjectName(name)
            widget.setBackground(self.palette().base().color())  # follows light and dark
            text = self.palette().text().color()
            for axis in ("left", "bottom"):
                widget.getAxis(axis).setPen(pg.mkPen(self.palette().mid().color()))
                widget.getAxis(axis).setTextPen(pg.mkPen(text))
            widget.setTitle(title, color=text.name())
            widget.setLabel("left", left)
            widget.showGrid(x=True, y=True, alpha=0.2)
            widget.addLegend(offset=(-10, 10))
            return widget

        self.loss_plot = plot("lossPlot", "Loss", "cross-entropy")
        self.loss_plot.setLabel("bottom", "step")
        self.accuracy_plot = plot("accuracyPlot", "Accuracy", "%")
        self.accuracy_plot.setLabel("bottom", "epoch")
        self.lr_plot = plot("lrPlot", "Learning rate", "lr")
        self.lr_plot.setLabel("bottom", "step")
        self.speed_plot = plot("speedPlot", "Speed", "images/s")
        self.speed_plot.setLabel("bottom", "step")
        self.gradient_view = plot("gradientView", "Gradient flow (latest step)", "gradient L2 norm")
        self.gradient_view.setLabel("bottom", "block, input → output")
        self.gradient_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=RUN_COLOURS[0])
        self.gradient_view.addItem(self.gradient_bars)
        self.gradient_view.getPlotItem().legend.setVisible(False)
        self.latest_grads: tuple[float, ...] = ()
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.accuracy_plot, 0, 1, 1, 2)
        grid.addWidget(self.lr_plot, 1, 0)
        grid.addWidget(self.speed_plot, 1, 1)
        grid.addWidget(self.gradient_view, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        return grid

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.device.count() == 2:
            self._list_devices()

    def _list_devices(self) -> None:
        from resnet_studio.training.device import available_devices  # imports torch

        for name in available_devices():
            if self.device.findText(name) < 0:
                self.device.addItem(name)

    # -- settings ---------------------------------------------------------------------------------

    def apply_recipe(self, name: str) -> None:
        recipe = RECIPES[name]
        self.epochs.setValue(recipe["epochs"])
        self.batch_size.setValue(recipe["batch_size"])
        self.optimizer.setCurrentText(recipe["optimizer"])
        self.lr.setValue(recipe["lr"])
        self.momentum.setValue(recipe["momentum"])
        self.weight_decay.setValue(recipe["weight_decay"])
        self.schedule.setCurrentText(recipe["schedule"])
        self.label_smoothing.setValue(recipe["label_smoothing"])

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder")
        if folder:
            self.data_path.setText(folder)

    def config(self) -> TrainConfig:
        kind = self.data_kind.currentText()
        path = self.data_path.text().strip()
        data = kind if kind == "demo" or not path else f"{kind}:{path}"
        return TrainConfig(
            data=data,
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            optimizer=self.optimizer.currentText(),
            lr=self.lr.value(),
            momentum=self.momentum.value(),  # type: ignore[arg-type]
            weight_decay=self.weight_decay.value(),
            schedule=self.schedule.currentText(),  # type: ignore[arg-type]
            label_smoothing=self.label_smoothing.value(),
            augment=self.augment.isChecked(),
            limit_train=self.limit_train.value() or None,
            limit_val=self.limit_val.value() or None,
            device=self.device.currentText()
            if self.device.currentText() in ("auto", "cpu", "mps")  # type: ignore[arg-type]
            else "cuda",
            seed=self.seed.value(),
            download=self.download.isChecked(),
            threads=studio_threads(),
            grad_norms=True,
        )

    # -- running ------------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.session is not None and self.session.running

    def _update_buttons(self) -> None:
        running = self.training
        valid = self.document.valid
        self.train_button.setEnabled(valid and not running)
        self.train_button.setToolTip("" if valid else f"Fix the network first: {self.document.problems[0]}")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running:
            self.pause_button.setChecked(False)

    def start(self) -> None:
        if self.training or not self.document.valid:
            return
        try:
            config = self.config()
        except UserError as exc:
            self.message.setText(str(exc))
            return
        from resnet_studio.training.engine import Trainer  # torch loads with the first run

        run_dir = self.runs_root / run_folder_name(self.document.spec.name)
        self.last_run_dir = str(run_dir)
        self.last_finished = None
        curves = RunCurves(RUN_COLOURS[len(self.runs) % len(RUN_COLOURS)])
        self._add_items(curves, f"run {len(self.runs) + 1}")
        self.runs.append(curves)
        self.session = TrainingSession(Trainer(self.document.spec, config, run_dir), self)
        self.session.event.connect(self._on_event)
        self.session.failed.connect(self._on_failed)
        self.session.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)  # busy until the data is loaded
        self.progress.setFormat("Loading data…")
        self.message.setText("")
        self.session.start()
        self._update_buttons()

    def _pause_toggled(self, paused: bool) -> None:
        if self.session is None:
            return
        if paused:
            self.session.pause()
            self.pause_button.setText("Resume")
            self.progress.setFormat(self.progress.format().split(" · paused")[0] + " · paused")
        else:
            self.session.resume()
            self.pause_button.setText("Pause")

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()
            self.progress.setFormat("Stopping after this step…")

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        """Stop cleanly (a checkpoint is written) and wait for the thread: closing the window."""
        if self.session is None or not self.session.running:
            return True
        return self.session.stop(timeout_ms)

    # -- events -------------------------------------------------------------------------------------

    def _add_items(self, curves: RunCurves, name: str) -> None:
        colour = pg.mkColor(curves.colour)
        faint = pg.mkColor(curves.colour)
        faint.setAlpha(70)
        curves.items = {
            "loss": self.loss_plot.plot(pen=pg.mkPen(faint, width=1)),
            "smooth": self.loss_plot.plot(pen=pg.mkPen(colour, width=2), name=f"{name} train"),
            "val_loss": self.loss_plot.plot(
                pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
                symbol="o",
                symbolSize=6,
                symbolBrush=colour,
                name=f"{name} val",
            ),
            "train_acc": self.accuracy_plot.plot(pen=pg.mkPen(colour, width=2), name=f"{name} train"),
            "val_acc": self.accuracy_plot.plot(
                pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
                symbol="o",
                symbolSize=6,
                symbolBrush=colour,
                name=f"{name} val",
            ),
            "lr": self.lr_plot.plot(pen=pg.mkPen(colour, width=2), name=name),
            "speed": self.speed_plot.plot(pen=pg.mkPen(colour, width=2), name=name),
        }

    def _on_event(self, event: object) -> None:
        curves = self.runs[-1]
        if isinstance(event, Started):
            self.total_steps = event.total_steps
            self.start_step = event.start_step
            self.started_at = time.perf_counter()
            self.progress.setRange(0, max(1, event.total_steps))
            self.progress.setValue(event.start_step)
            self.progress.setFormat(f"Training on {event.device}")
        elif isinstance(event, Step):
            curves.steps.append(event.step)
            curves.loss.append(event.loss)
            previous = curves.smooth[-1] if curves.smooth else event.loss
            curves.smooth.append(0.9 * previous + 0.1 * event.loss if math.isfinite(event.loss) else previous)
            curves.lr.append(event.lr)
            curves.speed.append(event.images_per_s)
            curves.dirty = True
            if event.grad_norms:
                self.latest_grads = event.grad_norms
            self.progress.setValue(event.step)
            self.progress.setFormat(self._progress_text(event))
        elif isinstance(event, Evaluated):
            curves.epochs.append(event.epoch)
            curves.val_steps.append(event.step)
            curves.val_loss.append(event.loss)
            curves.val_acc.append(event.accuracy * 100)
            curves.train_acc.append(event.train_accuracy * 100)
            curves.dirty = True
            self.message.setText(f"epoch {event.epoch}: val accuracy {event.accuracy:.1%}")
        elif isinstance(event, Finished):
            self.last_finished = event
            self.message.setText(f"{event.status}: {event.message}")
            self.progress.setFormat(f"{event.status.capitalize()} · step {event.step}")

    def _progress_text(self, event: Step) -> str:
        done = event.step - self.start_step
        elapsed = time.perf_counter() - self.started_at
        remaining = (self.total_steps - event.step) * elapsed / done if done else 0
        eta = f"{int(remaining // 60)}:{int(remaining % 60):02d}"
        paused = " · paused" if self.pause_button.isChecked() else ""
        return (
            f"epoch {event.epoch} · step {event.step}/{self.total_steps} · "
            f"{event.images_per_s:.0f} img/s · ETA {eta}{paused}"
        )

    def _on_failed(self, message: str) -> None:
        self.message.setText(message)
        self.progress.setRange(0, 1)
        self.progress.setFormat("Failed")

    def _on_finished(self) -> None:
        self._redraw()
        self._update_buttons()
        if self.last_run_dir:
            self.run_finished.emit(self.last_run_dir)

    def _redraw(self) -> None:
        if self.latest_grads and self.runs:
            grads = self.latest_grads
            self.gradient_bars.setOpts(
                x=list(range(len(grads))), height=list(grads), brush=self.runs[-1].colour
            )
            names = ["stem", *(f"{i}" for i in range(1, len(grads) - 1)), "head"]
            step = max(1, len(grads) // 12)
            ticks = [(i, name) for i, name in enumerate(names) if i % step == 0 or i == len(grads) - 1]
            self.gradient_view.getAxis("bottom").setTicks([ticks])
        for curves in self.runs:
            if not curves.dirty:
                continue
            curves.dirty = False
            items = curves.items
            items["loss"].setData(curves.steps, curves.loss)
            items["smooth"].setData(curves.steps, curves.smooth)
            items["lr"].setData(curves.steps, curves.lr)
            items["speed"].setData(curves.steps, curves.speed)
            items["val_loss"].setData(curves.val_steps, curves.val_loss)
            items["train_acc"].setData(curves.epochs, curves.train_acc)
            items["val_acc"].setData(curves.epochs, curves.val_acc)

    def confirm_close(self) -> bool:
        """While training: ask, then stop cleanly. True when the window may close."""
        if not self.training:
            return True
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
