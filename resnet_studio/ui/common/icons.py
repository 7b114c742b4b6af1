"""Icons and colours drawn in code: they follow the theme and need no image files."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

BLOCK_COLOURS = {"basic": "#4c8bf5", "bottleneck": "#e8833a", "preact": "#3aa675"}
STEM_COLOUR = "#8e6cd8"
HEAD_COLOUR = "#d0508a"


def block_colour(block: str) -> QColor:
    return QColor(BLOCK_COLOURS.get(block, "#888888"))


def palette_icon(payload: dict, size: int = 56) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    kind = payload["kind"]
    s = size
    if kind in ("stage", "block"):
        colour = block_colour(payload["block"])
        count = 3 if kind == "stage" else 1
        width = s * (0.22 if kind == "stage" else 0.5)
        gap = s * 0.06
        total = count * width + (count - 1) * gap
        x0 = (s - total) / 2
        for i in range(count):
            rect = QRectF(x0 + i * (width + gap), s * 0.42, width, s * 0.42)
            p.setPen(QPen(colour.darker(130), 2))
            p.setBrush(colour)
            p.drawRoundedRect(rect, 4, 4)
            arc = QPainterPath(QPointF(rect.left() + 2, rect.top()))
            arc.quadTo(QPointF(rect.center().x(), s * 0.05), QPointF(rect.right() - 2, rect.top()))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(colour.darker(150), 2.5))
            p.drawPath(arc)
    elif kind == "stem":
        colour = QColor(STEM_COLOUR)
        wide = payload.get("variant") == "imagenet"
        path = QPainterPath()
        top = s * (0.1 if wide else 0.25)
        path.moveTo(top, s * 0.2)
        path.lineTo(s - top, s * 0.2)
        path.lineTo(s * 0.68, s * 0.8)
        path.lineTo(s * 0.32, s * 0.8)
        path.closeSubpath()
        p.setPen(QPen(colour.darker(130), 2))
        p.setBrush(colour)
        p.drawPath(path)
        if payload.get("variant") == "whiten":  # fixed filters: a pale grid over the funnel
            p.setPen(QPen(colour.lighter(170), 1.5))
            for y in (0.4, 0.6):
                p.drawLine(QPointF(s * 0.33, s * y), QPointF(s * 0.67, s * y))
            p.drawLine(QPointF(s * 0.5, s * 0.25), QPointF(s * 0.5, s * 0.75))
    else:
        colour = QColor(HEAD_COLOUR)
        p.setPen(QPen(colour.darker(130), 2))
        p.setBrush(colour)
        p.drawEllipse(QRectF(s * 0.12, s * 0.35, s * 0.3, s * 0.3))
        for i, h in enumerate((0.5, 0.3, 0.65)):
            p.drawRect(QRectF(s * (0.52 + i * 0.14), s * (0.85 - h), s * 0.1, s * h))
    p.end()
    return QIcon(pixmap)
