"""The network drawn into a scene: input, stem, stages with their blocks and shortcut arcs, head
and classes, each card with its output shape, parameters and MACs and its problem in place.

`Canvas` redraws with it on every document change and keeps the interaction to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsTextItem

from resnet_studio.architecture import ArchitectureSpec, edits
from resnet_studio.architecture.analysis import LayerInfo, block_name
from resnet_studio.architecture.analysis import si_units as _si
from resnet_studio.ui.common import icons
from resnet_studio.ui.common.document import HEAD, STEM, Document, Part

CARD_WIDTH = 520.0
PAD = 12.0
CHIP_W, CHIP_H, CHIP_GAP = 44.0, 26.0, 12.0
ARC_SPACE = 16.0
LINK = 26.0
ERROR = QColor("#d93025")


@dataclass
class Card:
    key: Part
    rect: QRectF
    item: QGraphicsRectItem


def _downsampling(spec: ArchitectureSpec, stride: int) -> str:
    if stride > 1 and spec.downsample_by == "maxpool":
        return f"{stride}×{stride} max-pool"
    return f"stride {stride}"


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


class NetworkDrawing:
    """One drawing of `document` into `scene`, in the colours of `palette`."""

    def __init__(self, scene: QGraphicsScene, document: Document, font: QFont, palette: QPalette) -> None:
        self.scene, self.document, self.font, self.palette = scene, document, font, palette
        self.text_colour = palette.text().color()
        self.card_colour = palette.base().color()
        self.line_colour = palette.mid().color()
        self.cards: list[Card] = []

    def draw(self) -> list[Card]:
        """Draw the document from input to classes; the cards, in order, for hit-testing."""
        self.scene.setBackgroundBrush(self.palette.window())
        spec = self.document.spec
        analysis = self.document.analysis
        layers: dict[str, LayerInfo] = {layer.name: layer for layer in analysis.layers} if analysis else {}
        y = 0.0
        y = self._pill(y, f"Input  {spec.input.channels} × {spec.input.size} × {spec.input.size}")
        stem = spec.stem
        pool = " + 3×3/2 max-pool" if stem.maxpool else ""
        what = "whitening (fixed)" if stem.kind == "whiten" else "conv"
        stem_layer = layers.get("stem")
        y = self._card(
            y,
            STEM,
            icons.STEM_COLOUR,
            f"Stem   {stem.kernel}×{stem.kernel}/{stem.stride} {what}, {stem.channels} channels{pool}",
            self._figures(stem_layer.output_shape, stem_layer.params, stem_layer.macs) if stem_layer else "",
        )
        for i, stage in enumerate(spec.stages):
            blocks = [layers.get(block_name(i + 1, b + 1)) for b in range(stage.count)]
            known = [b for b in blocks if b is not None]
            figures = ""
            if known:
                figures = self._figures(
                    known[-1].output_shape, sum(b.params for b in known), sum(b.macs for b in known)
                )
            title = (
                f"Stage {i + 1}   {edits.BLOCK_TITLES[stage.block]} × {stage.count}, "
                f"{stage.channels} channels, {_downsampling(spec, stage.stride)}"
            )
            y = self._card(
                y,
                Part.stage(i),
                icons.BLOCK_COLOURS[stage.block],
                title,
                figures,
                blocks=[(stage.block, b.shortcut if b else "") for b in blocks],
            )
        head = spec.head
        head_layer = layers.get("head")
        y = self._card(
            y,
            HEAD,
            icons.HEAD_COLOUR,
            f"Head   average pool, dropout {head.dropout:g}, linear → {spec.classes}",
            f"{head_layer.params:,} params · {_si(head_layer.macs)} MACs" if head_layer else "",
        )
        y = self._pill(y, f"{spec.classes} classes", link=True)
        self._legend(y + 18, {layer.shortcut for layer in layers.values()})
        return self.cards

    def _legend(self, y: float, used: set[str]) -> None:
        """What the arcs mean: identity, projection (dashed; dash-dot without BatchNorm) and
        zero-pad (dotted) shortcuts. Only the kinds this network uses beyond identity are listed."""
        x = 40.0
        for label, style in (
            ("identity shortcut", Qt.PenStyle.SolidLine),
            ("projection (1×1 conv + BN)", Qt.PenStyle.DashLine),
            ("projection (1×1 conv, no BN)", Qt.PenStyle.DashDotLine),
            ("zero-pad (option A)", Qt.PenStyle.DotLine),
        ):
            if style == Qt.PenStyle.DashDotLine and "projection-bare" not in used:
                continue
            arc = QPainterPath(QPointF(x, y + 14))
            arc.cubicTo(QPointF(x + 3, y), QPointF(x + 25, y), QPointF(x + 28, y + 14))
            pen = QPen(self.text_colour, 1.6)
            pen.setStyle(style)
            self.scene.addPath(arc, pen)
            text = self._text(label, x + 34, y + 1, size=9)
            x += 34 + text.boundingRect().width() + 28

    def _figures(self, shape: tuple[int, ...], params: int, macs: int) -> str:
        return f"out {_shape(shape)} · {params:,} params · {_si(macs)} MACs"

    def _text(
        self,
        text: str,
        x: float,
        y: float,
        *,
        bold: bool = False,
        size: float = 10,
        colour: QColor | None = None,
    ) -> QGraphicsSimpleTextItem:
        item = self.scene.addSimpleText(text)
        font = QFont(self.font)
        font.setPointSizeF(size)
        font.setBold(bold)
        item.setFont(font)
        item.setBrush(colour or self.text_colour)
        item.setPos(x, y)
        return item

    def _wrapped(self, text: str, width: float, colour: QColor) -> QGraphicsTextItem:
        """Plain text (never read as markup) wrapped at `width`, its lines' top left at (0, 0)."""
        item = self.scene.addText("")
        item.setPlainText(text)
        font = QFont(self.font)
        font.setPointSizeF(9.5)
        item.setFont(font)
        item.setDefaultTextColor(colour)
        item.setTextWidth(width + 2 * item.document().documentMargin())
        item.setObjectName("cardProblem")
        return item

    def _link(self, y: float) -> float:
        pen = QPen(self.line_colour, 2)
        self.scene.addLine(CARD_WIDTH / 2, y, CARD_WIDTH / 2, y + LINK, pen)
        arrow = QPainterPath(QPointF(CARD_WIDTH / 2 - 5, y + LINK - 7))
        arrow.lineTo(CARD_WIDTH / 2, y + LINK)
        arrow.lineTo(CARD_WIDTH / 2 + 5, y + LINK - 7)
        self.scene.addPath(arrow, pen)
        return y + LINK

    def _pill(self, y: float, text: str, link: bool = False) -> float:
        if link:
            y = self._link(y)
        rect = QRectF(CARD_WIDTH / 2 - 120, y, 240, 30)
        path = QPainterPath()
        path.addRoundedRect(rect, 15, 15)
        self.scene.addPath(path, QPen(self.line_colour, 1.5), QBrush(self.card_colour))
        label = self._text(text, 0, 0, bold=True)
        label.setPos(
            rect.center().x() - label.boundingRect().width() / 2,
            rect.center().y() - label.boundingRect().height() / 2,
        )
        return rect.bottom()

    def _card(
        self,
        y: float,
        key: Part,
        colour: str,
        title: str,
        figures: str,
        blocks: list[tuple[str, str]] | None = None,
    ) -> float:
        y = self._link(y)
        per_row = max(1, int((CARD_WIDTH - 2 * PAD + CHIP_GAP) // (CHIP_W + CHIP_GAP)))
        rows = (len(blocks) + per_row - 1) // per_row if blocks else 0
        problem = self.document.problem_for(key)
        # The reason, word-wrapped inside the card: a long one takes more lines, never the border.
        warning = self._wrapped(f"⚠ {problem}", CARD_WIDTH - 2 * PAD - 4, ERROR) if problem else None
        problem_height = 0.0
        if warning:
            problem_height = warning.boundingRect().height() - 2 * warning.document().documentMargin()
        height = (
            PAD
            + 20
            + (18 if figures else 0)
            + rows * (CHIP_H + ARC_SPACE + 6)
            + (problem_height + 4 if warning else 0)
            + PAD
        )
        rect = QRectF(0, y, CARD_WIDTH, height)
        card = QGraphicsRectItem(rect)
        card.setBrush(QBrush(self.card_colour))
        card.setPen(QPen(self.line_colour, 1.2))
        card.setData(0, key)
        self.scene.addItem(card)
        stripe = self.scene.addRect(QRectF(0, y, 6, height), QPen(Qt.PenStyle.NoPen), QBrush(QColor(colour)))
        stripe.setParentItem(card)
        self._text(title, PAD + 4, y + PAD - 2, bold=True, size=10.5).setParentItem(card)
        line = y + PAD + 20
        if figures:
            self._text(figures, PAD + 4, line - 2, size=9.5).setParentItem(card)
            line += 18
        for index, (block, shortcut) in enumerate(blocks or []):
            row, col = divmod(index, per_row)
            cx = PAD + 4 + col * (CHIP_W + CHIP_GAP)
            cy = line + ARC_SPACE + row * (CHIP_H + ARC_SPACE + 6)
            chip = self.scene.addRect(
                QRectF(cx, cy, CHIP_W, CHIP_H),
                QPen(icons.block_colour(block).darker(130), 1.2),
                QBrush(icons.block_colour(block)),
            )
            chip.setParentItem(card)
            chip.setToolTip(f"block {index + 1}: {edits.BLOCK_TITLES[block]}, shortcut: {shortcut or 'none'}")
            if shortcut:
                arc = QPainterPath(QPointF(cx + 3, cy))
                arc.cubicTo(
                    QPointF(cx + 6, cy - ARC_SPACE),
                    QPointF(cx + CHIP_W - 6, cy - ARC_SPACE),
                    QPointF(cx + CHIP_W - 3, cy),
                )
                pen = QPen(self.text_colour, 1.6)
                if shortcut == "projection":
                    pen.setStyle(Qt.PenStyle.DashLine)
                elif shortcut == "projection-bare":
                    pen.setStyle(Qt.PenStyle.DashDotLine)
                elif shortcut == "zero-pad":
                    pen.setStyle(Qt.PenStyle.DotLine)
                self.scene.addPath(arc, pen).setParentItem(card)
        if warning:
            margin = warning.document().documentMargin()
            warning.setPos(PAD + 4 - margin, rect.bottom() - PAD - problem_height - margin)
            warning.setParentItem(card)
        self.cards.append(Card(key, rect, card))
        return rect.bottom()
