"""The live embedding on the Train tab: after each epoch, the PCA of the same 500 validation images'
penultimate features under the weights as they are then, so that the user watches the classes pull
apart as the network learns. Each frame is turned to lie as the one before did (it only moves,
never flips), coloured by class; hovering a point shows its image.

Driven from the epoch's end (the studio's `Evaluated` event) with the run's own weights, copied
off the UI thread. It costs training time (a no-grad pass of 500 images on one core): a frame is
skipped when drawing it would take the time spent so far above `SHARE` of the run's time, so short
epochs are drawn every few epochs and CIFAR-10's every epoch (`resnet-studio bench` reports the
share as `embedding_share`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.embedding_work import LIVE_SAMPLE, LiveFrame, live_frame
from resnet_studio.ui.common.feature_tiles import image_pixmap
from resnet_studio.ui.common.plain_text import plain
from resnet_studio.ui.common.point_cloud import PointCloud

log = logging.getLogger(__name__)
SHARE = 0.05  # of the run's time, at most, spent drawing the embedding


class LiveEmbedding(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("liveEmbedding")
        self.frame: LiveFrame | None = None
        self.run = 0  # bumped by each new run: a frame of the run before is dropped
        self.busy = False
        self.dirty = False
        self.spent_s = 0.0  # drawing frames, this run
        self.run_s = 0.0  # the run's time at its latest epoch's end
        self.last_cost_s = 0.0
        self.skipped = 0
        self.frames = 0  # drawn this run
        self.epochs = 0  # the run's length: its last frame is drawn whatever it costs
        self.pending: tuple[Any, int, float] | None = None  # the last epoch, while a frame is made
        self.note = QLabel(
            f"PCA of the same {LIVE_SAMPLE} validation images' last features after each epoch: "
            "watch the classes pull apart."
        )
        self.note.setObjectName("liveEmbeddingNote")
        self.note.setWordWrap(True)
        plain(self.note)
        font = self.note.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.note.setFont(font)
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.cloud = PointCloud("liveEmbeddingPlot", lasso=False)
        self.cloud.hovered.connect(self._hovered)
        self.cloud.legend.setVisible(False)  # no room for ten names: hovering names the class
        self.empty = pg.TextItem(
            "Appears after the first epoch of a run trained here.",
            anchor=(0.5, 0.5),
            color=self.palette().mid().color(),
        )
        self.cloud.addItem(self.empty, ignoreBounds=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.cloud, 1)

    @property
    def share(self) -> float:
        """The share of the run's time spent drawing the embedding so far."""
        return self.spent_s / self.run_s if self.run_s > 0 else 0.0

    def new_run(self, epochs: int = 0) -> None:
        """A run of `epochs` epochs starts (its last epoch's frame is always drawn)."""
        self.run += 1
        self.epochs, self.pending = epochs, None
        self.frame, self.busy, self.dirty = None, False, True
        self.spent_s = self.run_s = self.last_cost_s = 0.0
        self.skipped = self.frames = 0

    def epoch_ended(self, trainer: Any, epoch: int, run_s: float) -> None:
        """The epoch `epoch` of the run training now ended `run_s` seconds into the run: its frame,
        unless one is still being made or it would cost more than `SHARE` of the run's time (the
        last epoch's is drawn all the same: the trained network's picture)."""
        self.run_s = run_s
        last = epoch >= self.epochs > 0
        if trainer is None:
            return
        if self.busy:
            self.pending = (trainer, epoch, run_s) if last else None  # drawn when the one before is
            return
        if self.frame is not None and not last and self.spent_s + self.last_cost_s > SHARE * run_s:
            self.skipped += 1
            return
        self.busy = True
        run, previous = self.run, None if self.frame is None else self.frame.points

        def done(frame: LiveFrame | None) -> None:
            if run != self.run:
                return
            self.busy = False
            if frame is not None:
                self.spent_s += frame.seconds
                self.last_cost_s = frame.seconds
                self.frames += 1
                self.frame, self.dirty = frame, True
            if self.pending is not None:
                waiting, self.pending = self.pending, None
                self.epoch_ended(*waiting)

        def failed(exc: Exception) -> None:
            if run == self.run:
                self.busy = False
                log.warning("live embedding: %s", error_text(exc))

        run_in_background(lambda: live_frame(trainer, epoch, previous), self, done, failed)

    def redraw(self) -> bool:
        """Draw the newest frame (the Train tab's redraw timer calls this); True when it changed."""
        if not self.dirty:
            return False
        self.dirty = False
        frame = self.frame
        self.empty.setVisible(frame is None)
        if frame is None:
            self.cloud.set_points(np.zeros((0, 2)), np.zeros(0), [])
            self.empty.setPos(0, 0)
            self.cloud.setXRange(-1, 1)
            self.cloud.setYRange(-1, 1)
            return True
        self.cloud.set_points(frame.points, frame.labels, frame.classes)
        right = float((frame.predictions == frame.labels).mean()) if len(frame.labels) else 0.0
        self.note.setText(
            f"Epoch {frame.epoch}: PCA of the same {len(frame.labels)} validation images' last features "
            f"({right:.0%} answered right), coloured by class; hover a point for its image. "
            f"{frame.seconds:.1f} s a frame, {self.share:.1%} of the run's time."
        )
        return True

    def _hovered(self, index: int, where: QPoint) -> None:
        frame = self.frame
        if frame is None or not 0 <= index < len(frame.labels):
            return
        true, said = frame.classes[int(frame.labels[index])], frame.classes[int(frame.predictions[index])]
        text = f"a {true}" + ("" if true == said else f", taken for a {said}")
        self.cloud.preview.show_at(image_pixmap(frame.images[index], 48), text, where)
