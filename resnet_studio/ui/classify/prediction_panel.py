"""Classify's detail panel: the selected image (small ones enlarged), its file and any problem, its
top classes as bars, the classes the model knows, and a button to inspect it."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from resnet_studio.inspection.prediction import Prediction, shown_probability
from resnet_studio.ui.common.feature_tiles import to_pixmap
from resnet_studio.ui.common.plain_text import escaped, plain, rich, tooltip

TOP_K = 5
PREVIEW = 192
LABEL_WIDTH = 150  # a class name's room beside its bar; longer names are elided (full in the tooltip)
NAMED_CLASSES = 12  # at most this many of the known classes are named below the bars


ICON = 40  # the table's pictures


def keep_small(prediction: Prediction) -> None:
    """On the worker: what the studio keeps of a file's result, of which thousands may be listed
    (5,000 photos kept ~97 KB each, 1.2 GB): an icon-sized thumbnail for the table, the preview as
    a JPEG (decoded when selected), and not the network's input (Inspect reads the file again)."""
    from PIL import Image

    picture = prediction.preview
    if picture is None:
        return
    step = max(1, max(picture.shape[:2]) // ICON)
    prediction.thumbnail = np.ascontiguousarray(picture[::step, ::step])
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    prediction.preview_jpeg = buffer.getvalue()
    prediction.preview = prediction.image = None


def can_inspect(prediction: Prediction | None) -> bool:
    """Its input is kept (a pasted picture), or its file can be read again (kept small)."""
    return prediction is not None and (prediction.image is not None or prediction.preview_jpeg is not None)


def _picture(prediction: Prediction) -> np.ndarray | None:
    if prediction.preview is not None or prediction.preview_jpeg is None:
        return prediction.preview
    from PIL import Image

    with Image.open(io.BytesIO(prediction.preview_jpeg), formats=("JPEG",)) as image:
        return np.asarray(image.convert("RGB"))


class PredictionPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("predictionPanel")
        layout = QVBoxLayout(self)
        self.picture = QLabel("No image yet")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(PREVIEW + 8, PREVIEW + 8)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        rich(self.caption)  # the file name and the message inside it are escaped
        bars = QGridLayout()
        self.bar_labels: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        for i in range(TOP_K):
            label, bar = QLabel(), QProgressBar()
            label.setFixedWidth(LABEL_WIDTH)
            plain(label)  # a class name
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bars.addWidget(label, i, 0)
            bars.addWidget(bar, i, 1)
            self.bar_labels.append(label)
            self.bars.append(bar)
        self.known = QLabel()  # the classes the model knows: any image gets one of them
        self.known.setObjectName("knownClasses")
        self.known.setWordWrap(True)
        self.known.setStyleSheet("color: palette(mid);")
        plain(self.picture, self.known)
        self.inspect_button = QPushButton("Inspect This Image")
        self.inspect_button.setToolTip("Feature maps and Grad-CAM of this image in Inspect")
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        layout.addLayout(bars)
        layout.addWidget(self.known)
        layout.addWidget(self.inspect_button)
        layout.addStretch(1)
        self.show_prediction(None, [])

    def show_prediction(self, prediction: Prediction | None, classes: list[str]) -> None:
        """The image, its caption and top classes as bars; `classes`: those the model knows."""
        picture = None if prediction is None else _picture(prediction)
        if picture is None:
            self.picture.clear()
            self.picture.setText("No image yet" if prediction is None else "Cannot show this file")
        else:
            pixmap = to_pixmap(picture)
            if max(pixmap.width(), pixmap.height()) < PREVIEW:  # small images are shown enlarged
                pixmap = pixmap.scaled(
                    PREVIEW,
                    PREVIEW,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            self.picture.setPixmap(pixmap)
        caption = "" if prediction is None else f"<b>{escaped(Path(prediction.path).name)}</b>"
        if prediction is not None and prediction.top and prediction.model:
            caption += f"<br>Answered by {escaped(prediction.model)}"  # the list mixes models
        if prediction is not None and prediction.error:
            caption += f"<br>{escaped(prediction.error)}"
        elif prediction is not None and prediction.unsure:
            caption += (
                f"<br><span style='color:#c5221f'>Unsure: the best answer has "
                f"{shown_probability(prediction.top[0][1])}."
                " The image may show none of the classes this model knows.</span>"
            )
        self.caption.setText(caption)
        self.known.setText(
            known_classes(classes) if classes and prediction is not None and not prediction.error else ""
        )
        top = prediction.top if prediction is not None else []
        for i, (label, bar) in enumerate(zip(self.bar_labels, self.bars, strict=True)):
            visible = i < len(top)
            label.setVisible(visible)
            bar.setVisible(visible)
            if visible:
                metrics = label.fontMetrics()
                label.setText(metrics.elidedText(top[i][0], Qt.TextElideMode.ElideRight, LABEL_WIDTH - 4))
                label.setToolTip(tooltip(top[i][0]))
                probability = top[i][1]
                bar.setValue(round(probability * 1000) if math.isfinite(probability) else 0)
                bar.setFormat(shown_probability(probability))
        self.inspect_button.setEnabled(can_inspect(prediction))


def known_classes(classes: list[str]) -> str:
    """The note below the bars: every class of a small model, the first few of ImageNet's 1,000."""
    if len(classes) <= NAMED_CLASSES:
        return f"This model knows {len(classes)} classes: {', '.join(classes)}. Any image gets one of them."
    return (
        f"This model knows {len(classes):,} classes ({', '.join(classes[:NAMED_CLASSES])}, …). "
        "Any image gets one of them."
    )
