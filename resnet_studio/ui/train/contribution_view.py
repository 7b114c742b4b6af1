"""Block contributions while a network trains: a heat strip of residual block x time.

Each column is one measurement (the engine's `Contributions` events, every couple of seconds),
each row a residual block, first at the top; the colour is ||F(x)|| / ||shortcut(x)||, what the
block's branch adds relative to what flows past it, on a log scale. Veit et al. 2016 and Greff et
al. 2017: trained residual blocks settle into small refinements of their input.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture.analysis import short_block_name
from resnet_studio.fileio import atomic_write_text
from resnet_studio.training.events import Contributions
from resnet_studio.ui.common.feature_tiles import write_png
from resnet_studio.ui.common.saving import save_with_dialog

# The colour scale's ends: a block adding a tenth of what passes it, or twice it. Fixed, so that two
# moments and two runs compare; measured ratios run from about 1.3 at the start to 0.3-0.8 trained.
LOW, HIGH = 0.1, 2.0
MAX_COLUMNS = 600  # older measurements are thinned to keep the strip's image small


class ContributionView(QWidget):
    """The strip; `add(event)` appends a measurement, `clear()` starts a new run."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("contributionView")
        self.blocks: tuple[str, ...] = ()
        self.steps: list[int] = []
        self.probe: list[tuple[float, ...]] = []
        self.pinned: list[tuple[float, ...]] = []
        self.dirty = False
        self.fresh = False
        self.source = QComboBox()
        self.source.setObjectName("contributionSource")
        self.source.addItems(["32 validation images", "the pinned image"])
        # The row must not widen the plots' column: the box may show its text cut short.
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(6)
        self.source.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.source.setToolTip(
            "What the ratios are measured on: a fixed batch of 32 validation images, or the image "
            "pinned in Activations"
        )
        self.source.currentIndexChanged.connect(self._source_changed)
        self.note = QLabel(
            "‖F(x)‖/‖x‖, what each block adds over what passes it, through training: rows that darken "
            "have settled into small refinements."
        )
        self.note.setWordWrap(True)
        self.note.setToolTip(
            "Each row is a residual block (the first at the top), each column a moment of training. "
            "The colour is the size of what the block's branch adds relative to what flows past it "
            "on the shortcut (Veit et al. 2016; Greff et al. 2017): trained residual blocks settle "
            "into small refinements of their input."
        )
        self.note.setObjectName("contributionNote")
        font = self.note.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.note.setFont(font)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("contributionPlot")
        self.plot.setBackground(self.palette().base().color())
        self.plot.setLabel("bottom", "step")
        self.plot.invertY(True)  # the first block at the top, as on the canvas
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.image.setLevels((math.log10(LOW), math.log10(HIGH)))
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(
            values=(math.log10(LOW), math.log10(HIGH)),
            colorMap=pg.colormap.get("viridis"),
            interactive=False,
            label="log10 ‖F(x)‖/‖x‖",
            width=12,
        )
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.empty = pg.TextItem(
            "Appears while a residual network trains here.",
            anchor=(0.5, 0.5),
            color=self.palette().mid().color(),
        )
        self.empty.setTextWidth(140)
        self.plot.addItem(self.empty, ignoreBounds=True)
        top = QHBoxLayout()
        top.addWidget(self.source, 1)
        for kind in ("png", "csv"):
            button = QToolButton()
            button.setText(kind.upper())
            button.setObjectName(f"contributionSave{kind.upper()}")
            what = "a picture" if kind == "png" else "numbers, every measurement"
            button.setToolTip(f"Save the strip as {what} ({kind.upper()})")
            button.clicked.connect(lambda _=False, kind=kind: self._save(kind))
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.plot, 1)
        self.dirty = True
        self.redraw()  # the empty state, with its note in view

    def clear(self) -> None:
        self.blocks, self.steps, self.probe, self.pinned = (), [], [], []
        self.fresh = False
        self.dirty = True

    def new_run(self) -> None:
        """A run starts: its first measurement replaces the strip (a plain twin sends none, so
        the residual network's strip stays beside it)."""
        self.fresh = True

    def add(self, event: Contributions) -> None:
        if event.blocks != self.blocks or self.fresh:
            self.clear()
            self.blocks = event.blocks
        if self.steps and event.step < self.steps[-1]:
            return  # a repeated final measurement, or an older event arriving late
        self.steps.append(event.step)
        self.probe.append(event.probe)
        self.pinned.append(event.pinned or tuple(math.nan for _ in event.blocks))
        if len(self.steps) > MAX_COLUMNS:  # keep every other of the older half
            half = len(self.steps) // 2
            columns: tuple[list[Any], ...] = (self.steps, self.probe, self.pinned)
            for series in columns:
                series[:half] = series[:half:2]
        self.dirty = True

    def values(self) -> np.ndarray:
        """(blocks, measurements) of the chosen source, log10, NaN where not measured."""
        rows = self.pinned if self.source.currentIndex() == 1 else self.probe
        if not rows:
            return np.zeros((0, 0), np.float32)
        array = np.asarray(rows, dtype=np.float32).T
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(np.clip(array, LOW / 10, None))

    def redraw(self) -> bool:
        if not self.dirty:
            return False
        self.dirty = False
        values = self.values()
        self.empty.setVisible(values.size == 0)
        if values.size == 0:
            self.image.clear()
            self.empty.setPos(0.5, 0.5)
            self.plot.setXRange(0, 1, padding=0)
            self.plot.setYRange(0, 1, padding=0)
            return True
        self.image.setImage(np.nan_to_num(values, nan=math.log10(LOW)), autoLevels=False)
        first, last = self.steps[0], self.steps[-1]
        width = max(1, last - first) * len(self.steps) / max(1, len(self.steps) - 1)
        self.image.setRect(first, 0, width, len(self.blocks))
        count = len(self.blocks)
        every = max(1, count // 10)
        ticks = [(i + 0.5, short_block_name(self.blocks[i])) for i in range(0, count, every)]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setXRange(first, first + width, padding=0)
        self.plot.setYRange(0, count, padding=0)
        return True

    def _source_changed(self) -> None:
        self.dirty = True
        self.redraw()

    # -- saving -----------------------------------------------------------------------------------

    def _save(self, kind: str) -> None:
        save_with_dialog(self, f"block-contributions.{kind}", self.save, self.note.setText)

    def save(self, path: str | Path) -> None:
        """The strip as PNG, or every measurement as CSV (step, source, one column per block), by
        the file's suffix; written atomically and never through a link or into a device."""
        if Path(path).suffix.lower() == ".png":
            write_png(self.grab(), path)
            return
        lines = [",".join(["step", "measured_on", *self.blocks])]
        for source, rows in (("probe", self.probe), ("pinned", self.pinned)):
            for step, row in zip(self.steps, rows, strict=True):
                if not all(math.isnan(v) for v in row):
                    lines.append(",".join([str(step), source, *(f"{v:.6g}" for v in row)]))
        atomic_write_text(path, "\n".join(lines) + "\n")
