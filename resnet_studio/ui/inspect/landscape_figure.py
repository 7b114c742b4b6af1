"""The loss landscape drawn: for each network a contour map of the 2-D filter-normalised slice (one
colour scale for all of them, log loss), and below them the loss on the line from the initial to
the trained weights (Li et al. 2018; Goodfellow et al. 2015)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from resnet_studio.ui.common.plain_text import escaped

LANDSCAPE_NOTE = (
    "Loss around the trained weights along two random filter-normalised directions (contours, log "
    "scale, one scale for both), and on the straight path from the initial weights (t = 0) to the "
    "trained ones (t = 1). Look for: one wide, smooth basin for the residual network; a rugged, "
    "steep one for a deep plain network."
)
CONTOURS = 10
_LUT = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256, alpha=False)


def levels(networks: list[dict[str, Any]]) -> tuple[float, float]:
    """The log10 loss range shared by every network's map: from the lowest loss to the 95th
    percentile (a plain network's far corners can be thousands of times higher)."""
    values = np.concatenate([_log_loss(n["surface"]["loss"]).ravel() for n in networks])
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(np.percentile(values, 95))
    return low, max(high, low + 1e-3)


def _log_loss(rows: list[list[float | None]]) -> np.ndarray:
    """log10 of the losses, an overflowed one (null) as infinity."""
    values = np.asarray([[math.inf if v is None else v for v in row] for row in rows], np.float64)
    with np.errstate(divide="ignore"):
        return np.log10(values)


def draw_landscape(
    layout: pg.GraphicsLayoutWidget,
    result: dict[str, Any],
    styled: Callable[[pg.GraphicsLayoutWidget, str], pg.PlotItem],
    colours: tuple[str, ...],
) -> None:
    networks = result["networks"]
    low, high = levels(networks)
    image = None
    for i, network in enumerate(networks):
        origin = network["origin_loss"]
        shown = f"{origin:.3f}" if origin is not None else "overflowed"
        plot = styled(layout, f"{escaped(network['name'])}: loss at the weights {shown}")  # HTML
        x = np.asarray(network["surface"]["x"], np.float64)
        loss = _log_loss(network["surface"]["loss"])
        loss = np.where(np.isfinite(loss), loss, high)
        step = (x[-1] - x[0]) / (len(x) - 1)
        image = pg.ImageItem(loss.T)  # ImageItem's first axis is x
        image.setLookupTable(_LUT)
        image.setLevels((low, high))
        image.setRect(x[0] - step / 2, x[0] - step / 2, step * len(x), step * len(x))
        plot.addItem(image)
        for level in np.linspace(low, high, CONTOURS)[1:-1]:
            curve = pg.IsocurveItem(data=loss.T, level=level, pen=pg.mkPen("w", width=1))
            curve.setParentItem(image)  # in the image's pixel coordinates, placed with it
        plot.addItem(pg.ScatterPlotItem([0], [0], symbol="+", size=14, pen=pg.mkPen(colours[i], width=2)))
        plot.setAspectLocked(True)
        plot.setLabel("bottom", "direction 1")
        plot.setLabel("left", "direction 2")
        plot.setMouseEnabled(False, False)
    if image is not None:
        bar = pg.ColorBarItem(values=(low, high), colorMap=pg.colormap.get("viridis"), interactive=False)
        bar.setImageItem(image, insert_in=plot)
        bar.axis.setLabel("log10 loss")
    lines = [n for n in networks if n.get("line")]
    layout.nextRow()
    path = styled(layout, "From the initial weights (t = 0) to the trained ones (t = 1)")
    # Room for the log axis's labels, the rest to the maps (at 1024x640 they were thumbnails).
    path.setMinimumHeight(130)
    path.setMaximumHeight(170)
    if len(networks) > 1:
        layout.removeItem(path)
        layout.addItem(path, row=1, col=0, colspan=len(networks))
    # One row at the top centre: the ends (t < 0 and t > 1) are where the curves climb.
    legend = path.addLegend(offset=None, colCount=max(1, len(lines)))
    legend.setLabelTextColor(path.getAxis("left").textPen().color())
    legend.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 2))
    for i, network in enumerate(networks):
        line = network.get("line")
        if line:
            on_line = [v if v is not None and math.isfinite(v) else float("nan") for v in line["loss"]]
            path.plot(line["t"], on_line, pen=pg.mkPen(colours[i], width=2), name=escaped(network["name"]))
    for t in (0.0, 1.0):
        path.addItem(pg.InfiniteLine(t, angle=90, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine)))
    path.setLogMode(y=True)
    finite = [v for n in lines for v in n["line"]["loss"] if v is not None and math.isfinite(v) and v > 0]
    if finite:
        # pyqtgraph labels every minor tick of a log axis in a short plot (0.4 0.5 ... 0.9 over
        # each other): 1-2-5 steps only.
        majors = [(math.log10(v), f"{v:g}") for v in log_ticks(min(finite), max(finite))]
        path.getAxis("left").setTicks([majors, []])
    path.setLabel("left", "loss")
    path.setLabel("bottom", "t")
    path.showGrid(x=True, y=True, alpha=0.2)
    if not lines:
        path.setTitle("No initial weights kept for these runs (runs trained before they were kept): no path")


def log_ticks(low: float, high: float) -> list[float]:
    """The 1-2-5 values from `low` to `high` (both > 0); the two ends, to two digits, where fewer
    than two such values fall inside."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    values = [m * 10.0**e for e in range(first, last + 1) for m in (1, 2, 5)]
    inside = [float(f"{v:.12g}") for v in values if low <= v <= high]
    return inside if len(inside) >= 2 else sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})
