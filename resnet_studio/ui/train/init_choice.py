"""Setup's "Start from" choice: random weights, weights that ship with the studio, the ImageNet
networks the user imported and the checkpoints chosen lately (`ui.common.imported_weights`), or a
checkpoint (fine-tuning; `TrainConfig.init`). Data with other classes keeps all but the output
layer; the transfer recipes need one of these trained starts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from resnet_studio.nn.shipped import shipped_weights
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.imported_weights import (
    IMPORT_FOLDER,
    KnownCheckpoint,
    known_checkpoints,
    recent_checkpoints,
    remember_checkpoint,
)

RANDOM = ""  # the item data of "Random weights" (a QComboBox cannot find None)
BROWSE = "\0browse"  # the item data of "Checkpoint…", never a path
TRANSFER_HINT = (
    "Transfer recipes start from trained weights: choose them in Start from (File > Import "
    "torchvision Weights… adds ImageNet networks)"
)


def needs_weights(recipe: str | None) -> bool:
    """Whether a recipe (its name) trains from a network's trained weights: the transfer ones."""
    return bool(recipe) and str(recipe).startswith("transfer")


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
        self.import_folder = IMPORT_FOLDER  # where imports are looked for (tests point it elsewhere)
        self.listing = False  # a look for imported and recent checkpoints is under way
        self._again = False
        self.activated.connect(self._activated)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()  # imports made meanwhile (by the command line too) appear

    def refresh(self) -> None:
        """List the imported and recent checkpoints, read off the UI thread."""
        if self.listing:
            self._again = True  # once this look is over: it may have missed what changed since
            return
        self.listing, self._again = True, False
        folder, recent = self.import_folder, recent_checkpoints()
        current = self.value()
        if current and Path(current).is_absolute():  # a saved project's, perhaps neither imported nor recent
            recent = [current, *recent]

        def listed(known: list[KnownCheckpoint]) -> None:
            for checkpoint in known:
                self.offer(checkpoint.path, checkpoint.label, checkpoint.description)
            failed(None)

        def failed(_exc: Exception | None) -> None:  # the list keeps what it has
            self.listing = False
            if self._again:
                self.refresh()

        run_in_background(lambda: known_checkpoints(folder, recent), self, listed, failed)

    def value(self) -> str | None:
        """`TrainConfig.init`: a shipped name, a checkpoint path, or None for random weights."""
        return self.currentData() or None

    def set_value(self, init: str | None) -> None:
        """Show `init` (a saved project's); a path not listed yet is added above "Checkpoint…"."""
        index = self.findData(init or RANDOM)
        if index < 0 and init is not None:  # RANDOM is always listed
            index = self.count() - 1
            self.insertItem(index, Path(init).name, init)
            self.setItemData(index, init, Qt.ItemDataRole.ToolTipRole)
            self.setCurrentIndex(index)
            self.refresh()  # its network's name in place of the file's
        self.setCurrentIndex(index)
        self._kept = index

    def offer(self, path: str, label: str, description: str = "") -> None:
        """List a checkpoint (an import's) above "Checkpoint…" without choosing it; one listed
        already takes the new label."""
        index = self.findData(path)
        if index >= 0:
            self.setItemText(index, label)
        else:
            index = self.count() - 1
            self.insertItem(index, label, path)
            if self._kept >= index:
                self._kept += 1
        self.setItemData(index, description or path, Qt.ItemDataRole.ToolTipRole)

    def remember(self, path: str, label: str) -> None:
        """An import's checkpoint: listed now, and in later sessions wherever it was saved."""
        remember_checkpoint(path)
        self.offer(path, label)

    def _activated(self, index: int) -> None:
        if self.itemData(index) == BROWSE:
            path, _ = QFileDialog.getOpenFileName(
                self, "Start from weights", "", "Checkpoints (*.pt);;All files (*)"
            )
            if not path:
                self.setCurrentIndex(self._kept)
                return
            remember_checkpoint(path)
            self.set_value(path)
        self._kept = self.currentIndex()
        self.chosen.emit(self.value())
