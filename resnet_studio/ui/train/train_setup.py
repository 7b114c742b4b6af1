"""The Train workspace's setup panel: data with a preview of samples, recipe, hyper-parameters
with a plot of the learning-rate schedule, and the devices this machine has."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.recipes import RECIPES, Recipe
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import image_pixmap, tile_list
from resnet_studio.ui.common.plain_text import plain, tooltip
from resnet_studio.ui.common.train_worker import studio_threads
from resnet_studio.ui.train.init_choice import InitChoice
from resnet_studio.ui.train.schedule_plot import SchedulePlot

SAMPLE_COUNT = 12


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


class SetupPanel(QScrollArea):
    sample_chosen = Signal(object, str)  # uint8 (C, H, W) image, its description
    samples_loaded = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[np.ndarray, str]] = []
        self.sample_error = ""
        self._samples_for = ""
        self._recipe_extras: dict[str, object] = {}  # recipe values without a field of their own
        body = QWidget()
        self.form = QFormLayout(body)
        self._recipe_row()
        self._data_rows()
        self._length_and_optimizer_rows()
        for combo in body.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        for widget in (self.schedule, self.epochs, self.lr):
            signal = getattr(widget, "currentTextChanged", None) or widget.valueChanged
            signal.connect(lambda *_: self.update_schedule_plot())
        self.update_schedule_plot()
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setMinimumWidth(300)
        self.setMaximumWidth(360)

    def _recipe_row(self) -> None:
        self.recipe = QComboBox()
        self.recipe.setObjectName("recipe")
        for recipe in RECIPES.values():
            self.recipe.addItem(recipe.title, recipe.name)
            made_for = f" Made for the {recipe.preset} network." if recipe.preset else ""
            self.recipe.setItemData(
                self.recipe.count() - 1, recipe.description + made_for, Qt.ItemDataRole.ToolTipRole
            )
        self.recipe.activated.connect(lambda _: self.apply_recipe(RECIPES[self.recipe.currentData()]))
        self.recipe.currentIndexChanged.connect(
            lambda _: self.recipe.setToolTip(RECIPES[self.recipe.currentData()].description)
        )
        self.recipe.setToolTip(next(iter(RECIPES.values())).description)
        self.form.addRow("Recipe", self.recipe)
        self.init = InitChoice()
        self.form.addRow("Start from", self.init)

    def _data_rows(self) -> None:
        """Which data, where, a preview of samples, how many images, augmentation."""
        form = self.form
        self.data_kind = QComboBox()
        self.data_kind.addItems(["demo", "cifar10", "cifar100", "folder"])
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("default: the CIFAR cache")
        self.data_path.setToolTip(
            "Folder data: a folder with train/ and test/ (or val/), one sub-folder per class.\n"
            "CIFAR: where its files are; empty for the cache folder (~/.cache/resnet-studio/data)."
        )
        browse = QPushButton("…")
        browse.setFixedWidth(28)
        browse.setToolTip("Choose the data folder")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.data_path)
        path_row.addWidget(browse)
        self.download = QCheckBox("Download if missing")
        self.download.setToolTip("When training starts, fetch CIFAR if it is not in Location")
        self.download_button = QPushButton("Download Now")
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip("Fetch CIFAR into Location now (needs the internet, ~170 MB)")
        self.download_button.clicked.connect(self.download_now)
        form.addRow("Data", self.data_kind)
        form.addRow("Location", path_row)
        form.addRow("", self.download_button)
        form.addRow("", self.download)
        self.sample_list = tile_list("samplePreview", 40, (62, 62))
        self.sample_list.setFixedHeight(3 * 62 + 8)
        self.sample_list.setToolTip("Samples of the training data; click one to pin it in Activations")
        self.sample_list.itemClicked.connect(self._sample_clicked)
        self.sample_note = QLabel("Loading samples…")
        self.sample_note.setWordWrap(True)
        plain(self.sample_note)  # the data's folder, its messages
        form.addRow(self.sample_list)
        form.addRow(self.sample_note)
        self.data_kind.currentTextChanged.connect(lambda _: self.load_samples())
        self.data_kind.currentTextChanged.connect(self._kind_changed)
        self._kind_changed(self.data_kind.currentText())
        self.data_path.editingFinished.connect(self.load_samples)

        self.limit_train = _spin(0, 10_000_000, 0)
        self.limit_train.setSpecialValueText("all")
        self.limit_val = _spin(0, 10_000_000, 0)
        self.limit_val.setSpecialValueText("all")
        form.addRow("Train images", self.limit_train)
        form.addRow("Val images", self.limit_val)
        self.augment = QCheckBox("Pad, crop and flip")
        self.augment.setChecked(True)
        form.addRow("Augment", self.augment)
        self.tta = QCheckBox("Average with mirror")
        self.tta.setToolTip(
            "Flip test-time augmentation: evaluation, Classify and Inspect average each image's "
            "answer with its mirror image's (twice the inference work, usually a little more accurate). "
            "CIFAR-10 in 10 min also averages both moved a pixel each way (three times more again)"
        )
        form.addRow("Predict", self.tta)

    def _length_and_optimizer_rows(self) -> None:
        """How long (budget, epochs, steps), the split, the optimizer and its schedule, the machine."""
        form = self.form
        self.epochs = _spin(1, 10_000, 3)
        self.steps = _spin(0, 100_000_000, 0)
        self.steps.setSpecialValueText("from epochs")
        self.steps.setToolTip("Optimizer steps in all; when set, it decides the number of epochs")
        self.budget = _spin(0, 10_000, 0, 1, 1)
        self.budget.setObjectName("budget")
        self.budget.setSpecialValueText("none")
        self.budget.setSuffix(" min")
        self.budget.setToolTip(
            "Train for this long, data loading and evaluation included: the number of steps is set "
            "from the measured speed so that the run ends on time with its schedule completed"
        )
        self.val_fraction = _spin(0, 0.5, 0.0, 2, 0.05)
        self.val_fraction.setSpecialValueText("the data's own")
        self.val_fraction.setToolTip(
            "Validate on this fraction of the training images, held out (tune on it, keep the test "
            "set for the final figure); 0 uses the data's validation or test images"
        )
        self.threads = _spin(1, max(1, os.cpu_count() or 1), studio_threads())
        self.threads.setToolTip("CPU threads for training; fewer leave cores free for other programs")
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
        self.device.addItem("auto", "auto")
        self.device.addItem("cpu", "cpu")  # GPUs are listed once torch has loaded (first show)
        for label, widget in (
            ("Budget", self.budget),
            ("Epochs", self.epochs),
            ("Steps", self.steps),
            ("Val split", self.val_fraction),
            ("Batch size", self.batch_size),
            ("Optimizer", self.optimizer),
            ("LR schedule", self.schedule),
            ("Learning rate", self.lr),
        ):
            form.addRow(label, widget)
        self.schedule_plot = SchedulePlot()
        form.addRow(self.schedule_plot)
        for label, widget in (
            ("Momentum", self.momentum),
            ("Weight decay", self.weight_decay),
            ("Label smoothing", self.label_smoothing),
            ("Seed", self.seed),
            ("Device", self.device),
            ("CPU threads", self.threads),
        ):
            form.addRow(label, widget)

    def update_schedule_plot(self) -> None:
        self.schedule_plot.show_schedule(self.lr.value(), self.schedule.currentText(), self.epochs.value())

    # -- samples --------------------------------------------------------------------------------

    def data_spec(self) -> str:
        kind = self.data_kind.currentText()
        path = self.data_path.text().strip()
        return kind if kind == "demo" or not path else f"{kind}:{path}"

    def load_samples(self, image_size: int = 32, channels: int = 3) -> None:
        """Fetch a few training images off the UI thread (decoding a folder takes a while)."""
        spec = self.data_spec()
        if spec == self._samples_for:
            return
        self._samples_for = spec
        self.sample_note.setText("Loading samples…")

        def fetch() -> tuple[np.ndarray, list[str]]:
            from resnet_studio.data.sources import preview_samples  # imports torch

            return preview_samples(spec, SAMPLE_COUNT, image_size=image_size, channels=channels)

        def show(result: tuple[np.ndarray, list[str]]) -> None:
            if spec != self._samples_for:
                return  # the user chose other data meanwhile
            images, names = result
            self.samples = [
                (image, f"{name} (sample {i + 1})")
                for i, (image, name) in enumerate(zip(images, names, strict=True))
            ]
            self.sample_list.clear()
            for image, name in zip(images, names, strict=True):
                item = QListWidgetItem(QIcon(image_pixmap(image, 40)), name)
                item.setToolTip(tooltip(name))  # a class name: a folder's name
                self.sample_list.addItem(item)
            self.sample_error = ""
            self.sample_note.setText(f"{len(images)} samples of {spec}; click one to pin it")
            self.samples_loaded.emit()

        def failed(exc: Exception) -> None:
            if spec == self._samples_for:
                self.sample_error = error_text(exc)
                self.sample_list.clear()
                self.sample_note.setText(f"No preview: {self.sample_error}")

        run_in_background(fetch, self, show, failed)

    def _kind_changed(self, kind: str) -> None:
        cifar = kind.startswith("cifar")
        self.download.setEnabled(cifar)
        self.download_button.setEnabled(cifar)

    def download_now(self) -> None:
        """Fetch the chosen CIFAR set off the UI thread; only ever on this explicit request."""
        spec = self.data_spec()
        self.download_button.setEnabled(False)
        self.sample_note.setText(f"Downloading {spec}…")

        def fetch() -> str:
            from resnet_studio.data.sources import load_data  # imports torch

            data = load_data(spec, limit_train=1, limit_val=1, download=True)
            return f"{spec} is ready ({len(data.classes)} classes)"

        def done(message: str) -> None:
            self._kind_changed(self.data_kind.currentText())
            self.sample_note.setText(message)
            self._samples_for = ""
            self.load_samples()

        def failed(exc: Exception) -> None:
            self._kind_changed(self.data_kind.currentText())
            self.sample_note.setText(f"Download failed: {exc}")

        run_in_background(fetch, self, done, failed)

    def _sample_clicked(self, item: QListWidgetItem) -> None:
        index = self.sample_list.row(item)
        if 0 <= index < len(self.samples):
            self.sample_chosen.emit(*self.samples[index])

    # -- settings -------------------------------------------------------------------------------

    def list_devices(self) -> None:
        """Fill the device list off the UI thread (asking CUDA loads torch and its driver)."""

        def describe() -> list[tuple[str, str]]:
            from resnet_studio.training.device import describe_devices

            return describe_devices()

        def fill(devices: list[tuple[str, str]]) -> None:
            for name, label in devices:
                index = self.device.findData(name)
                if index < 0:
                    self.device.addItem(label, name)
                else:
                    self.device.setItemText(index, label)

        def failed(exc: Exception) -> None:  # the list keeps what it has (the CPU, "auto")
            self.device.setToolTip(f"Cannot list the devices: {error_text(exc)}")

        run_in_background(describe, self, fill, failed)

    def apply_recipe(self, recipe: Recipe) -> None:
        """Fill the fields from a recipe (one of `training.recipes.RECIPES`)."""
        self.recipe.setCurrentIndex(max(0, self.recipe.findData(recipe.name)))
        self._set_hyper_parameters(recipe.config(TrainConfig(data=self.data_spec())))

    def apply_config(self, values: TrainConfig) -> None:
        """Fill every field from a saved config (a project's training settings)."""
        kind, _, path = values.data.partition(":")
        if self.data_kind.findText(kind) >= 0:
            self.data_kind.setCurrentText(kind)
            self.data_path.setText(path)
        self._set_hyper_parameters(values)
        self.init.set_value(values.init)
        self.limit_train.setValue(values.limit_train or 0)
        self.limit_val.setValue(values.limit_val or 0)
        self.seed.setValue(values.seed)

    def _set_hyper_parameters(self, values: TrainConfig) -> None:
        self.epochs.setValue(values.epochs)
        self.steps.setValue(values.steps or 0)
        self.budget.setValue((values.budget or 0) / 60)
        self.val_fraction.setValue(values.val_fraction)
        self.batch_size.setValue(values.batch_size)
        self.optimizer.setCurrentText(values.optimizer)
        self.lr.setValue(values.lr)
        self.momentum.setValue(values.momentum)
        self.weight_decay.setValue(values.weight_decay)
        self.schedule.setCurrentText(values.schedule)
        self.label_smoothing.setValue(values.label_smoothing)
        self.augment.setChecked(values.augment)
        self.tta.setChecked(values.tta)
        # A recipe's shifted views travel as an extra; the box says they come with the mirror
        # (in as few words as "Average with mirror": the panel must not scroll sideways).
        shift = values.tta_shift
        self.tta.setText(f"Mirror and {shift}-px shifts" if shift else "Average with mirror")
        self._recipe_extras = {
            "nesterov": values.nesterov,
            "warmup_fraction": values.warmup_fraction,
            "crop_padding": values.crop_padding,
            "crop_fill": values.crop_fill,
            "tta_shift": values.tta_shift,
            "val_every": values.val_every,
        }

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder")
        if folder:
            self.data_path.setText(folder)
            self.load_samples()

    def config(self) -> TrainConfig:
        device = self.device.currentData() or "auto"
        return TrainConfig(
            data=self.data_spec(),
            epochs=self.epochs.value(),
            steps=self.steps.value() or None,
            budget=self.budget.value() * 60 or None,
            val_fraction=self.val_fraction.value(),
            batch_size=self.batch_size.value(),
            optimizer=self.optimizer.currentText(),  # type: ignore[arg-type]
            lr=self.lr.value(),
            momentum=self.momentum.value(),
            weight_decay=self.weight_decay.value(),
            schedule=self.schedule.currentText(),  # type: ignore[arg-type]
            label_smoothing=self.label_smoothing.value(),
            augment=self.augment.isChecked(),
            tta=self.tta.isChecked(),
            limit_train=self.limit_train.value() or None,
            limit_val=self.limit_val.value() or None,
            device=device,
            seed=self.seed.value(),
            init=self.init.value(),
            download=self.download.isChecked(),
            threads=self.threads.value(),
            grad_norms=True,
            contributions=True,
            # The Train view draws one plot or the activations per tick, each every few seconds:
            # snapshots more often than this would be computed and never shown.
            activation_interval=1.0,
            **self._recipe_extras,
        )
