"""The palette: stages, single blocks, stems and the head, dragged onto the canvas.

Each item's drag carries `application/x-resnet-studio-block` with a JSON payload such as
`{"kind": "stage", "block": "bottleneck"}`; the canvas handles every drop in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from PySide6.QtCore import QMimeData, QSize, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from resnet_studio.fileio import loads_json
from resnet_studio.ui.common import icons

MIME_TYPE = "application/x-resnet-studio-block"

ITEMS: list[tuple[str, dict, str]] = [
    (
        "Basic stage",
        {"kind": "stage", "block": "basic"},
        "A stage of basic blocks: two 3x3 convolutions with a skip connection around them.",
    ),
    (
        "Bottleneck stage",
        {"kind": "stage", "block": "bottleneck"},
        "A stage of bottleneck blocks: 1x1 reduce, 3x3, 1x1 expand (channels / 4 inside).",
    ),
    (
        "Pre-activation stage",
        {"kind": "stage", "block": "preact"},
        "A stage of pre-activation blocks: BN and ReLU before each convolution (He et al. 2016).",
    ),
    (
        "Basic block",
        {"kind": "block", "block": "basic"},
        "One more block: drop it on a stage to deepen that stage by one block.",
    ),
    (
        "Bottleneck block",
        {"kind": "block", "block": "bottleneck"},
        "One more block: drop it on a stage to deepen it, or between stages for a new stage.",
    ),
    (
        "Pre-activation block",
        {"kind": "block", "block": "preact"},
        "One more block: drop it on a stage to deepen it, or between stages for a new stage.",
    ),
    (
        "CIFAR stem",
        {"kind": "stem", "variant": "cifar"},
        "3x3 convolution, 16 channels, stride 1: keeps 32x32 inputs at full resolution.",
    ),
    (
        "ImageNet stem",
        {"kind": "stem", "variant": "imagenet"},
        "7x7/2 convolution with 64 channels and a 3x3/2 max-pool: divides the size by 4.",
    ),
    (
        "Whitening stem",
        {"kind": "stem", "variant": "whiten"},
        "Fixed 2x2 filters that decorrelate the pixels, set from the training images before "
        "training: no BatchNorm and no gradient in the first layer, so each step is cheaper.",
    ),
    (
        "Head",
        {"kind": "head"},
        "Global average pool, dropout and the classifier (a linear layer to the classes).",
    ),
]


def mime_for(payload: dict) -> QMimeData:
    mime = QMimeData()
    mime.setData(MIME_TYPE, json.dumps(payload).encode("utf-8"))
    return mime


def payload_of(mime: QMimeData) -> dict | None:
    """The palette payload of a drag, or None if it is not one of ours or is malformed."""
    if not mime.hasFormat(MIME_TYPE):
        return None
    try:
        payload = loads_json(bytes(mime.data(MIME_TYPE).data()))
    except ValueError:  # not JSON, not UTF-8, absurdly nested or numbered: not one of ours
        return None
    if not isinstance(payload, dict) or payload.get("kind") not in ("stage", "block", "stem", "head"):
        return None
    if payload["kind"] in ("stage", "block") and payload.get("block") not in (
        "basic",
        "bottleneck",
        "preact",
    ):
        return None
    if payload["kind"] == "stem" and payload.get("variant") not in ("cifar", "imagenet", "whiten"):
        return None
    return payload


class Palette(QListWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("palette")
        self.setDragEnabled(True)
        self.setDragDropMode(QListWidget.DragDropMode.DragOnly)
        self.setIconSize(QSize(24, 24))
        self.setSpacing(2)
        self.setMinimumWidth(190)
        for title, payload, tip in ITEMS:
            item = QListWidgetItem(icons.palette_icon(payload), title)
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.UserRole, payload)
            self.addItem(item)

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:
        return mime_for(items[0].data(Qt.ItemDataRole.UserRole))
