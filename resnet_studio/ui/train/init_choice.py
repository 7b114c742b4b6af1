"""Setup's "Start from" choice: random weights, weights that ship with the studio, or a checkpoint
(fine-tuning; `TrainConfig.init`). Data with other classes keeps all but the output layer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from resnet_studio.nn.shipped import shipped_weights

RANDOM = ""  # the item data of "Random weights" (a QComboBox cannot find None)
BROWSE = "\0browse"  # the item data of "Checkpoint…", never a path


class InitChoice(QComboBox):
    """Where a run's weights start. `chosen(init)` after the user picks weights (None: random)."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("initWeights")
        self.addItem("Random weights", RANDOM)
        for weights in shipped_weights().values():
            self.addItem(f"{weights.name} (shipped)", weights.name)
            self.setItemData(self.count() - 1, weights.describe(), Qt.ItemDataRole.ToolTipRole)
        self.addItem("Checkpoint…", BROWSE)
        self.setItemData(
            self.count() - 1, "A checkpoint file (.pt) of an earlier run", Qt.ItemDataRole.ToolTipRole
        )
        self.setToolTip(
            "Random weights train from scratch. Trained weights fine-tune: the run starts from them\n"
            "with a fresh optimizer and schedule. With data of other classes, everything but the\n"
            "output layer is kept (transfer learning). The canvas takes the weights' network."
        )
        self._kept = 0  # the index before "Checkpoint…" was picked: a cancelled dialog returns there
        self.activated.connect(self._activated)

    def value(self) -> str | None:
        """`TrainConfig.init`: a shipped name, a checkpoint path, or None for random weights."""
        return self.currentData() or None

    def set_value(self, init: str | None) -> None:
        """Show `init` (a saved project's); a path not listed yet is added above "Checkpoint…"."""
        index = self.findData(init or RANDOM)
        if index < 0:
            index = self.count() - 1
            self.insertItem(index, Path(init).name, init)
            self.setItemData(index, init, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(index)
        self._kept = index

    def offer(self, path: str, label: str) -> None:
        """List a checkpoint (an import's) above "Checkpoint…" without choosing it."""
        if self.findData(path) < 0:
            index = self.count() - 1
            self.insertItem(index, label, path)
            self.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
            if self._kept >= index:
                self._kept += 1

    def _activated(self, index: int) -> None:
        if self.itemData(index) == BROWSE:
            path, _ = QFileDialog.getOpenFileName(
                self, "Start from weights", "", "Checkpoints (*.pt);;All files (*)"
            )
            if not path:
                self.setCurrentIndex(self._kept)
                return
            self.set_value(path)
        self._kept = self.currentIndex()
        self.chosen.emit(self.value())
