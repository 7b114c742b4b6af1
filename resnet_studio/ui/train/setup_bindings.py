"""Which box of Setup shows which of the session model's settings (`SetupSettings`): how the box's
value reads as the model holds it, how the model's value is shown, and the signal of the box's
edits. `SetupPanel` sends every edit through this table and renders the model through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QCheckBox, QComboBox

from resnet_studio.ui.common.train_worker import studio_threads
from resnet_studio.ui.train.init_choice import BROWSE

Binding = tuple[Callable[[], Any], Callable[[Any], None], SignalInstance]
PASS = object()  # what a box reads while its value is no setting (Start from's "Checkpoint…")


def setup_bindings(panel: Any) -> dict[str, Binding]:
    """Each setting's box of `panel` (a `SetupPanel`: named by its module, which imports this one),
    Location before Data: a new kind shows its samples from its path."""

    def value(box: Any, zero_is_none: bool = False) -> Binding:  # a spin box ("all", "none" at 0)
        if not zero_is_none:
            return box.value, box.setValue, box.valueChanged
        return (lambda: box.value() or None), (lambda v: box.setValue(v or 0)), box.valueChanged

    def data(box: QComboBox, fallback: Any = None) -> Binding:
        def show(v: Any) -> None:
            if box.findData(v) >= 0:  # a device this machine has not listed (yet) is not shown
                box.setCurrentIndex(box.findData(v))

        return (lambda: box.currentData() or fallback), show, box.currentIndexChanged

    def text(box: QComboBox) -> Binding:
        return box.currentText, box.setCurrentText, box.currentTextChanged

    def check(box: QCheckBox) -> Binding:
        return box.isChecked, box.setChecked, box.toggled

    init, memory = panel.init, panel.data_memory
    return {
        "recipe": data(panel.recipe),
        "init": (
            lambda: PASS if init.currentData() == BROWSE else init.value(),
            init.set_value,
            init.currentIndexChanged,
        ),
        "data_path": (panel.data_path.text, panel.data_path.setText, panel.data_path.textChanged),
        "data_kind": text(panel.data_kind),
        "download": check(panel.download),
        "limit_train": value(panel.limit_train, zero_is_none=True),
        "limit_val": value(panel.limit_val, zero_is_none=True),
        "data_memory": (memory.value_bytes, memory.set_bytes, memory.valueChanged),
        "augment": check(panel.augment),
        "tta": check(panel.tta),
        "budget": (
            lambda: panel.budget.value() * 60 or None,
            lambda v: panel.budget.setValue((v or 0) / 60),
            panel.budget.valueChanged,
        ),
        "epochs": value(panel.epochs),
        "steps": value(panel.steps, zero_is_none=True),
        "val_fraction": value(panel.val_fraction),
        "batch_size": value(panel.batch_size),
        "optimizer": text(panel.optimizer),
        "schedule": text(panel.schedule),
        "lr": value(panel.lr),
        "momentum": value(panel.momentum),
        "weight_decay": value(panel.weight_decay),
        "label_smoothing": value(panel.label_smoothing),
        "seed": value(panel.seed),
        "device": data(panel.device, "auto"),
        "threads": (
            panel.threads.value,
            lambda v: panel.threads.setValue(v or studio_threads()),
            panel.threads.valueChanged,
        ),
        "precision": data(panel.precision, "auto"),
    }
