"""Inspect > Image > Looks for: what the channel clicked in the feature-map grid responds to.

- The 9 validation images that excite it most, each cropped to the part of the image the channel
  sees at its strongest position (its receptive field). The peaks of every channel of every tap
  come from one pass over the validation images (`inspection.channels.index_channels`), made once
  per model and kept for the session: any other channel's top images are then a sort.
- An image optimised to excite it (`inspection.maximise.maximise_channel`), on request.

Both run off the UI thread with progress and Cancel, and both save as PNG. Answers are tagged
with the model's generation (bumped when other weights answer, or other data is named) and the
channel asked for: a late answer for another model or channel is dropped, never shown.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.data_source_field import data_source_field
from resnet_studio.ui.common.feature_tiles import image_pixmap
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import plain
from resnet_studio.ui.inspect.channel_widgets import CROP, OPTIMISED, optimised_slot, top_image_gallery
from resnet_studio.ui.inspect.channel_work import IndexedData, optimise, save_pictures, search

if TYPE_CHECKING:
    from resnet_studio.inspection.channels import TopImage


class _Progress(QObject):
    """Lives on the UI thread: a worker's emits arrive here queued."""

    moved = Signal(object, int, int)  # which work (its token), done, total


class ChannelPanel(QWidget):
    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.setObjectName("channelView")
        self.source = source
        self.limit_val = 5000  # validation images indexed (tests use fewer)
        self.steps = 256  # optimisation steps
        self.generation = 0  # bumped whenever other weights or other data answer
        self.indexed: IndexedData | None = None
        self.indexing = False
        self.optimising: tuple | None = None  # (generation, tap, channel, run) of the optimisation under way
        self.optimised: tuple[tuple, np.ndarray, float] | None = None  # key, uint8 (C, S, S), activation
        self.wanted: tuple[str, int] | None = None  # the tap and channel clicked
        self.top: list[TopImage] = []
        self.crops: list[np.ndarray] = []
        self.run = 0  # bumped by each search and each cancel: only the latest search reports
        self.serial = 0  # numbers each optimisation: only the latest reports
        self._index_stop = threading.Event()  # set to cancel the search under way
        self._optimise_stop = threading.Event()  # set to cancel the optimisation under way
        self._progress = _Progress()
        self._progress.moved.connect(self._moved)

        data_row = QHBoxLayout()
        data_row.addWidget(QLabel("Validation images from"))
        self.data = data_source_field(
            "channelData", "Where the images that excite a channel are searched: a --data source"
        )
        self.data.editingFinished.connect(self._data_changed)
        data_row.addWidget(self.data, 1)
        self.status = QLabel("Click a channel in the grid to see what it looks for.")
        self.status.setObjectName("channelStatus")
        self.status.setWordWrap(True)
        plain(self.status)
        self.gallery = top_image_gallery(self.fontMetrics().height())
        self.optimised_picture = optimised_slot()
        self.optimised_caption = QLabel("Optimise an image to see the pattern the channel responds to.")
        self.optimised_caption.setWordWrap(True)
        plain(self.optimised_caption)
        self.find_button = QPushButton("Find top images")
        self.find_button.setToolTip("Run the validation images through the model once (kept for the session)")
        self.find_button.clicked.connect(self.find_top)
        self.optimise_button = QPushButton("Optimise an image")
        self.optimise_button.setToolTip(
            "Find an image that excites this channel (gradient ascent, a few seconds)"
        )
        self.optimise_button.clicked.connect(self.optimise)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save PNGs…")
        self.save_button.setToolTip("Write the top images and the optimised image as PNG files")
        self.save_button.clicked.connect(self._choose_folder)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        buttons = QHBoxLayout()
        for button in (self.find_button, self.optimise_button, self.cancel_button, self.save_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        optimised = QVBoxLayout()
        optimised.addWidget(self.optimised_picture)
        optimised.addWidget(self.optimised_caption)
        optimised.addStretch(1)
        pictures = QHBoxLayout()
        pictures.addWidget(self.gallery, 0, Qt.AlignmentFlag.AlignTop)
        pictures.addLayout(optimised, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(data_row)
        layout.addWidget(self.status)
        layout.addLayout(pictures)
        layout.addStretch(1)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        source.changed.connect(self.model_changed)
        self._enable()

    # -- what is asked --------------------------------------------------------------------------------

    def choose(self, tap: str, channel: int) -> None:
        """The channel clicked: its top images (the index is made on first use, when shown)."""
        if self.wanted == (tap, channel):
            return
        if self.optimising is not None:
            self._cancel_optimisation()  # its image would be for a channel no longer shown
        self.wanted = (tap, channel)
        self._show_optimised()
        if self.isVisible():
            self.find_top()
        else:
            self._show_top()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.wanted is not None and self.indexed is None and not self.indexing:
            self.find_top()

    def model_changed(self) -> None:
        """Other weights answer: what was found belongs to the old ones; running work is stopped."""
        self.generation += 1
        self._cancel_search()
        self._cancel_optimisation()
        self.indexed, self.optimised = None, None
        self.top, self.crops = [], []
        self.gallery.clear()
        self.progress.reset()
        self._show_optimised()
        self.status.setText("Other weights answer now: the top images will be searched again.")
        if self.isVisible() and self.wanted is not None:
            self.find_top()
        self._enable()

    def _data_changed(self) -> None:
        if self.indexed is not None and self.data.text().strip() == self.indexed.source:
            return
        if self.indexed is None and not self.indexing:
            return
        self.model_changed()

    def cancel(self) -> None:
        """Stop whatever runs now (the Cancel button)."""
        if self.indexing:
            self._cancel_search()
            self.status.setText("Cancelled: press Find top images to search again.")
        if self.optimising is not None:
            self._cancel_optimisation()
            self.optimised_caption.setText("Optimisation cancelled.")
        self.progress.reset()
        self._enable()

    def _cancel_search(self) -> None:
        self._index_stop.set()
        self._index_stop = threading.Event()
        self.run += 1  # the search under way reports to nobody
        self.indexing = False

    def _cancel_optimisation(self) -> None:
        self._optimise_stop.set()
        self._optimise_stop = threading.Event()
        self.optimising = None  # its answer is dropped: it no longer matches

    # -- the top images ---------------------------------------------------------------------------------

    def find_top(self) -> None:
        if self.indexed is not None:
            self._show_top()
            return
        if self.indexing:
            return
        self.indexing = True
        self.run += 1
        run, stop, load = self.run, self._index_stop, self.source.loader(own=True)
        data, limit = self.data.text().strip() or None, self.limit_val
        moved = self._progress.moved
        self.status.setText("Running the validation images through the model once (kept for the session)…")
        self.progress.setRange(0, 0)
        self.progress.setFormat("%v of %m images")

        def job() -> IndexedData:
            return search(load, data, limit, lambda done, total: moved.emit(run, done, total), stop.is_set)

        def done(indexed: IndexedData) -> None:
            if run != self.run:
                return  # another model, other data, or cancelled meanwhile
            self.indexing, self.indexed = False, indexed
            self.progress.reset()
            self._show_top()
            self._enable()

        def failed(exc: Exception) -> None:
            if run != self.run:
                return
            self.indexing = False
            self.progress.reset()
            self.status.setText(f"Cannot search the validation images: {error_text(exc)}")
            self._enable()

        self._enable()
        run_in_background(job, self, done, failed)

    def _show_top(self) -> None:
        self.gallery.clear()
        self.top, self.crops = [], []
        indexed, wanted = self.indexed, self.wanted
        if indexed is None or wanted is None:
            self._enable()
            return
        tap, channel = wanted
        if tap not in indexed.index.peaks:
            self.status.setText(
                f"{tap} is not indexed: the top images are found for the stem's output and every "
                "block's. Choose another block."
            )
            self._enable()
            return
        count = indexed.index.channels(tap)
        if not 0 <= channel < count:
            self.status.setText(f"{tap} has channels 0 to {count - 1}.")
            self._enable()
            return
        self.top = indexed.index.top(tap, channel)
        self.crops = indexed.index.crops(self.top)
        size = round(indexed.index.fields[tap].size)
        side = min(size, indexed.index.size)
        for found, crop in zip(self.top, self.crops, strict=True):
            name = indexed.classes[int(indexed.labels[found.index])]
            # One scale for all: a crop clipped by the image's edge shows smaller, as it is.
            picture = image_pixmap(crop, round(CROP * crop.shape[-1] / side))
            item = QListWidgetItem(picture, f"{found.value:.2f}")
            item.setToolTip(
                f"validation image {found.index} ({name}): peak {found.value:.3f} at row {found.row}, "
                f"column {found.col}; the crop is what the channel sees there"
            )
            item.setData(Qt.ItemDataRole.UserRole, found.index)
            self.gallery.addItem(item)
        self.status.setText(
            f"{tap}, channel {channel}: the {len(self.top)} of {len(indexed.index.images):,} images of "
            f"{_short(indexed.source)} that excite it most (strongest first, peak activation below "
            f"each), cropped to its receptive field ({size}x{size} pixels at most)."
        )
        self.status.setToolTip(f"Validation images from {indexed.source}")
        self._enable()

    # -- the optimised image ------------------------------------------------------------------------------

    def optimise(self) -> None:
        if self.wanted is None or self.optimising is not None:
            return
        tap, channel = self.wanted
        key = (self.generation, tap, channel)
        self.serial += 1
        token = self.optimising = (*key, self.serial)
        stop, load, steps = self._optimise_stop, self.source.loader(own=True), self.steps
        colour = self.indexed.colour if self.indexed is not None else None
        moved = self._progress.moved
        self.optimised_caption.setText(f"Optimising an image for {tap}, channel {channel}…")
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.progress.setFormat("optimising: step %v of %m")

        def job() -> tuple[np.ndarray, float]:
            progress = lambda done, total: moved.emit(token, done, total)  # noqa: E731 - one line
            return optimise(load, tap, channel, colour, steps, progress, stop.is_set)

        def done(result: tuple[np.ndarray, float]) -> None:
            if self.optimising != token:
                return  # cancelled, another channel, or another model meanwhile
            self.optimising = None
            self.optimised = (key, *result)
            self.progress.reset()
            self._show_optimised()
            self._enable()

        def failed(exc: Exception) -> None:
            if self.optimising != token:
                return
            self.optimising = None
            self.progress.reset()
            self.optimised_caption.setText(f"Cannot optimise: {error_text(exc)}")
            self._enable()

        self._enable()
        run_in_background(job, self, done, failed)

    def _show_optimised(self) -> None:
        current = self.optimised
        if current is None or self.wanted is None or current[0] != (self.generation, *self.wanted):
            self.optimised_picture.clear()
            if self.optimising is None:
                self.optimised_caption.setText(
                    "Optimise an image to see the pattern the channel responds to."
                )
            return
        (_, tap, channel), picture, value = current
        self.optimised_picture.setPixmap(image_pixmap(picture, OPTIMISED))
        self.optimised_caption.setText(
            f"An image optimised to excite {tap}, channel {channel}: its mean activation is {value:.2f}. "
            "It shows the pattern, repeated, rather than any one object."
        )

    def _moved(self, token: object, done: int, total: int) -> None:
        if (self.indexing and token == self.run) or (
            self.optimising is not None and token == self.optimising
        ):
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _enable(self) -> None:
        busy = self.indexing or self.optimising is not None
        self.find_button.setEnabled(self.indexed is None and not self.indexing)
        self.optimise_button.setEnabled(self.wanted is not None and self.optimising is None)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        self.save_button.setEnabled(bool(self.crops) or self._has_optimised())

    def _has_optimised(self) -> bool:
        return (
            self.optimised is not None
            and self.wanted is not None
            and self.optimised[0] == (self.generation, *self.wanted)
        )

    # -- saving ---------------------------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the channel's PNGs into")
        if folder:
            self.save(folder)

    def save(self, folder: str | Path) -> list[Path]:
        """Write `<tap>-channel<k>-top9.png` and `-optimised.png` (those shown) into `folder`,
        each atomically; a problem is shown, never raised. The paths written."""
        if self.wanted is None:
            return []
        tap, channel = self.wanted
        picture = self.optimised[1] if self.optimised is not None and self._has_optimised() else None
        try:
            written = save_pictures(folder, f"{tap}-channel{channel}", self.crops, picture)
        except OSError as exc:
            self.status.setText(f"Cannot save: {exc.strerror or exc}")
            return []
        if written:
            self.status.setText(f"Saved {', '.join(p.name for p in written)} in {folder}.")
        return written


def _short(source: str) -> str:
    """A data source as the status line names it: a folder by its own name, not its whole path."""
    kind, _, where = source.partition(":")
    return f"{Path(where).name or where} ({kind})" if where else source
