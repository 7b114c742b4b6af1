"""`activationView`: a pinned image and, for every block, a strip of its feature maps that
refreshes while the network trains, so the user watches filters form.

The maps arrive in the engine's `Activations` events (a separate no-grad pass on the pinned
image); this view only renders the latest one, at most as often as the Train view redraws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from resnet_studio.architecture.analysis import short_block_name
from resnet_studio.data.images import is_image_name
from resnet_studio.training.events import Activations
from resnet_studio.ui.common.feature_tiles import image_pixmap, mosaic, to_pixmap
from resnet_studio.ui.common.plain_text import escaped, plain, rich, tooltip

MAPS_PER_BLOCK = 8
TILE = 30  # pixels per feature map on screen


def dropped_image_path(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local image file among a drag's URLs, if any."""
    for url in event.mimeData().urls() if event.mimeData().hasUrls() else []:
        if url.isLocalFile() and is_image_name(url.toLocalFile()):
            return url.toLocalFile()
    return None


class ActivationView(QFrame):
    image_dropped = Signal(str)  # a file the user dropped: the caller loads and pins it

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("activationView")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.classes: tuple[str, ...] = ()
        self.latest: Activations | None = None
        self.shown_step = -1
        self._dirty = False

        layout = QVBoxLayout(self)
        title = QLabel("<b>Activations</b> of the pinned image")
        header = QHBoxLayout()
        self.pinned = QLabel()
        self.pinned.setFixedSize(72, 72)
        self.pinned.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pinned.setStyleSheet("border: 1px solid palette(mid);")
        self.caption = QLabel("Click a sample on the left, or drop an image here, to pin it.")
        self.caption.setWordWrap(True)
        rich(title, self.caption)  # the caption's file name and class name are escaped
        header.addWidget(self.pinned)
        header.addWidget(self.caption, 1)
        layout.addWidget(title)
        layout.addLayout(header)

        self.rows = QWidget()
        self.grid = QGridLayout(self.rows)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(4)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidget(self.rows)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        layout.addWidget(scroll, 1)
        self.placeholder = QLabel("Feature maps of the stem and every block appear here while training.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: palette(mid);")
        self.grid.addWidget(self.placeholder, 0, 0, 1, 2)
        self._labels: list[tuple[QLabel, QLabel]] = []
        # Room for all 8 maps at full size where the window allows; in a small window the strips
        # scroll sideways rather than squeeze the plots.
        self.setMinimumWidth(240)
        self.full_width = MAPS_PER_BLOCK * (TILE + 2) + 90

    # -- intents in ---------------------------------------------------------------------------------

    def show_pinned(self, image: np.ndarray, description: str) -> None:
        self.pinned.setPixmap(image_pixmap(image, 64))
        self.pinned_description = description
        self.caption.setText(f"Pinned: {escaped(description)}")

    def set_classes(self, classes: tuple[str, ...]) -> None:
        self.classes = classes

    def set_activations(self, event: Activations) -> None:
        """Store the latest snapshot; `refresh()` draws it."""
        self.latest = event
        self._dirty = True

    # -- drawing ----------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Draw the latest snapshot if it is new; True when something was drawn."""
        if not self._dirty or self.latest is None:
            return False
        self._dirty = False
        event = self.latest
        if len(self._labels) != len(event.maps):
            self._make_rows([name for name, _ in event.maps])
        for (name_label, maps_label), (name, maps) in zip(self._labels, event.maps, strict=True):
            name_label.setText(short_block_name(name))
            name_label.setToolTip(
                tooltip(f"{name}: {maps.shape[0]} of its channels, {maps.shape[1]}x{maps.shape[2]}")
            )
            maps_label.setPixmap(to_pixmap(mosaic(maps[:MAPS_PER_BLOCK], MAPS_PER_BLOCK, TILE)))
        self.shown_step = event.step
        description = getattr(self, "pinned_description", "")
        guess = ""
        if event.probabilities and self.classes and len(self.classes) == len(event.probabilities):
            best = int(np.argmax(event.probabilities))
            guess = f" · network says <b>{escaped(self.classes[best])}</b> {event.probabilities[best]:.0%}"
        self.caption.setText(f"Pinned: {escaped(description)}<br>after step {event.step}{guess}")
        return True

    def _make_rows(self, names: list[str]) -> None:
        for name_label, maps_label in self._labels:
            name_label.deleteLater()
            maps_label.deleteLater()
        self.placeholder.hide()
        self._labels = []
        for row, _ in enumerate(names):
            name_label, maps_label = QLabel(), QLabel()
            name_label.setObjectName("blockName")
            plain(name_label)
            maps_label.setObjectName("blockMaps")
            name_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(name_label, row + 1, 0)
            self.grid.addWidget(maps_label, row + 1, 1)
            self._labels.append((name_label, maps_label))

    def clear_maps(self) -> None:
        """A new network: the old rows no longer apply."""
        self._make_rows([])
        self.placeholder.show()
        self.latest = None
        self.shown_step = -1

    # -- drops --------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_image_path(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if dropped_image_path(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_image_path(event)
        if path:
            event.acceptProposedAction()
            self.image_dropped.emit(str(Path(path)))
