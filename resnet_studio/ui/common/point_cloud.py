"""Images as points in a plane, coloured by class with a legend (Inspect > Embedding, the Train
tab's live embedding).

Hovering a point shows its image's thumbnail beside the cursor (`preview`); a click on a point
reports it (`clicked`); dragging with the left button draws a free-hand lasso, and the points
inside it are reported when the button is let go (`lassoed`). The wheel zooms, the middle button
pans, and the right button's drag zooms as in every pyqtgraph plot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QGraphicsPathItem, QLabel, QVBoxLayout

from resnet_studio.inspection.embedding import inside_polygon
from resnet_studio.ui.common.plain_text import plain

# Ten colours that stay apart for most eyes (Tableau 10); more classes take evenly spaced hues.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
NEAR_PX = 7  # a point within this many pixels of the cursor is the one hovered or clicked


def class_colour(index: int, classes: int) -> QColor:
    if classes <= len(PALETTE):
        return QColor(PALETTE[index % len(PALETTE)])
    return pg.intColor(index, hues=classes, values=1, maxValue=220, minValue=150)


class LassoBox(pg.ViewBox):
    """A view box whose left-button drag draws a lasso instead of panning."""

    drawn = Signal(object)  # float (M, 2): the lasso's corners, in the plot's coordinates

    def __init__(self) -> None:
        super().__init__()
        self.lasso_enabled = True
        self.trail: list[QPointF] = []
        self.outline = QGraphicsPathItem()
        pen = QPen(QColor("#222222"), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)  # the same width at every zoom
        self.outline.setPen(pen)
        self.outline.setBrush(QColor(80, 80, 80, 30))
        self.outline.setZValue(20)
        self.addItem(self.outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph's name
        if not self.lasso_enabled or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self.trail = [self.mapToView(ev.buttonDownPos())]
        self.trail.append(self.mapToView(ev.pos()))
        path = QPainterPath(self.trail[0])
        for point in self.trail[1:]:
            path.lineTo(point)
        path.closeSubpath()
        self.outline.setPath(path)
        if ev.isFinish():
            corners = np.array([(p.x(), p.y()) for p in self.trail], np.float64)
            self.outline.setPath(QPainterPath())
            self.trail = []
            self.drawn.emit(corners)


class Preview(QFrame):
    """The hovered image's thumbnail and a line about it, floating over the plot by the cursor."""

    def __init__(self, parent) -> None:
        super().__init__(parent)
        self.setObjectName("pointPreview")
        self.setFrameShape(QFrame.Shape.Box)
        self.setAutoFillBackground(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(160)
        plain(self.caption)  # class names and file names, as typed
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        self.hide()

    def show_at(self, pixmap: QPixmap, text: str, where: QPoint) -> None:
        self.picture.setPixmap(pixmap)
        self.caption.setText(text)
        self.adjustSize()
        parent = self.parentWidget()
        x, y = where.x() + 14, where.y() + 14
        if parent is None:  # made with a parent (the plot), so always there; said for the type checker
            return
        if x + self.width() > parent.width():  # flipped to the cursor's other side near an edge
            x = where.x() - 14 - self.width()
        if y + self.height() > parent.height():
            y = where.y() - 14 - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()


class PointCloud(pg.PlotWidget):
    hovered = Signal(int, QPoint)  # a point's index (-1: none) and where the cursor is, in pixels
    clicked = Signal(int)
    lassoed = Signal(object)  # int indices of the points inside the lasso

    def __init__(self, name: str, lasso: bool = True) -> None:
        self.box = LassoBox()
        super().__init__(viewBox=self.box)
        self.setObjectName(name)
        self.box.lasso_enabled = lasso
        self.setBackground(self.palette().base().color())
        self.getPlotItem().hideAxis("left")
        self.getPlotItem().hideAxis("bottom")
        # Over the points at the corner: a backing of the plot's own colour keeps the names legible.
        backing = self.palette().base().color()
        backing.setAlpha(225)
        self.legend = self.addLegend(
            offset=(-6, 6),
            labelTextSize="8pt",
            verSpacing=-6,
            brush=backing,
            labelTextColor=self.palette().text().color(),
        )
        self.points = np.zeros((0, 2), np.float32)
        self.scatters: list[pg.ScatterPlotItem] = []
        self.chosen = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#111111", width=1.0), brush=None)
        self.chosen.setZValue(10)
        self.addItem(self.chosen)
        self.preview = Preview(self)
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.box.drawn.connect(self._lassoed)

    def set_points(
        self,
        points: np.ndarray,
        groups: np.ndarray,
        names: list[str],
        marked: np.ndarray | None = None,
        marked_name: str = "",
        fit: bool = True,
    ) -> None:
        """Points (N, 2), each in class `groups[i]` of `names` (its colour and legend entry); the
        `marked` ones drawn as large stars, named `marked_name` in the legend."""
        for item in self.scatters:
            self.removeItem(item)
        self.scatters = []
        self.legend.clear()
        self.points = np.asarray(points, np.float32).reshape(-1, 2)
        groups = np.asarray(groups, np.int64)
        marked = np.zeros(len(self.points), bool) if marked is None else np.asarray(marked, bool)
        for k, name in enumerate(names):
            mine = np.nonzero((groups == k) & ~marked)[0]
            if not len(mine):
                continue
            colour = class_colour(k, len(names))
            item = pg.ScatterPlotItem(
                self.points[mine, 0], self.points[mine, 1], size=6, pen=None, brush=colour, name=name
            )
            self._add(item)
        stars = np.nonzero(marked)[0]
        if len(stars):
            brushes = [pg.mkBrush(class_colour(int(groups[i]), len(names))) for i in stars]
            item = pg.ScatterPlotItem(
                self.points[stars, 0], self.points[stars, 1], size=16, symbol="star",
                pen=pg.mkPen("#111111", width=1.2), brush=brushes, name=marked_name,
            )  # fmt: skip
            item.setZValue(5)
            self._add(item)
        self.choose(np.zeros(0, np.int64))
        if fit:
            self.fit()

    def fit(self) -> None:
        """All points in view, with a strip on the right as wide as the legend left free of them:
        the legend never hides a cluster at the right edge."""
        if not len(self.points):
            return
        low, high = self.points.min(0), self.points.max(0)
        pad = 0.04 * np.maximum(high - low, 1e-6)
        low, high = low - pad, high + pad
        legend_px = self.legend.boundingRect().width() + 12  # its offset from the edge, and a gap
        share = min(0.4, legend_px / max(1.0, self.box.width()))
        right = low[0] + (high[0] - low[0]) / (1 - share)
        self.box.setRange(
            xRange=(float(low[0]), float(right)), yRange=(float(low[1]), float(high[1])), padding=0
        )

    def _add(self, item: pg.ScatterPlotItem) -> None:
        self.addItem(item)
        self.scatters.append(item)

    def choose(self, indices: np.ndarray) -> None:
        """Ring these points (the lasso's)."""
        shown = self.points[np.asarray(indices, np.int64)] if len(self.points) else self.points[:0]
        self.chosen.setData(shown[:, 0], shown[:, 1])

    def point_at(self, scene_pos: QPointF) -> int:
        """The point nearest to a scene position within NEAR_PX pixels, or -1."""
        if not len(self.points) or not self.box.sceneBoundingRect().contains(scene_pos):
            return -1
        where = self.box.mapSceneToView(scene_pos)
        width, height = self.box.viewPixelSize()
        if not width or not height:
            return -1
        dx = (self.points[:, 0] - where.x()) / width
        dy = (self.points[:, 1] - where.y()) / height
        distance = dx * dx + dy * dy
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= NEAR_PX * NEAR_PX else -1

    def pixel_of(self, index: int) -> QPoint:
        """Where point `index` is drawn, in this widget's pixels (tests click there)."""
        scene = self.box.mapViewToScene(QPointF(float(self.points[index, 0]), float(self.points[index, 1])))
        return self.mapFromScene(scene)

    def _moved(self, scene_pos: QPointF) -> None:
        index = self.point_at(scene_pos)
        if index < 0:
            self.preview.hide()
        self.hovered.emit(index, self.mapFromScene(scene_pos))

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        index = self.point_at(event.scenePos())
        if index >= 0:
            event.accept()
            self.clicked.emit(index)

    def _lassoed(self, corners: np.ndarray) -> None:
        inside = np.nonzero(inside_polygon(self.points, corners))[0]
        self.choose(inside)
        self.lassoed.emit(inside)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().leaveEvent(event)
        self.preview.hide()
