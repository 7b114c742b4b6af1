"""Inspect > Validation set: the model over the validation set it was trained with, as a
`confusionMatrix` with named axes, the per-class Correct/Incorrect table and a gallery of the most
confident mistakes (a cell of the matrix shows its own images; one opens in the Image tab)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import image_pixmap, tile_list
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import escaped, plain, rich, tooltip

if TYPE_CHECKING:  # it imports torch, which the window does not wait for
    from resnet_studio.inspection.evaluate import Evaluation


class EvaluationView(QWidget):
    image_chosen = Signal(object, str)  # a uint8 (C, H, W) validation image and its description

    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.source = source
        self.evaluation: Evaluation | None = None
        self.val_images: np.ndarray | None = None
        controls = QHBoxLayout()
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Run the model over the validation set it was trained with")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.eval_status = QLabel("The confusion matrix, per-class table and mistakes of the model.")
        controls.addWidget(self.evaluate_button)
        controls.addWidget(self.eval_status, 1)
        self.confusion = QTableWidget()
        self.confusion.setObjectName("confusionMatrix")
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setToolTip("Rows: true class; columns: predicted. Click a cell to see its images.")
        self.confusion.cellClicked.connect(self._cell_clicked)
        self.per_class = QTableWidget(0, 4)
        self.per_class.setObjectName("perClassTable")
        self.per_class.setHorizontalHeaderLabels(["Category", "Correct", "Incorrect", "Accuracy"])
        self.per_class.verticalHeader().hide()
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.gallery_title = QLabel("<b>Misclassified</b>, most confident first")
        rich(self.gallery_title)  # class names in it are escaped
        plain(self.eval_status)  # the data's folder, messages
        self.gallery = tile_list("misclassified", 48, (136, 100))
        self.gallery.itemActivated.connect(self._gallery_open)
        self.gallery.itemClicked.connect(self._gallery_open)
        matrix = QGridLayout()  # the matrix with its axes named: true class down, predicted across
        matrix.setSpacing(2)
        predicted = QLabel("<b>Predicted class →</b>")
        rich(predicted)
        predicted.setAlignment(Qt.AlignmentFlag.AlignCenter)
        matrix.addWidget(predicted, 0, 1)
        matrix.addWidget(VerticalLabel("True class"), 1, 0)
        matrix.addWidget(self.confusion, 1, 1)
        tables = QHBoxLayout()
        tables.addLayout(matrix, 3)
        tables.addWidget(self.per_class, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(tables, 3)
        layout.addWidget(self.gallery_title)
        layout.addWidget(self.gallery, 2)

    def evaluate(self) -> None:
        load = self.source.loader()
        self.evaluate_button.setEnabled(False)
        self.eval_status.setText("Evaluating on the validation set…")

        def job():
            from resnet_studio.inspection.evaluate import evaluate_checkpoint

            result, images, data = evaluate_checkpoint(load(), keep_predictions=True)
            return result, images.images.numpy(), data

        def failed(exc: Exception) -> None:
            self.evaluate_button.setEnabled(True)
            self.eval_status.setText(f"Cannot evaluate: {error_text(exc)}")

        run_in_background(job, self, self._evaluated, failed)

    def _evaluated(self, result) -> None:
        evaluation, images, data = result
        self.evaluate_button.setEnabled(True)
        self.evaluation, self.val_images = evaluation, images
        total = int(evaluation.confusion.sum())
        self.eval_status.setText(
            f"{data}: accuracy {evaluation.accuracy:.2%} of {total} images, loss {evaluation.loss:.4f}"
        )
        classes, matrix = evaluation.classes, evaluation.confusion
        k = len(classes)
        self.confusion.setRowCount(k)
        self.confusion.setColumnCount(k)
        self.confusion.setHorizontalHeaderLabels(classes)
        self.confusion.setVerticalHeaderLabels(classes)
        rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
        for i in range(k):
            for j in range(k):
                item = QTableWidgetItem(str(int(matrix[i, j])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = matrix[i, j] / rows[i, 0]
                hue = QColor("#3aa675") if i == j else QColor("#d9534f")
                hue.setAlphaF(min(1.0, 0.08 + 0.9 * share) if matrix[i, j] else 0.0)
                item.setBackground(hue)
                item.setToolTip(
                    tooltip(f"true {classes[i]}, predicted {classes[j]}: {int(matrix[i, j])} images")
                )
                self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()
        self.per_class.setRowCount(k)
        for row, entry in enumerate(evaluation.per_class):
            cells = (
                entry["class"],
                str(entry["correct"]),
                str(entry["incorrect"]),
                f"{entry['accuracy']:.2%}",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.per_class.setItem(row, column, item)
        self._fill_gallery(evaluation.mistakes(), "<b>Misclassified</b>, most confident first")

    def _cell_clicked(self, row: int, column: int) -> None:
        if self.evaluation is None:
            return
        classes = self.evaluation.classes
        title = (
            f"<b>True {escaped(classes[row])}, predicted {escaped(classes[column])}</b>, most confident first"
        )
        self._fill_gallery(self.evaluation.images_of(row, column), title)

    def _fill_gallery(self, indices: np.ndarray, title: str, limit: int = 200) -> None:
        evaluation, images = self.evaluation, self.val_images
        if evaluation is None or images is None:
            return
        labels, predictions, confidences = evaluation.labels, evaluation.predictions, evaluation.confidence
        # evaluated with keep_predictions=True: every image's answer is kept
        assert labels is not None and predictions is not None and confidences is not None
        self.gallery_title.setText(
            f"{title} ({len(indices)} images{', first 200' if len(indices) > limit else ''})"
        )
        self.gallery.clear()
        for index in indices[:limit]:
            true, predicted = int(labels[index]), int(predictions[index])
            names = evaluation.classes
            confidence = f"{confidences[index]:.0%}"
            text = f"{names[true]}\n→ {names[predicted]} {confidence}"  # two short lines fit a cell
            item = QListWidgetItem(QIcon(image_pixmap(images[index], 48)), text)
            item.setToolTip(
                tooltip(
                    f"validation image {index}: a {names[true]}, taken for a {names[predicted]} "
                    f"({confidence} sure); click to inspect"
                )
            )
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            self.gallery.addItem(item)

    def _gallery_open(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.ItemDataRole.UserRole)
        if self.evaluation is None or self.evaluation.labels is None or self.val_images is None:
            return
        true = self.evaluation.classes[int(self.evaluation.labels[index])]
        self.image_chosen.emit(self.val_images[index], f"validation image {index} (a {true})")


class VerticalLabel(QWidget):
    """Bold text read bottom to top, as the y axis of a chart names it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.setObjectName("verticalLabel")
        font = self.font()
        font.setBold(True)
        self.setFont(font)
        metrics = self.fontMetrics()
        self.setFixedWidth(metrics.height() + 4)
        self.setMinimumHeight(metrics.horizontalAdvance(text) + 8)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().text().color())
        painter.translate(0, self.height())
        painter.rotate(-90)
        painter.drawText(QRect(0, 0, self.height(), self.width()), Qt.AlignmentFlag.AlignCenter, self.text)
        painter.end()
