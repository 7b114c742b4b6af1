"""The channel grid of Inspect: every channel of a block as a tile, smooth with 2,048 channels.

A list model over one (channels, h, w) stack: a tile's picture is drawn when the view first paints
it (only visible tiles), from a stack normalised once, and kept. Tiles are a whole multiple of the
map's side (pixels stay sharp): 7-px maps are drawn 8x, 112-px maps 1x. Ctrl + mouse wheel (or
the view's zoom) changes the tile size. The view answers the small part of `QListWidget`'s
interface that Inspect and its tests use (`count`, `item(row).toolTip()`, `currentRow`,
`setCurrentRow`, `currentRowChanged`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QPixmap, QWheelEvent
from PySide6.QtWidgets import QListView

from resnet_studio.ui.common.feature_tiles import _LUT, normalise, to_pixmap

ModelIndex = QModelIndex | QPersistentModelIndex
TILE_SIZES = (24, 32, 48, 64, 96, 128, 192)
CHANNEL = Qt.ItemDataRole.UserRole


def default_tile(side: int) -> int:
    """About 56 px for the small maps of deep blocks, the map itself (up to 112) for large ones."""
    return min(112, max(56, side))


class ChannelModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self.normalised = np.zeros((0, 1, 1), np.uint8)
        self.order: list[int] = []
        self.tips: list[str] = []
        self.tile = 56
        self._pixmaps: dict[int, QPixmap] = {}

    def set_maps(self, maps: np.ndarray, order: list[int], tile: int) -> None:
        self.beginResetModel()
        self.normalised = normalise(maps)  # one pass over the stack, however many channels
        means, peaks = maps.mean(axis=(1, 2)), maps.max(axis=(1, 2))
        self.tips = [f"channel {c}: mean {means[c]:.3f}, max {peaks[c]:.3f}" for c in range(len(maps))]
        self.order = order
        self.tile = tile
        self._pixmaps.clear()
        self.endResetModel()

    def set_tile(self, tile: int) -> None:
        self.beginResetModel()
        self.tile = tile
        self._pixmaps.clear()
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.order)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.order):
            return None
        channel = self.order[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(channel)
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap(channel)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tips[channel]
        if role == CHANNEL:
            return channel
        return None

    def pixmap(self, channel: int) -> QPixmap:
        if channel not in self._pixmaps:
            grey = self.normalised[channel]
            factor = max(1, self.tile // max(grey.shape))
            pixmap = to_pixmap(_LUT[grey.repeat(factor, axis=0).repeat(factor, axis=1)])
            if max(grey.shape) > self.tile:  # zoomed out below the map's own size
                pixmap = pixmap.scaled(
                    self.tile,
                    self.tile,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            self._pixmaps[channel] = pixmap
        return self._pixmaps[channel]


class _Item:
    """What `QListWidget.item(row)` gives, for the parts of it callers read."""

    def __init__(self, model: ChannelModel, row: int) -> None:
        self._index = model.index(row)

    def toolTip(self) -> str:  # noqa: N802 - Qt's name
        return str(self._index.data(Qt.ItemDataRole.ToolTipRole))

    def data(self, role: int):
        return self._index.data(role)


class ChannelGrid(QListView):
    currentRowChanged = Signal(int)  # noqa: N815 - Qt's name

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.channels = ChannelModel()
        self.setModel(self.channels)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        # Laid out from one tile's size, not 2,048 measurements: one pass is cheap, and the
        # current tile can be scrolled to at once (a batched layout would not have placed it yet).
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.selectionModel().currentRowChanged.connect(lambda now, _: self.currentRowChanged.emit(now.row()))
        self._size_tiles()

    def set_maps(self, maps: np.ndarray, order: list[int], tile: int | None = None) -> None:
        """Show the (channels, h, w) `maps` in `order`; the tile size follows the maps' side unless
        the user zoomed."""
        self.channels.set_maps(maps, order, tile or default_tile(max(maps.shape[1:])))
        self._size_tiles()

    def zoom(self, steps: int) -> None:
        """Larger (steps > 0) or smaller tiles."""
        sizes = TILE_SIZES
        now = min(range(len(sizes)), key=lambda i: abs(sizes[i] - self.channels.tile))
        tile = sizes[max(0, min(len(sizes) - 1, now + steps))]
        if tile != self.channels.tile:
            row = self.currentRow()
            self.channels.set_tile(tile)
            self._size_tiles()
            if row >= 0:
                self.setCurrentRow(row)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1 if event.angleDelta().y() > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def _size_tiles(self) -> None:
        tile = self.channels.tile
        self.setIconSize(QSize(tile, tile))
        self.setGridSize(QSize(tile + 8, tile + 8 + self.fontMetrics().height()))

    # -- the part of QListWidget's interface Inspect uses --------------------------------------------

    def count(self) -> int:
        return self.channels.rowCount()

    def item(self, row: int) -> _Item:
        return _Item(self.channels, row)

    def currentRow(self) -> int:  # noqa: N802 - Qt's name
        return self.currentIndex().row()

    def setCurrentRow(self, row: int) -> None:  # noqa: N802 - Qt's name
        index = self.channels.index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index, QListView.ScrollHint.PositionAtCenter)
