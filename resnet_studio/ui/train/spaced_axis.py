"""A plot axis for short plots: its labelled ticks never crowd each other."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetrics


class SpacedAxis(pg.AxisItem):
    """A vertical axis whose labelled ticks stay 1.6 lines of text apart. pyqtgraph always draws
    at least two intervals of its finest nice step: in a short plot (Learning rate and Speed are
    about 70 pixels tall at 1024x640) that crammed four labels on top of each other."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if not levels or self.orientation not in ("left", "right") or span == 0 or size <= 0:
            return levels
        line = QFontMetrics(self.style.get("tickFont") or QFont()).height()
        major, offset = levels[0]
        if major / span * size >= 1.6 * line:
            return levels
        low, high = sorted((minVal, maxVal))
        margin = line / 2 / size * span  # a label centred on its tick needs half a line each side

        def labelled_inside(step: float) -> bool:
            return math.floor((high - margin) / step) * step >= low + margin

        # Coarser nice steps (1, 2, 5, 10, 20...) until labels are 1.6 lines apart, as long as one
        # label still lands inside the axis: a plot too short for two keeps one.
        best, step = major, major
        for _ in range(12):
            mantissa = round(step / 10 ** math.floor(math.log10(step)))
            step *= 2.5 if mantissa == 2 else 2
            if not labelled_inside(step):
                break
            best = step
            if step / span * size >= 1.6 * line:
                break
        return [(best, offset)]
