"""Feature maps as pictures: numpy arrays to colour-mapped `QImage`s (shared by Train and Inspect),
and pictures written as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget

from resnet_studio.fileio import atomic_write

_LUT = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Each (h, w) map of a (c, h, w) stack scaled to 0..255 on its own range."""
    low = maps.min(axis=(-2, -1), keepdims=True)
    high = maps.max(axis=(-2, -1), keepdims=True)
    return ((maps - low) / np.maximum(high - low, 1e-12) * 255).astype(np.uint8)


def mosaic(maps: np.ndarray, columns: int, tile: int, gap: int = 2) -> np.ndarray:
    """(c, h, w) maps -> one RGB (H, W, 3) uint8 picture of colour-mapped tiles, `columns` wide,
    each map enlarged (nearest neighbour) by a whole factor to about `tile` pixels."""
    count, height, width = maps.shape
    factor = max(1, round(tile / max(height, width)))
    scaled = normalise(maps).repeat(factor, axis=1).repeat(factor, axis=2)
    h, w = height * factor, width * factor
    rows = -(-count // columns)
    canvas = np.zeros((rows * (h + gap) - gap, min(count, columns) * (w + gap) - gap), np.uint8)
    background = np.ones(canvas.shape, bool)
    for i in range(count):
        r, c = divmod(i, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = scaled[i]
        background[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = False
    rgb = _LUT[canvas]
    rgb[background] = 0
    return rgb


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """An RGB (H, W, 3) or grey (H, W) uint8 array -> QPixmap (copied, so the array may go)."""
    array = np.ascontiguousarray(rgb)
    height, width = array.shape[:2]
    if array.ndim == 2:
        image = QImage(array.data, width, height, width, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def image_pixmap(image: np.ndarray, side: int) -> QPixmap:
    """A uint8 (C, H, W) image (C = 1 or 3) -> QPixmap about `side` pixels wide, pixels kept sharp."""
    array = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    factor = max(1, round(side / image.shape[-1]))
    return to_pixmap(array.repeat(factor, axis=0).repeat(factor, axis=1))


def tile_list(name: str, icon: int, cell: tuple[int, int]) -> QListWidget:
    """A list shown as a wrapping grid of `icon`-pixel pictures in `cell`-sized cells, with a name
    for automation (sample previews, feature-map channels, galleries)."""
    tiles = QListWidget()
    tiles.setObjectName(name)
    tiles.setViewMode(QListView.ViewMode.IconMode)
    tiles.setIconSize(QSize(icon, icon))
    tiles.setGridSize(QSize(*cell))
    tiles.setResizeMode(QListView.ResizeMode.Adjust)
    tiles.setMovement(QListView.Movement.Static)
    tiles.setWrapping(True)
    return tiles


def write_png(pixmap: QPixmap, path: str | Path) -> None:
    """`pixmap` as a PNG file, written atomically: never through a link, into a folder, a pipe or a
    device (`NotARegularFile`), and a failed write leaves the previous file as it was (`OSError`)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise OSError(f"{path}: the picture could not be encoded as PNG")
    buffer.close()
    atomic_write(path, lambda handle: handle.write(bytes(data.data())))
