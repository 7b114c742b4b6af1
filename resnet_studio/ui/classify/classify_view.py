"""The Classify workspace: images dropped anywhere on the window, pasted or opened are classified
off the UI thread; `classifyResults` lists them (sortable, exportable as CSV) and the panel beside
it shows the selected image with its top classes as bars."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.data.images import image_file_filter
from resnet_studio.errors import error_text
from resnet_studio.fileio import atomic_write_text
from resnet_studio.inspection.prediction import Prediction, predictions_csv
from resnet_studio.ui.classify.prediction_panel import (
    PREVIEW,
    TOP_K,
    PredictionPanel,
    can_inspect,
    keep_small,
)
from resnet_studio.ui.classify.result_table import COLUMNS, fit_columns, new_results_table, row_items
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.memory import give_back_freed_memory
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import plain

CHUNK = 100  # table rows filled per pass of the event loop, at most...
FILL_SLICE_S = 0.012  # ...and for no longer than this: the event loop stays under 30 ms late
LARGE_BATCH = 200  # results after which freed memory is given back to the system
__all__ = ["COLUMNS", "ClassifyView"]


class ClassifyView(QWidget):
    inspect_requested = Signal(object)  # a Prediction with its image

    # The detail panel's parts, as the tests and a user see them.
    picture = property(lambda self: self.detail.picture)
    caption = property(lambda self: self.detail.caption)
    bars = property(lambda self: self.detail.bars)
    bar_labels = property(lambda self: self.detail.bar_labels)

    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.source = source
        self.predictions: list[Prediction] = []  # every result shown, newest first
        self.classes_known: list[str] = []  # of the model that gave the latest answers
        self._classes_of: dict[str, list[str]] = {}  # each model that answered -> its classes
        self._brief_of: dict[str, str] = {}  # ... -> its name in a few words, for the table
        self._fills: list[list] = []  # batches whose rows are still being filled
        self.last_elapsed_ms = 0.0
        self.busy = False
        source.changed.connect(self._show_source)
        source.described.connect(self._show_source)
        self._counter = [0, 0]
        self.progress_timer = QTimer(self)
        self.progress_timer.setInterval(100)
        self.progress_timer.timeout.connect(self._report_progress)

        top = QHBoxLayout()
        self.model_label = QLabel()
        self.model_label.setObjectName("modelSource")
        self.model_label.setWordWrap(True)
        plain(self.model_label)  # the network's name, the checkpoint's path
        open_checkpoint = QPushButton("Open Checkpoint…")
        open_checkpoint.clicked.connect(self._choose_checkpoint)
        use_training = QPushButton("Use Training Run")
        use_training.setObjectName("useTrainingRun")
        use_training.setToolTip(
            "Classify with the weights of the run training now (or trained or shown last): they "
            "answer unless you open a checkpoint"
        )
        use_training.clicked.connect(source.use_training)
        open_images = QPushButton("Open Images…")
        open_images.clicked.connect(self._choose_images)
        paste = QPushButton("Paste")
        paste.setToolTip("Classify an image (or image files) from the clipboard (Ctrl+V)")
        paste.clicked.connect(self.paste)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearResults")
        self.clear_button.setToolTip("Remove every result from the list")
        self.clear_button.clicked.connect(self.clear)
        for widget in (open_checkpoint, use_training):
            top.addWidget(widget)
        top.addWidget(self.model_label, 1)
        for widget in (open_images, paste, self.export_button, self.clear_button):
            top.addWidget(widget)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self, self.paste)

        self.table = new_results_table()
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.table.itemDoubleClicked.connect(lambda _: self._inspect_selected())

        self.detail = PredictionPanel()
        self.detail.inspect_button.clicked.connect(self._inspect_selected)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.status = QLabel(
            "Drop image files or folders anywhere on the window, paste an image, or open files."
        )
        self.status.setObjectName("classifyStatus")
        # A long model description takes a second line, never the window's width (at 1024 px the
        # line was cut).
        self.status.setWordWrap(True)
        plain(self.status)  # file names, messages
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self._show_source()

    def _show_source(self) -> None:
        # Chosen weights answer until Use Training Run: the label says which run that would be.
        run = self.source.training_run if self.source.checkpoint else None
        other = f" · Use Training Run for {run}" if run else ""
        self.model_label.setText(f"Model: {self.source.describe()}{other}")

    # -- intents ------------------------------------------------------------------------------------

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Checkpoint", "", "Checkpoints (*.pt);;All files (*)")
        if path:
            self.source.use_checkpoint(path)

    def _choose_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Images", "", image_file_filter())
        if paths:
            self.classify_paths(paths)

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime.hasUrls():
            paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
            if paths:
                self.classify_paths(paths)
                return
        if mime.hasImage():
            image = QImage(mime.imageData()).convertToFormat(QImage.Format.Format_RGB888)
            if not image.isNull():
                self.classify_picture(_rgb_array(image), "pasted image")
                return
        self.status.setText("The clipboard holds no image and no image files.")

    def classify_paths(self, paths: list[str]) -> None:
        """Decode and classify off the UI thread; each unreadable file gets its own message."""
        counter = self._counter = [0, 0]  # written by the worker, read by the status timer

        def report(done: int, total: int) -> None:
            counter[0], counter[1] = done, total

        def work(loaded):
            from resnet_studio.inspection.classify import classify_files  # on the worker: torch

            results = classify_files(loaded, paths, TOP_K, preview=PREVIEW, progress=report)
            for result in results:
                keep_small(result)
            return results

        self._run(work, f"{len(paths)} item(s)")

    def classify_picture(self, rgb: np.ndarray, name: str) -> None:
        def work(loaded):
            from resnet_studio.inspection.classify import classify_picture

            return [classify_picture(loaded, rgb, name, TOP_K)]

        self._run(work, name)

    def _run(self, work, what: str) -> None:
        load = self.source.loader()  # which weights: decided here, on the UI thread
        decided, said = self._source_state(), (self.source.describe(), self.source.brief())
        started = time.perf_counter()
        self.busy = True
        self.status.setText(f"Classifying {what}…")
        self.progress_timer.start()

        def job() -> tuple[list[Prediction], list[str]]:
            loaded = load()
            return work(loaded), list(loaded.classes)

        def done(result: tuple[list[Prediction], list[str]]) -> None:
            # The weights' description now names the network its loading taught the source,
            # unless other weights were chosen meanwhile: then the words said when they were
            # decided name the weights that answered.
            now = self._source_state() == decided
            model, brief = (self.source.describe(), self.source.brief()) if now else said
            self._brief_of[model] = brief
            for prediction in result[0]:
                prediction.model = model
            self.show_predictions(*result, started)

        run_in_background(job, self, done, self._failed)

    def _source_state(self) -> tuple:
        training = self.source.training
        return (self.source.checkpoint, id(training.trainer), training.last_run_dir)

    def _report_progress(self) -> None:
        done, total = self._counter
        if total > 1:
            self.status.setText(f"Classifying… {done} of {total} images")

    def _failed(self, exc: Exception) -> None:
        self.progress_timer.stop()
        self.busy = False
        message = error_text(exc)
        self.status.setText(f"Cannot classify: {message}")

    # -- results ------------------------------------------------------------------------------------

    def show_predictions(self, predictions: list[Prediction], classes: list[str], started: float) -> None:
        """Insert the new results above the earlier ones (newest first) and fill them CHUNK rows per
        pass of the event loop: thousands of rows never freeze it."""
        self.progress_timer.stop()
        self.classes_known = classes
        for model in {p.model for p in predictions} - {""}:
            self._classes_of[model] = classes
        others = {p.model for p in self.predictions} - {p.model for p in predictions}
        self.predictions = predictions + self.predictions
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)
        self.table.model().insertRows(0, len(predictions))
        for fill in self._fills:  # batches still filling moved down
            fill[1] += len(predictions)
        fill = [predictions, 0, 0]  # the batch, the next of its predictions to show, its first row
        self._fills.append(fill)
        self._fill_more(fill, started, sorting, bool(others))

    def _fill_more(self, fill: list, started: float, sorting: bool, mixed: bool = False) -> None:
        predictions, row0, first = fill
        if fill not in self._fills:
            return  # cleared meanwhile
        began, last = time.perf_counter(), first
        while last < min(len(predictions), first + CHUNK) and (
            last == first or time.perf_counter() - began < FILL_SLICE_S
        ):
            self._fill_row(row0 + last, predictions[last])
            last += 1
        fill[2] = last
        if last < len(predictions):
            self.status.setText(f"Showing… {last} of {len(predictions)} images")
            QTimer.singleShot(0, lambda: self._fill_more(fill, started, sorting, mixed))
            return
        self._fills.remove(fill)
        if self._fills:
            return  # the newest batch finishes the job
        self._fit_columns()
        self.table.setSortingEnabled(sorting or self.table.horizontalHeader().sortIndicatorSection() >= 0)
        self.table.clearSelection()
        row = self._row_of(predictions[0]) if predictions else -1
        if row >= 0:
            self.table.selectRow(row)
            first = self.table.item(row, 0)
            if first is not None:
                self.table.scrollToItem(first)
        self._show_selected()  # explicitly: re-selecting the row already selected emits nothing
        self.last_elapsed_ms = (time.perf_counter() - started) * 1000
        self.busy = False
        if len(predictions) >= LARGE_BATCH:  # decoding and inference freed far more than is kept
            give_back_freed_memory()
        bad = sum(p.error is not None for p in predictions)
        problems = f"; {bad} could not be read (see Problem)" if bad else ""
        earlier = len(self.predictions) - len(predictions)
        of_others = " (above earlier results of other weights: see Model)" if mixed else ""
        below = of_others or (f" (above {earlier} earlier results)" if earlier else "")
        model = predictions[0].model if predictions and predictions[0].model else self.source.describe()
        self.status.setText(
            f"Classified {len(predictions) - bad} of {len(predictions)} images in "
            f"{self.last_elapsed_ms:.0f} ms with {model}{problems}{below}"
        )

    def _fit_columns(self) -> None:
        fit_columns(self.table)

    def _row_of(self, prediction: Prediction) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole + 1) == id(prediction):
                return row
        return -1

    def answered_images(self) -> list[tuple[str, np.ndarray | None]]:
        """The images answered, newest first, as (file or name, the network's input where it is
        kept (a pasted picture), else None: the file is read again): Inspect's embedding draws them."""
        return [(p.path, p.image) for p in self.predictions if p.error is None and p.top]

    def clear(self) -> None:
        """Forget every result (a batch still being classified will still arrive)."""
        self._fills.clear()
        self.predictions = []
        self._classes_of.clear()
        self._brief_of.clear()
        self.table.setRowCount(0)
        self._show_prediction(None)
        self.status.setText("Cleared. Drop, paste or open images to classify them.")

    def _fill_row(self, row: int, prediction: Prediction) -> None:
        answered_by = prediction.model if prediction.top else ""  # a file not read was answered by none
        brief = self._brief_of.get(answered_by, answered_by)
        for column, item in enumerate(row_items(prediction, brief, self.palette().placeholderText())):
            self.table.setItem(row, column, item)

    def selected(self) -> Prediction | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        first = self.table.item(rows[0].row(), 0)
        if first is None:
            return None
        key = first.data(Qt.ItemDataRole.UserRole + 1)
        return next((p for p in self.predictions if id(p) == key), None)

    def _show_selected(self) -> None:
        self._show_prediction(self.selected())

    def _show_prediction(self, prediction: Prediction | None) -> None:
        # The classes of the model that gave this answer: earlier rows may be another model's.
        known = self._classes_of.get(prediction.model) if prediction is not None else None
        self.detail.show_prediction(prediction, known or self.classes_known)

    def _inspect_selected(self) -> None:
        prediction = self.selected()
        if can_inspect(prediction):
            self.inspect_requested.emit(prediction)

    def export_csv(self, path: str | None = None) -> bool:
        if not self.predictions:
            self.status.setText("Nothing to export yet.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export results", "classified.csv", "CSV (*.csv)")
            if not path:
                return False
        try:
            atomic_write_text(path, predictions_csv(self.predictions))
        except OSError as exc:
            self.status.setText(f"{path}: cannot write ({exc.strerror or exc})")
            return False
        self.status.setText(f"Wrote {path}")
        return True


def _rgb_array(image: QImage) -> np.ndarray:
    """A QImage in Format_RGB888 -> a (h, w, 3) uint8 copy (rows are padded to 4 bytes)."""
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()
