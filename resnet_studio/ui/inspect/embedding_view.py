"""Inspect > Embedding: where the images sit in the network's mind. The penultimate features of the
validation images (and of the images dropped on the window, as stars) drawn in two dimensions by
PCA, t-SNE or UMAP, coloured by class. Hovering a point shows its image, a click opens it in the
Image tab, and a lasso drawn round a cluster shows its images below the plot.

The features come from one pass over the images, made once per model and data and kept for the
session: another method is then only a projection (PCA at once, t-SNE some seconds). Everything
runs off the UI thread; an answer for older weights, data or method is dropped, never shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.inspection.embedding import METHODS, TITLES, unavailable
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.data_source_field import data_source_field
from resnet_studio.ui.common.feature_tiles import image_pixmap, tile_list
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import plain, tooltip
from resnet_studio.ui.common.point_cloud import PointCloud

if TYPE_CHECKING:
    from resnet_studio.ui.common.embedding_work import EmbeddedData

HINTS = {
    "pca": "PCA: the two directions along which the features vary most. Distances are faithful; "
    "classes that overlap here may still be apart in other directions.",
    "tsne": "t-SNE: each image stays near its nearest neighbours. Clusters are real, but their "
    "sizes and the distances between them mean little.",
    "umap": "UMAP: like t-SNE, each image near its neighbours, with more of the large-scale layout kept.",
}
USAGE = (
    "Hover a point to see its image; click it to inspect it. Drag round a cluster to see its images "
    "here (the wheel zooms, the middle button pans)."
)
SELECTION_SHOWN = 300  # images of a lasso shown in the grid, at most


class _Progress(QObject):
    moved = Signal(object, int, int)  # which work (its token), done, total


class EmbeddingView(QWidget):
    image_chosen = Signal(object, str)  # a uint8 (C, H, W) image and its description

    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.setObjectName("embeddingView")
        self.source = source
        self.limit_val = 2000  # validation images drawn (tests use fewer)
        # The images dropped on the window, as (file or name, uint8 image or None: read again).
        self.dropped: Callable[[], list[tuple[str, np.ndarray | None]]] = list
        self.data_in: EmbeddedData | None = None
        self.points: np.ndarray | None = None
        self.shown: tuple[int, str] | None = None  # (generation, method) of the points drawn
        self.generation = 0  # bumped when other weights or other data answer
        self.run = 0  # bumped by each request: only the latest reports
        self.busy = False
        self.selection = np.zeros(0, np.int64)
        self._stop = threading.Event()
        self._progress = _Progress()
        self._progress.moved.connect(self._moved)
        source.changed.connect(self.model_changed)

        controls = self._controls()
        self.status = QLabel("Press Draw to see where the validation images sit in the network's features.")
        self.status.setObjectName("embeddingStatus")
        self.status.setWordWrap(True)
        plain(self.status)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m images")
        self.progress.hide()

        self.cloud = PointCloud("embeddingPlot")
        self.cloud.hovered.connect(self._hovered)
        self.cloud.clicked.connect(self._open)
        self.cloud.lassoed.connect(self._lassoed)
        self.selection_title = QLabel(USAGE)
        self.selection_title.setWordWrap(True)
        plain(self.selection_title)
        self.selection_grid = tile_list("embeddingSelection", 40, (48, 48))
        self.selection_grid.itemClicked.connect(lambda item: self._open(item.data(Qt.ItemDataRole.UserRole)))
        below = QWidget()
        column = QVBoxLayout(below)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.selection_title)
        column.addWidget(self.selection_grid, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)  # the plot as square as the window allows
        splitter.addWidget(self.cloud)
        splitter.addWidget(below)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([3000, 1000])
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

    def _controls(self) -> QHBoxLayout:
        """The data, the method and Draw."""
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Images from"))
        self.data = data_source_field("embeddingData", "The validation images drawn: a --data source")
        self.data.editingFinished.connect(self._data_changed)
        controls.addWidget(self.data, 1)
        controls.addWidget(QLabel("Method"))
        self.method = QComboBox()
        self.method.setObjectName("embeddingMethod")
        for name in METHODS:
            self.method.addItem(TITLES[name], name)
        self._disable_missing_methods()
        self.method.activated.connect(lambda _: self.draw())
        controls.addWidget(self.method)
        self.draw_button = QPushButton("Draw")
        self.draw_button.setObjectName("embeddingDraw")
        self.draw_button.setToolTip("Run the validation images through the model once and draw them")
        self.draw_button.clicked.connect(self.draw)
        controls.addWidget(self.draw_button)
        return controls

    def _disable_missing_methods(self) -> None:
        """A method whose package is not installed stays listed, greyed, its tip saying how to add it."""
        model = self.method.model()
        assert isinstance(model, QStandardItemModel)
        for row, name in enumerate(METHODS):
            why = unavailable(name)
            item = model.item(row)
            item.setEnabled(why is None)
            item.setToolTip(tooltip(why or HINTS[name]))

    # -- what is asked ------------------------------------------------------------------------------

    @property
    def chosen_method(self) -> str:
        return str(self.method.currentData())

    def model_changed(self) -> None:
        """Other weights answer: their features are computed again when next drawn."""
        self.generation += 1
        self.data_in = None
        self._stop.set()
        self._stop = threading.Event()
        self.run += 1
        self.busy = False
        self.progress.hide()
        self.draw_button.setEnabled(True)
        if self.points is not None:
            self.status.setText("Other weights or data answer now: press Draw to draw their images.")

    def _data_changed(self) -> None:
        if self.data_in is not None and self.data.text().strip() != self.data_in.source:
            self.model_changed()

    def draw(self) -> None:
        """The chosen method's picture: the features first when they are not kept yet."""
        method = self.chosen_method
        why = unavailable(method)
        if why is not None:
            self.status.setText(why)
            return
        self.run += 1
        run, generation, stop = self.run, self.generation, self._stop
        kept, moved = self.data_in, self._progress.moved
        self.busy = True
        self.draw_button.setEnabled(False)
        if kept is None:
            load, data, limit = self.source.loader(own=True), self.data.text().strip() or None, self.limit_val
            dropped = self.dropped()
            self.status.setText("Running the validation images through the model once (kept for the session)")
            self.progress.setRange(0, 0)
            self.progress.show()
        else:
            self.status.setText(f"{TITLES[method]} of {len(kept.vectors):,} images…")

        def job():
            from resnet_studio.ui.common.embedding_work import features_of, projected

            embedded = kept
            if embedded is None:
                report = lambda done, total: moved.emit(run, done, total)  # noqa: E731 - one line
                embedded = features_of(load, data, limit, dropped, report, stop.is_set)
            points, seconds = projected(embedded.vectors, method)
            return embedded, points, seconds

        def done(result) -> None:
            if run != self.run or generation != self.generation:
                return  # other weights, other data or another method meanwhile
            embedded, points, seconds = result
            self.data_in, self.points, self.shown = embedded, points, (generation, method)
            self._finish()
            self._show(method, seconds)

        def failed(exc: Exception) -> None:
            if run != self.run:
                return
            self._finish()
            self.status.setText(f"Cannot draw the embedding: {error_text(exc)}")

        run_in_background(job, self, done, failed)

    def _finish(self) -> None:
        self.busy = False
        self.progress.hide()
        self.draw_button.setEnabled(True)

    def _moved(self, token: object, done: int, total: int) -> None:
        if token == self.run:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    # -- the picture ----------------------------------------------------------------------------------

    def _show(self, method: str, seconds: float) -> None:
        embedded, points = self.data_in, self.points
        assert embedded is not None and points is not None
        groups = np.concatenate([embedded.labels, embedded.predictions[embedded.count :]])
        marked = np.arange(len(points)) >= embedded.count
        self.cloud.set_points(points, groups, embedded.classes, marked, "your images (predicted class)")
        answers = embedded.predictions[: embedded.count]
        right = float((answers == embedded.labels).mean()) if embedded.count else 0.0
        extra = f" and {len(embedded.dropped_names)} of yours" if embedded.dropped_names else ""
        self.status.setText(
            f"{TITLES[method]} of {embedded.count:,} validation images{extra} ({embedded.source}; "
            f"{right:.0%} answered right), coloured by true class, in {seconds:.1f} s. {HINTS[method]}"
        )
        self._lassoed(np.zeros(0, np.int64))

    def _hovered(self, index: int, where: QPoint) -> None:
        if index < 0 or self.data_in is None:
            return
        picture = image_pixmap(self.data_in.image(index), 64)
        self.cloud.preview.show_at(picture, self.data_in.describe(index), where)

    def _open(self, index: int) -> None:
        if self.data_in is None or index is None or not 0 <= index < len(self.data_in.vectors):
            return
        self.image_chosen.emit(self.data_in.image(index), self.data_in.describe(index))

    def _lassoed(self, indices: np.ndarray) -> None:
        self.selection = np.asarray(indices, np.int64)
        self.selection_grid.clear()
        if not len(self.selection) or self.data_in is None:
            self.selection_title.setText(USAGE)
            return
        embedded = self.data_in
        counts: dict[str, int] = {}
        for index in self.selection:
            name = embedded.classes[int(self._group(int(index)))]
            counts[name] = counts.get(name, 0) + 1
        common = ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
        first = f", the first {SELECTION_SHOWN}" if len(self.selection) > SELECTION_SHOWN else ""
        self.selection_title.setText(f"{len(self.selection)} images in the lasso{first}: {common}")
        for index in self.selection[:SELECTION_SHOWN]:
            item = QListWidgetItem(QIcon(image_pixmap(embedded.image(int(index)), 40)), "")
            item.setToolTip(tooltip(f"{embedded.describe(int(index))}; click to inspect"))
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            item.setSizeHint(QSize(48, 48))
            self.selection_grid.addItem(item)

    def _group(self, index: int) -> int:
        embedded = self.data_in
        assert embedded is not None
        return int(embedded.labels[index]) if index < embedded.count else int(embedded.predictions[index])
