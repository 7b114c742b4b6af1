"""The Train workspace's redraws, paced: one changed view per tick, in turn, so that a frame never
repaints everything at once and a fast GPU run cannot flood the UI thread with redraws.

Ticks are `MIN_MS` apart, or `SHARE` times as long as the last one took: training uses every core,
and each slice of UI work holds one of its threads back (measured on 2 cores: a plot repainted
every 100 ms cost training ~15% of its speed, every 400 ms ~5%).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer

MIN_MS = 400  # between two ticks (one plot or the activations each): ~16 ms of painting
MAX_MS = 1000
SHARE = 20  # wait 20x as long as a redraw took: at most 5% of a core


class RedrawTicker(QObject):
    """Calls `redraw(part)` for the parts in turn, each tick until one reports a change."""

    def __init__(self, parts: Sequence[str], redraw: Callable[[str], bool], parent: QObject) -> None:
        super().__init__(parent)
        self.parts = tuple(parts)
        self.redraw = redraw
        self.next_part = 0
        self.timer = QTimer(self)
        self.timer.setInterval(MIN_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        began = time.perf_counter()
        for offset in range(len(self.parts)):
            if self.redraw(self.parts[(self.next_part + offset) % len(self.parts)]):
                self.next_part = (self.next_part + offset + 1) % len(self.parts)
                break
        took_ms = (time.perf_counter() - began) * 1000
        self.timer.setInterval(int(min(MAX_MS, max(MIN_MS, SHARE * took_ms))))
