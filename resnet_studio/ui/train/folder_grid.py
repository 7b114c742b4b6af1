"""Setup's view of a `folder:` data source: the user's own photos, a few per class, beside each
class's name and image counts, with the folder's problems (empty classes, unreadable files) said.

The folder is listed and its samples decoded off the UI thread (`data.folder_overview`); an answer
for a folder the user has left meanwhile is dropped. Clicking a photo pins it in Activations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QGridLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import to_pixmap
from resnet_studio.ui.common.plain_text import escaped, plain, rich, tooltip

if TYPE_CHECKING:  # the module lists folders with the data sources' rules, which import torch
    from resnet_studio.data.folder_overview import ClassOverview, FolderOverview

THUMBNAIL = 50  # pixels: four photos and a class name fit Setup's narrowest width (300)
MAX_ROWS = 8  # classes shown with photos; the others are named with their counts
MAX_NAMED = 24  # classes named after those (a 1,000-class folder: the rest is a count)
GREY = "#8a8d91"
RED = "#d93025"


def _count(n: int) -> str:
    return f"{n:,} image{'' if n == 1 else 's'}"


class FolderGrid(QWidget):
    """`load(root, ...)` shows a folder; `loaded(samples)` hands the decoded samples (for pinning)
    as [(uint8 (C, H, W) image, description)], `failed(message)` says why there are none."""

    loaded = Signal(list)
    failed = Signal(str)
    sample_clicked = Signal(object, str)  # uint8 (C, H, W) image, its description

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("folderGrid")
        self.overview: FolderOverview | None = None
        self.samples: list[tuple[np.ndarray, str]] = []
        self._asked: tuple[str, int, int] | None = None  # the folder and input the answer must match
        self.summary = QLabel()
        self.summary.setObjectName("folderSummary")
        self.summary.setWordWrap(True)
        rich(self.summary)  # our markup; the folder's and classes' names escaped
        self.rows = QGridLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setHorizontalSpacing(2)
        self.rows.setVerticalSpacing(2)
        self.rows.setColumnStretch(0, 1)
        self.rest = QLabel()
        self.rest.setObjectName("folderMoreClasses")
        self.rest.setWordWrap(True)
        plain(self.rest)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addLayout(self.rows)
        layout.addWidget(self.rest)

    def load(self, root: str, image_size: int = 32, channels: int = 3) -> None:
        """List `root` and decode its samples in the background; the grid says so meanwhile."""
        asked = (root, image_size, channels)
        self._asked = asked
        self._clear()
        self.summary.setText(f"Reading {escaped(root)}…")

        def read() -> FolderOverview:
            from resnet_studio.data.folder_overview import folder_overview

            return folder_overview(root, image_size, channels, thumbnail=2 * THUMBNAIL)

        def show(overview: FolderOverview) -> None:
            if self._asked == asked:  # else the user has chosen another folder meanwhile
                self.show_overview(overview)

        def fail(exc: Exception) -> None:
            if self._asked == asked:
                self.summary.setText(f"<span style='color:{RED}'>{escaped(error_text(exc))}</span>")
                self.failed.emit(error_text(exc))

        run_in_background(read, self, show, fail)

    def forget(self) -> None:
        """No folder: an answer still under way is dropped."""
        self._asked = None
        self._clear()
        self.summary.clear()

    def show_overview(self, overview: FolderOverview) -> None:
        self._clear()
        self.overview = overview
        self.summary.setText(self._summary(overview))
        shown = overview.classes[:MAX_ROWS]
        for row, entry in enumerate(shown):
            self._add_row(row, entry)
        rest = overview.classes[MAX_ROWS:]
        named = ", ".join(f"{c.name} ({c.train + c.val:,})" for c in rest[:MAX_NAMED])
        more = f", and {len(rest) - MAX_NAMED:,} more" if len(rest) > MAX_NAMED else ""
        self.rest.setText(f"Also: {named}{more}" if rest else "")
        self.rest.setVisible(bool(rest))
        self.samples = [
            (sample.image, f"{entry.name}: {sample.path.name}") for entry in shown for sample in entry.samples
        ]
        self.loaded.emit(self.samples)

    def _summary(self, overview: FolderOverview) -> str:
        usable = overview.usable
        train = sum(c.train for c in usable)
        val = sum(c.val for c in usable)
        split = (
            f"{train:,} train, {val:,} in {escaped(overview.val_folder)}/"
            if overview.val_folder
            else "10% of each class validates"
        )
        lines = [f"<b>{len(usable)} classes</b> · {_count(train + val)} ({split})"]
        lines += [f"<span style='color:{RED}'>{escaped(line)}</span>" for line in overview.problems()]
        if overview.unreadable:  # the files in the line, why in its tooltip (a reason can be long)
            files = ", ".join(path.name for path, _ in overview.unreadable[:3])
            more = ", …" if len(overview.unreadable) > 3 else ""
            lines.append(f"<span style='color:{RED}'>Skipped, unreadable: {escaped(files + more)}</span>")
        self.summary.setToolTip(
            tooltip("\n".join(f"{path}: {why}" for path, why in overview.unreadable[:20]))
        )
        lines.append(f"<span style='color:{GREY}'>Click a photo to follow it in Activations</span>")
        return "<br>".join(lines)

    def _add_row(self, row: int, entry: ClassOverview) -> None:
        name = QLabel()
        rich(name)
        if entry.empty:
            counts = f"<span style='color:{RED}'>no images: left out</span>"
        else:
            counts = f"<span style='color:{GREY}'>{_count(entry.train + entry.val)}</span>"
        name.setText(f"{escaped(entry.name)}<br>{counts}")
        name.setToolTip(tooltip(f"{entry.name}: {entry.train:,} training images, {entry.val:,} validation"))
        name.setMinimumWidth(40)
        self.rows.addWidget(name, row, 0)
        for column, sample in enumerate(entry.samples, 1):
            button = QToolButton()
            button.setObjectName("folderSample")
            button.setAutoRaise(True)
            button.setIcon(QIcon(to_pixmap(sample.picture)))
            button.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
            description = f"{entry.name}: {sample.path.name}"
            button.setToolTip(tooltip(f"{description}\n{sample.path}\nClick to follow it in Activations"))
            button.clicked.connect(
                lambda _=False, image=sample.image, text=description: self.sample_clicked.emit(image, text)
            )
            self.rows.addWidget(button, row, column)

    def _clear(self) -> None:
        self.overview = None
        self.samples = []
        while self.rows.count():
            item = self.rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.rest.clear()
        self.rest.setVisible(False)
