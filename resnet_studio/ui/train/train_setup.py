"""The Train workspace's setup panel: data with a preview of samples (a grid of the user's photos
for a folder), recipe and the weights it starts from, hyper-parameters with a plot of the
learning-rate schedule, and the devices this machine has.

The settings live in the session model (`resnet_studio.session.SetupModel`): each box sends its
edits there and shows what the model holds (a recipe, a project opened), through one table of
bindings, so that no box holds a value the model lacks."""

from __future__ import annotations

import os
from typing import Any, overload

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QWidget,
)

from resnet_studio.data.preprocessing import CROP_FLIP, chosen_augmentation
from resnet_studio.errors import error_text
from resnet_studio.session import SetupModel, SetupSettings
from resnet_studio.session.setup import DATA_KINDS
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.recipes import RECIPES, Recipe
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.observing import observe
from resnet_studio.ui.common.train_worker import studio_threads
from resnet_studio.ui.train.data_memory import DataMemoryBox
from resnet_studio.ui.train.data_preview import DataPreview
from resnet_studio.ui.train.init_choice import TRANSFER_HINT, InitChoice, needs_weights
from resnet_studio.ui.train.schedule_plot import SchedulePlot
from resnet_studio.ui.train.setup_bindings import PASS, setup_bindings


@overload
def _spin(low: int, high: int, value: int) -> QSpinBox: ...
@overload
def _spin(low: float, high: float, value: float, decimals: int, step: float = 1) -> QDoubleSpinBox: ...
def _spin(low: float, high: float, value: float, decimals: int = 0, step: float = 1) -> QAbstractSpinBox:
    if not decimals:
        whole = QSpinBox()
        whole.setRange(int(low), int(high))
        whole.setValue(int(value))  # a step of 1
        return whole
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class SetupPanel(QScrollArea):
    sample_chosen = Signal(object, str)  # uint8 (C, H, W) image, its description
    samples_loaded = Signal()

    def __init__(self, model: SetupModel | None = None) -> None:
        super().__init__()
        self.model = model or SetupModel(SetupSettings(threads=studio_threads()))
        self._rendering = False  # showing the model's values: the boxes' signals are no edits
        self._editing = False  # a box's edit reaches the model: the box shows it already
        body = QWidget()
        self.form = QFormLayout(body)
        self._recipe_row()
        self._data_rows()
        self._length_and_optimizer_rows()
        for combo in body.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.bindings = setup_bindings(self)
        for name, (read, _, edited) in self.bindings.items():
            edited.connect(lambda *_, name=name, read=read: self._edited(name, read()))
        self._shown_data = self.model.settings.data_spec()
        self.show_settings(self.model.settings)
        observe(self, self.model.changed, self.show_settings)
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
        self.recipe.activated.connect(lambda _: self.model.apply_recipe(self.recipe.currentData()))
        self.recipe.currentIndexChanged.connect(
            lambda _: self.recipe.setToolTip(RECIPES[self.recipe.currentData()].description)
        )
        self.recipe.setToolTip(next(iter(RECIPES.values())).description)
        self.form.addRow("Recipe", self.recipe)
        self.init = InitChoice()
        self.form.addRow("Start from", self.init)
        self.recipe_note = QLabel(TRANSFER_HINT)
        self.recipe_note.setObjectName("recipeNote")
        self.recipe_note.setWordWrap(True)
        self.recipe_note.setStyleSheet("color: #d93025")
        self.recipe_note.setVisible(False)
        self.form.addRow(self.recipe_note)

    def start_problem(self) -> str:
        """Why Train cannot start with these settings (a transfer recipe without weights), or ""."""
        settings = self.model.settings
        return TRANSFER_HINT if needs_weights(settings.recipe) and not settings.init else ""

    def _data_rows(self) -> None:
        """Which data, where, a preview of samples, how many images, augmentation."""
        form = self.form
        self.data_kind = QComboBox()
        self.data_kind.addItems(list(DATA_KINDS))
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
        self.preview = DataPreview()
        self.preview.sample_chosen.connect(self.sample_chosen)
        self.preview.loaded.connect(self.samples_loaded)
        self.sample_list, self.sample_note = self.preview.sample_list, self.preview.note
        form.addRow(self.preview)
        self.data_memory = DataMemoryBox()  # its row comes below; the data's kind enables it
        self.data_kind.currentTextChanged.connect(self._kind_changed)
        self._kind_changed(self.data_kind.currentText())
        self.data_path.editingFinished.connect(self.load_samples)

        self.limit_train = _spin(0, 10_000_000, 0)
        self.limit_train.setSpecialValueText("all")
        self.limit_val = _spin(0, 10_000_000, 0)
        self.limit_val.setSpecialValueText("all")
        form.addRow("Train images", self.limit_train)
        form.addRow("Val images", self.limit_val)
        form.addRow("Data memory", self.data_memory)
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
        self.precision = _precision_box()
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
            ("Precision", self.precision),
        ):
            form.addRow(label, widget)

    def update_schedule_plot(self) -> None:
        settings = self.model.settings
        self.schedule_plot.show_schedule(settings.lr, settings.schedule, settings.epochs)

    # -- the model's settings -------------------------------------------------------------------

    def _edited(self, name: str, value: Any) -> None:
        """A box changed: the model takes its value (unless the box is only showing the model's)."""
        if self._rendering or value is PASS:
            return
        self._editing = True
        try:
            self.model.update(**{name: value})
        finally:
            self._editing = False
        if name == "data_kind":  # a path typed in Location is read once its editing is finished
            self.load_samples()

    def show_settings(self, settings: SetupSettings) -> None:
        """Show the model's settings: only the boxes that differ change."""
        self._rendering = True
        try:
            for name, (read, show, _) in self.bindings.items():
                if read() != getattr(settings, name):
                    show(getattr(settings, name))
        finally:
            self._rendering = False
        # A recipe's shifted views travel as an extra; the box says they come with the mirror
        # (in as few words as "Average with mirror": the panel must not scroll sideways).
        shift = settings.extras.get("tta_shift")
        self.tta.setText(f"Mirror and {shift}-px shifts" if shift else "Average with mirror")
        self.recipe_note.setVisible(bool(self.start_problem()))
        self.update_schedule_plot()
        if not self._editing and settings.data_spec() != self._shown_data:
            self.load_samples()  # other data: a recipe's, a project's, a folder chosen

    # -- samples --------------------------------------------------------------------------------

    def data_spec(self) -> str:
        return self.model.settings.data_spec()

    samples = property(lambda self: self.preview.samples)  # [(uint8 (C, H, W), description)]
    sample_error = property(lambda self: self.preview.error)

    def load_samples(self, image_size: int | None = None, channels: int | None = None) -> None:
        """Show samples of the chosen data, read off the UI thread (decoding a folder takes a while)."""
        self._shown_data = self.data_spec()
        self.preview.load(self.data_spec(), image_size, channels)
        if image_size is not None:  # the augmentation a run picks for this input size
            pads = chosen_augmentation(image_size) == CROP_FLIP
            self.augment.setText("Pad, crop and flip" if pads else "Random resized crop and flip")

    def _kind_changed(self, kind: str) -> None:
        cifar = kind.startswith("cifar")
        self.download.setEnabled(cifar)
        self.download_button.setEnabled(cifar)
        self.data_memory.setEnabled(kind == "folder")  # the other sources are small, or generated

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
            self.preview.reload()
            self.load_samples()

        def failed(exc: Exception) -> None:
            self._kind_changed(self.data_kind.currentText())
            self.sample_note.setText(f"Download failed: {exc}")

        run_in_background(fetch, self, done, failed)

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
            self.show_settings(self.model.settings)  # a device the model names may be listed now

        def failed(exc: Exception) -> None:  # the list keeps what it has (the CPU, "auto")
            self.device.setToolTip(f"Cannot list the devices: {error_text(exc)}")

        run_in_background(describe, self, fill, failed)

    def apply_recipe(self, recipe: Recipe) -> None:
        """Fill the fields from a recipe (one of `training.recipes.RECIPES`)."""
        self.model.apply_recipe(recipe.name)

    def apply_config(self, values: TrainConfig) -> None:
        """Fill every field from a saved config (a project's training settings)."""
        self.model.load(values)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder")
        if folder:
            self.model.update(data_path=folder)

    def config(self) -> TrainConfig:
        """The training config of the settings shown (`UserError` names one that cannot train)."""
        return self.model.config()


def _precision_box() -> QComboBox:
    """The CPU's number format (`TrainConfig.precision`); GPUs keep their own mixed precision."""
    box = QComboBox()
    box.setObjectName("precision")
    for label, value in (("auto (measured)", "auto"), ("float32", "fp32"), ("bf16", "bf16")):
        box.addItem(label, value)
    box.setToolTip(
        "The CPU's number format for training. auto: where the CPU has bf16 matrix units (AMX, "
        "AVX512-BF16), a few steps of each are timed at the start and bf16 is kept if at least 15% "
        "faster; the run's notes say what was chosen. A GPU keeps its own mixed precision"
    )
    return box
