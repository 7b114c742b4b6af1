"""Setup's preview of the training data: a strip of samples for the demo and CIFAR, and for a folder
of the user's own photos a grid of a few per class with the classes' image counts (`FolderGrid`).
Either is read off the UI thread; clicking a sample pins it in Activations."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QListWidgetItem, QVBoxLayout, QWidget

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import image_pixmap, tile_list
from resnet_studio.ui.common.plain_text import plain, tooltip
from resnet_studio.ui.train.folder_grid import FolderGrid

SAMPLE_COUNT = 12


class DataPreview(QWidget):
    sample_chosen = Signal(object, str)  # uint8 (C, H, W) image, its description
    loaded = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[np.ndarray, str]] = []
        self.error = ""
        self.shown_for = ""  # the data spec (and input) the preview shows or is reading
        self.input = (32, 3)  # the network's input side and channels: what samples are decoded to
        self.sample_list = tile_list("samplePreview", 40, (62, 62))
        self.sample_list.setFixedHeight(3 * 62 + 8)
        self.sample_list.setToolTip("Samples of the training data; click one to pin it in Activations")
        self.sample_list.itemClicked.connect(self._sample_clicked)
        self.folder_grid = FolderGrid()
        self.folder_grid.sample_clicked.connect(self.sample_chosen)
        self.folder_grid.loaded.connect(self._folder_loaded)
        self.folder_grid.failed.connect(self._failed)
        self.folder_grid.setVisible(False)
        self.note = QLabel("Loading samples…")
        self.note.setWordWrap(True)
        plain(self.note)  # the data's folder, its messages
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sample_list)
        layout.addWidget(self.folder_grid)
        layout.addWidget(self.note)

    def load(self, spec: str, image_size: int | None = None, channels: int | None = None) -> None:
        """Show samples of `spec` at the network's input (the last one given when None)."""
        self.input = (image_size or self.input[0], channels or self.input[1])
        asked = f"{spec}@{self.input}"
        if asked == self.shown_for:
            return
        self.shown_for = asked
        kind, _, path = spec.partition(":")
        folder = kind == "folder" and bool(path)
        self.sample_list.setVisible(not folder)
        self.folder_grid.setVisible(folder)
        self.note.setVisible(not folder)
        if folder:
            self.folder_grid.load(path, *self.input)
            return
        self.folder_grid.forget()
        self.note.setText("Loading samples…")
        size, channels = self.input

        def fetch() -> tuple[np.ndarray, list[str]]:
            from resnet_studio.data.sources import preview_samples  # imports torch

            return preview_samples(spec, SAMPLE_COUNT, image_size=size, channels=channels)

        def show(result: tuple[np.ndarray, list[str]]) -> None:
            if asked != self.shown_for:
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
            self.error = ""
            self.note.setText(f"{len(images)} samples of {spec}; click one to pin it")
            self.loaded.emit()

        def failed(exc: Exception) -> None:
            if asked == self.shown_for:
                self._failed(error_text(exc))

        run_in_background(fetch, self, show, failed)

    def reload(self) -> None:
        """Read the data again at the next `load` (it has been downloaded meanwhile)."""
        self.shown_for = ""

    def _folder_loaded(self, samples: list[tuple[np.ndarray, str]]) -> None:
        self.samples = samples
        self.error = ""
        self.loaded.emit()

    def _failed(self, message: str) -> None:
        self.error = message
        self.samples = []
        self.sample_list.clear()
        self.note.setText(f"No preview: {message}")

    def _sample_clicked(self, item: QListWidgetItem) -> None:
        index = self.sample_list.row(item)
        if 0 <= index < len(self.samples):
            self.sample_chosen.emit(*self.samples[index])
