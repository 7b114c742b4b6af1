"""The pictures of Inspect > Image > Looks for: the 3x3 gallery of top images, the optimised image."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QLabel, QListView, QListWidget

CROP = 64  # pixels of the largest crop on screen (a crop clipped by the image's edge is smaller)
OPTIMISED = 128  # pixels of the optimised image on screen


def top_image_gallery(font_height: int) -> QListWidget:
    """A fixed 3x3 grid of crops with their captions, the layout the saved PNG has."""
    gallery = QListWidget()
    gallery.setObjectName("channelTopImages")
    gallery.setViewMode(QListView.ViewMode.IconMode)
    gallery.setMovement(QListView.Movement.Static)
    gallery.setResizeMode(QListView.ResizeMode.Adjust)
    gallery.setIconSize(QSize(CROP, CROP))
    cell = QSize(CROP + 14, CROP + font_height + 8)
    gallery.setGridSize(cell)
    gallery.setSelectionMode(QListView.SelectionMode.NoSelection)
    gallery.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    gallery.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    frame = 2 * gallery.frameWidth() + 6
    gallery.setFixedSize(3 * cell.width() + frame, 3 * cell.height() + frame)  # 3x3, as saved
    gallery.setToolTip("The validation images that excite the channel most, cropped to what it sees")
    return gallery


def optimised_slot() -> QLabel:
    """The optimised image's place, framed so that it shows while empty."""
    optimised_picture = QLabel()
    optimised_picture.setObjectName("channelOptimised")
    optimised_picture.setFixedSize(OPTIMISED, OPTIMISED)
    optimised_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    optimised_picture.setFrameShape(QFrame.Shape.StyledPanel)  # the slot shows when empty
    optimised_picture.setToolTip("An image optimised to excite the channel (Olah et al. 2017)")
    return optimised_picture
