"""The learning rate a run will follow, drawn small under the Setup panel's optimizer fields."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from resnet_studio.training.config import lr_factor

POINTS = 200  # samples of the schedule: smooth at any panel width


class SchedulePlot(pg.PlotWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("schedulePlot")
        self.setFixedHeight(90)
        self.setBackground(self.palette().base().color())
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.getAxis("bottom").setHeight(16)
        self.getAxis("left").setWidth(38)
        for axis in ("left", "bottom"):
            self.getAxis(axis).setTextPen(pg.mkPen(self.palette().text().color()))
            self.getAxis(axis).setPen(pg.mkPen(self.palette().mid().color()))
        self.setToolTip("Learning rate over the run (x: epoch)")
        self.curve = self.plot(pen=pg.mkPen("#4c8bf5", width=2))

    def show_schedule(self, lr: float, schedule: str, epochs: int) -> None:
        xs = np.linspace(0, epochs, POINTS, endpoint=False)
        ys = [lr * lr_factor(schedule, i, POINTS) for i in range(POINTS)]
        self.curve.setData(xs, ys)
