"""A splitter whose pane follows the window's width until the user drags it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter


class AutoSplitter(QSplitter):
    """A horizontal splitter that sizes one pane from the total width on every resize (a hidden
    tab gets its first resize when first shown), until the user drags the handle."""

    def __init__(self, pane: int, width_for: Callable[[int], int]) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.pane, self.width_for = pane, width_for
        self.automatic = True
        self.splitterMoved.connect(self._moved_by_user)

    def _moved_by_user(self) -> None:
        self.automatic = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self.automatic or self.count() != 2:
            return
        total = sum(self.sizes()) or self.width()
        wanted = self.width_for(total)
        self.setSizes([wanted, total - wanted] if self.pane == 0 else [total - wanted, wanted])
