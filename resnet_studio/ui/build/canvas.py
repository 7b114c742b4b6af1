"""The canvas: the network drawn from input to classes, a projection of the document.

Every document change rebuilds the scene (a ResNet-110 is a few hundred items: milliseconds).
The view turns gestures into edits: palette drops (handled here, in one place), dragging a stage
card to reorder, Delete, clicks to select and double-clicks to open the properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from resnet_studio.architecture import ArchitectureSpec, edits
from resnet_studio.architecture.analysis import LayerInfo, block_name
from resnet_studio.architecture.analysis import si_units as _si
from resnet_studio.ui.build.palette import payload_of
from resnet_studio.ui.common import icons
from resnet_studio.ui.common.document import HEAD, NETWORK, STEM, Document, Part

CARD_WIDTH = 520.0
PAD = 12.0
CHIP_W, CHIP_H, CHIP_GAP = 44.0, 26.0, 12.0
ARC_SPACE = 16.0
LINK = 26.0
ERROR = QColor("#d93025")


class Drop(Enum):
    """What dropping a palette item does (decided in one place, `_drop_target`)."""

    REPLACE_STEM = "replace the stem"
    RESET_HEAD = "reset the head"
    DEEPEN_STAGE = "add a block to a stage"
    INSERT_STAGE = "insert a stage"


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


class Canvas(QGraphicsView):
    properties_requested = Signal()
    message = Signal(str)  # short notes for the status bar

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.setObjectName("canvas")
        self.document = document
        self.setScene(QGraphicsScene(self))
        self.setAcceptDrops(True)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.cards: list[Card] = []
        self.marker: QGraphicsPathItem | None = None
        self._press: tuple[int, QPointF] | None = None  # (stage index, scene pos) of a press on a stage
        self._dragging = False
        self.follow_fit = True  # the whole network stays in view until the user zooms
        document.changed.connect(self.rebuild)
        document.selection_changed.connect(self._paint_selection)
        self.rebuild()

    # -- drawing ----------------------------------------------------------------------------------

    def rebuild(self) -> None:
        scene = self.scene()
        scene.clear()
        self.cards = []
        self.marker = None
        pal = self.palette()
        self.text_colour = pal.text().color()
        self.card_colour = pal.base().color()
        self.line_colour = pal.mid().color()
        self.highlight = pal.highlight().color()
        scene.setBackgroundBrush(pal.window())

        spec = self.document.spec
        analysis = self.document.analysis
        layers: dict[str, LayerInfo] = {layer.name: layer for layer in analysis.layers} if analysis else {}
        y = 0.0
        y = self._pill(y, f"Input  {spec.input.channels} × {spec.input.size} × {spec.input.size}")
        stem = spec.stem
        pool = " + 3×3/2 max-pool" if stem.maxpool else ""
        stem_layer = layers.get("stem")
        y = self._card(
            y,
            STEM,
            icons.STEM_COLOUR,
            f"Stem   {stem.kernel}×{stem.kernel}/{stem.stride} conv, {stem.channels} channels{pool}",
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
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-40, -30, 40, 30))
        self._paint_selection()
        if self.follow_fit:
            self.fit()  # a dropped stage never pushes the head out of view

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
            self.scene().addPath(arc, pen)
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
        item = self.scene().addSimpleText(text)
        font = QFont(self.font())
        font.setPointSizeF(size)
        font.setBold(bold)
        item.setFont(font)
        item.setBrush(colour or self.text_colour)
        item.setPos(x, y)
        return item

    def _link(self, y: float) -> float:
        pen = QPen(self.line_colour, 2)
        self.scene().addLine(CARD_WIDTH / 2, y, CARD_WIDTH / 2, y + LINK, pen)
        arrow = QPainterPath(QPointF(CARD_WIDTH / 2 - 5, y + LINK - 7))
        arrow.lineTo(CARD_WIDTH / 2, y + LINK)
        arrow.lineTo(CARD_WIDTH / 2 + 5, y + LINK - 7)
        self.scene().addPath(arrow, pen)
        return y + LINK

    def _pill(self, y: float, text: str, link: bool = False) -> float:
        if link:
            y = self._link(y)
        rect = QRectF(CARD_WIDTH / 2 - 120, y, 240, 30)
        path = QPainterPath()
        path.addRoundedRect(rect, 15, 15)
        self.scene().addPath(path, QPen(self.line_colour, 1.5), QBrush(self.card_colour))
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
        height = (
            PAD + 20 + (18 if figures else 0) + rows * (CHIP_H + ARC_SPACE + 6) + (20 if problem else 0) + PAD
        )
        rect = QRectF(0, y, CARD_WIDTH, height)
        card = QGraphicsRectItem(rect)
        card.setBrush(QBrush(self.card_colour))
        card.setPen(QPen(self.line_colour, 1.2))
        card.setData(0, key)
        self.scene().addItem(card)
        stripe = self.scene().addRect(
            QRectF(0, y, 6, height), QPen(Qt.PenStyle.NoPen), QBrush(QColor(colour))
        )
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
            chip = self.scene().addRect(
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
                self.scene().addPath(arc, pen).setParentItem(card)
        if problem:
            self._text(
                f"⚠ {problem}", PAD + 4, rect.bottom() - PAD - 18, size=9.5, colour=ERROR
            ).setParentItem(card)
        self.cards.append(Card(key, rect, card))
        return rect.bottom()

    def _paint_selection(self) -> None:
        for card in self.cards:
            invalid = self.document.problem_for(card.key) is not None
            if invalid:
                pen = QPen(ERROR, 3)
            elif card.key == self.document.selection:
                pen = QPen(self.highlight, 3)
            else:
                pen = QPen(self.line_colour, 1.2)
            card.item.setPen(pen)

    def fit(self) -> None:
        """Fit the whole network, but never magnify past 100%: text stays its natural size. The
        view then keeps fitting it, after edits and resizes, until the user zooms."""
        self.follow_fit = True
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1:
            self.resetTransform()

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.15 <= scale <= 4:
            self.follow_fit = False
            self.scale(factor, factor)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.follow_fit:
            self.fit()

    # -- geometry helpers ----------------------------------------------------------------------

    def card_at(self, scene_pos: QPointF) -> Card | None:
        return next((c for c in self.cards if c.rect.contains(scene_pos)), None)

    def card_for(self, key: Part) -> Card:
        return next(c for c in self.cards if c.key == key)

    def stage_cards(self) -> list[Card]:
        return [c for c in self.cards if c.key.is_stage]

    def insertion_index(self, scene_pos: QPointF) -> int:
        """Where a stage dropped at `scene_pos` goes: before the first stage whose middle is below."""
        stages = self.stage_cards()
        return sum(1 for c in stages if c.rect.center().y() < scene_pos.y())

    def gap_y(self, index: int) -> float:
        stages = self.stage_cards()
        if not stages:
            stem = self.card_for(STEM)
            return stem.rect.bottom() + LINK / 2
        if index < len(stages):
            return stages[index].rect.top() - LINK / 2
        return stages[-1].rect.bottom() + LINK / 2

    def _show_marker(self, y: float | None, card: Card | None = None) -> None:
        if self.marker is not None:
            self.scene().removeItem(self.marker)
            self.marker = None
        path = QPainterPath()
        if card is not None:
            path.addRoundedRect(card.rect.adjusted(-4, -4, 4, 4), 6, 6)
        elif y is not None:
            path.moveTo(-10, y)
            path.lineTo(CARD_WIDTH + 10, y)
        else:
            return
        self.marker = self.scene().addPath(
            path, QPen(self.highlight, 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        )
        self.marker.setZValue(10)

    # -- drops from the palette: all handled here --------------------------------------------------

    def _drop_target(self, payload: dict, scene_pos: QPointF) -> tuple[Drop, int, Card | None]:
        """What a drop at `scene_pos` does, the stage it does it at, and the card it lands on."""
        card = self.card_at(scene_pos)
        if payload["kind"] == "stem":
            return Drop.REPLACE_STEM, 0, self.card_for(STEM)
        if payload["kind"] == "head":
            return Drop.RESET_HEAD, 0, self.card_for(HEAD)
        if payload["kind"] == "block" and card is not None and card.key.is_stage:
            return Drop.DEEPEN_STAGE, card.key.index, card
        return Drop.INSERT_STAGE, self.insertion_index(scene_pos), None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if payload_of(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        payload = payload_of(event.mimeData())
        if payload is None:
            event.ignore()
            return
        action, index, card = self._drop_target(payload, self.mapToScene(event.position().toPoint()))
        self._show_marker(self.gap_y(index) if action is Drop.INSERT_STAGE else None, card)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._show_marker(None)

    def dropEvent(self, event: QDropEvent) -> None:
        self._show_marker(None)
        payload = payload_of(event.mimeData())
        if payload is None:
            event.ignore()
            return
        spec = self.document.spec
        action, index, _ = self._drop_target(payload, self.mapToScene(event.position().toPoint()))
        if action is Drop.REPLACE_STEM:
            new, text = edits.use_stem(spec, payload["variant"])
            self.document.apply(new, text, STEM)
        elif action is Drop.RESET_HEAD:
            new, text = edits.set_head(spec, 0.0)
            self.document.apply(new, text, HEAD) if new != spec else self.document.select(HEAD)
        elif action is Drop.DEEPEN_STAGE:
            new, text = edits.add_block(spec, index)
            self.document.apply(new, text, Part.stage(index))
        else:
            new, text = edits.add_stage(spec, index, payload["block"])
            self.document.apply(new, text, Part.stage(index))
        event.acceptProposedAction()

    # -- selection, reordering, keys, zoom ------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            pos = self.mapToScene(event.position().toPoint())
            card = self.card_at(pos)
            if card is not None:
                self.document.select(card.key)
                self._press = (card.key.index, pos) if card.key.is_stage else None
                self._dragging = False
                event.accept()
                return
            self.document.select(NETWORK)  # a click on empty canvas: the network as a whole
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None:
            index, start = self._press
            pos = self.mapToScene(event.position().toPoint())
            if not self._dragging and abs(pos.y() - start.y()) > 8:
                self._dragging = True
            if self._dragging:
                card = self.stage_cards()[index]
                card.item.setOpacity(0.6)
                card.item.setPos(0, pos.y() - start.y())
                card.item.setZValue(5)
                self._show_marker(self.gap_y(self.insertion_index(pos)))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is not None:
            index, _ = self._press
            self._press = None
            if self._dragging:
                self._dragging = False
                self._show_marker(None)
                gap = self.insertion_index(self.mapToScene(event.position().toPoint()))
                target = gap if gap <= index else gap - 1
                if target != index:
                    new, text = edits.move_stage(self.document.spec, index, target)
                    self.document.apply(new, text, Part.stage(target))
                else:
                    self.rebuild()  # put the card back
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        card = self.card_at(self.mapToScene(event.position().toPoint()))
        if card is not None:
            self.document.select(card.key)
            self.properties_requested.emit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def delete_selection(self) -> None:
        key = self.document.selection
        if not key.is_stage:
            self.message.emit("Only stages can be deleted; the stem and head are always there")
            return
        if len(self.document.spec.stages) == 1:
            self.message.emit("A network needs at least one stage")
            return
        new, text = edits.remove_stage(self.document.spec, key.index)
        self.document.apply(new, text, Part.stage(max(0, key.index - 1)))

    def changeEvent(self, event) -> None:
        """Follow a change of the system's light/dark scheme: the scene takes the new colours."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.rebuild()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
            event.accept()
            return
        super().wheelEvent(event)
