"""The canvas: the network drawn from input to classes, a projection of the document.

Every document change rebuilds the scene (a ResNet-110 is a few hundred items: milliseconds).
The view turns gestures into edits: palette drops (handled here, in one place), dragging a stage
card to reorder, Delete, clicks to select and double-clicks to open the properties.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
)

from resnet_studio.architecture import edits
from resnet_studio.ui.build.drawing import CARD_WIDTH, ERROR, LINK, Card, NetworkDrawing
from resnet_studio.ui.build.palette import payload_of
from resnet_studio.ui.common.document import HEAD, NETWORK, STEM, Document, Part


class Drop(Enum):
    """What dropping a palette item does (decided in one place, `_drop_target`)."""

    REPLACE_STEM = "replace the stem"
    RESET_HEAD = "reset the head"
    DEEPEN_STAGE = "add a block to a stage"
    INSERT_STAGE = "insert a stage"


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
        self.marker = None
        pal = self.palette()
        self.line_colour = pal.mid().color()
        self.highlight = pal.highlight().color()
        self.cards = NetworkDrawing(scene, self.document, self.font(), pal).draw()
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-40, -30, 40, 30))
        self._paint_selection()
        if self.follow_fit:
            self.fit()  # a dropped stage never pushes the head out of view

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
