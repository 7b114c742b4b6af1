"""Inspect's "Why residuals work" tab: three experiments on the model that answers, and on a second
network beside it (its plain twin, say). The lesion study removes each block in turn (Veit et al.
2016); block similarity compares every block's output with every other's (linear CKA, Kornblith
et al. 2019); the loss landscape maps the loss around the weights and on the way to them (Li et al.
2018, drawn by `landscape_figure`). Each runs off the UI thread with progress and Cancel, says in
a line what is drawn and what to look for, and saves its figure as PNG and its numbers as JSON."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture.analysis import short_block_name
from resnet_studio.errors import error_text
from resnet_studio.fileio import atomic_write_json
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import write_png
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import escaped, plain
from resnet_studio.ui.common.saving import save_with_dialog
from resnet_studio.ui.inspect.landscape_figure import LANDSCAPE_NOTE, draw_landscape

if TYPE_CHECKING:
    from resnet_studio.nn.checkpoint import LoadedModel

LESION_NOTE = (
    "Validation accuracy with one block removed (bars), and with k random blocks removed (lines). "
    "Look for: the residual network keeps much of its accuracy; the plain one falls to chance."
)
SIMILARITY_NOTE = (
    "Linear CKA between the outputs of every pair of blocks, on the same images (1: the same "
    "representation). Look for: bright squares where a residual stage refines one representation."
)
COLOURS = ("#1f77b4", "#d62728")  # this network, the one beside it
TITLES = {"lesion": "Lesion study", "similarity": "Block similarity", "landscape": "Loss landscape"}
_CKA_LUT = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256, alpha=False)


class Cancelled(Exception):
    pass


class _Progress(QObject):
    """Crosses from the worker thread to the UI thread (a queued signal)."""

    changed = Signal(int, int)


class ExperimentsView(QWidget):
    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.setObjectName("experimentsView")
        self.source = source
        self.result: dict[str, Any] | None = None  # the last experiment's numbers
        self.cancel_flag = threading.Event()
        self.progress_relay = _Progress()
        self.progress_relay.changed.connect(self._progress)

        self._buttons()
        self.progress = QProgressBar()
        self.progress.setObjectName("experimentProgress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.note = QLabel(
            "Run an experiment on the model that answers; choose a second network (its plain twin) "
            "to draw beside it."
        )
        self.note.setObjectName("experimentNote")
        plain(self.note)  # messages that name files
        self.note.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(QLabel("Beside it:"))
        row.addWidget(self.versus)
        row.addWidget(self.limit)
        row.addWidget(self.grid)
        for widget in (self.lesion_button, self.similarity_button, self.landscape_button, self.cancel_button):
            row.addWidget(widget)
        row.addStretch(1)
        # The progress on a line of its own: beside the buttons, a 1024-pixel window cut its text.
        status = QHBoxLayout()
        status.addWidget(self.progress, 1)
        status.addWidget(self.save_png)
        status.addWidget(self.save_json)

        self.figures = QStackedWidget()
        self.lesion_plot = pg.GraphicsLayoutWidget()
        self.lesion_plot.setObjectName("lesionPlot")
        self.similarity_plot = pg.GraphicsLayoutWidget()
        self.similarity_plot.setObjectName("similarityPlot")
        self.landscape_plot = pg.GraphicsLayoutWidget()
        self.landscape_plot.setObjectName("landscapePlot")
        for widget in (self.lesion_plot, self.similarity_plot, self.landscape_plot):
            widget.setBackground(self.palette().base().color())  # follows light and dark
            self.figures.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(status)
        layout.addWidget(self.note)
        layout.addWidget(self.figures, 1)

    def _buttons(self) -> None:
        """The second network, the images and grid, one button per experiment, Cancel and Save."""
        self.versus = QComboBox()
        self.versus.setObjectName("experimentVersus")
        self.versus.setToolTip("A second network drawn beside this one, on the same images")
        self.versus.setMinimumWidth(220)
        self.limit = QSpinBox()
        self.limit.setRange(50, 10_000)
        self.limit.setValue(500)
        self.limit.setSingleStep(100)
        self.limit.setSuffix(" images")
        self.limit.setToolTip("Validation images each measurement uses")
        self.lesion_button = QPushButton("Lesion study")
        self.lesion_button.setObjectName("lesionButton")
        self.lesion_button.clicked.connect(lambda: self.run("lesion"))
        self.similarity_button = QPushButton("Block similarity")
        self.similarity_button.setObjectName("similarityButton")
        self.similarity_button.clicked.connect(lambda: self.run("similarity"))
        self.landscape_button = QPushButton("Loss landscape")
        self.landscape_button.setObjectName("landscapeButton")
        self.landscape_button.clicked.connect(lambda: self.run("landscape"))
        self.grid = QSpinBox()
        self.grid.setRange(3, 51)
        self.grid.setValue(21)
        self.grid.setPrefix("grid ")
        self.grid.setToolTip("Points per side of the loss landscape's slice (21: a few minutes on a CPU)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_flag.set)
        self.save_png = QPushButton("Save PNG…")
        self.save_json = QPushButton("Save JSON…")
        for button in (self.save_png, self.save_json):
            button.setEnabled(False)
        self.save_png.clicked.connect(lambda: self._save("png"))
        self.save_json.clicked.connect(lambda: self._save("json"))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_runs()

    def refresh_runs(self) -> None:
        current = self.versus.currentData()
        self.versus.clear()
        self.versus.addItem("nothing", None)
        for run in reversed(self.source.training.run_dirs):  # this session's runs, newest first
            self.versus.addItem(Path(run).name, str(run))
        self.versus.addItem("a checkpoint…", "choose")
        index = self.versus.findData(current)
        self.versus.setCurrentIndex(max(0, index))

    # -- running ----------------------------------------------------------------------------------

    def run(self, kind: str) -> None:
        versus = self.versus.currentData()
        if versus == "choose":
            versus, _ = QFileDialog.getOpenFileName(self, "Network beside it", "", "Checkpoints (*.pt)")
            if not versus:
                return
        self.cancel_flag.clear()
        self._busy(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"{TITLES[kind]}: loading…")
        load = self.source.loader(own=True)  # a lesion's hooks never touch the model other views use
        limit, grid, relay, flag = (
            self.limit.value(),
            self.grid.value(),
            self.progress_relay,
            self.cancel_flag,
        )

        def report(done: int, total: int) -> None:
            if flag.is_set():
                raise Cancelled
            relay.changed.emit(done, total)

        run_in_background(
            lambda: _experiment(kind, load, versus, limit, report, grid),
            self,
            self._show,
            self._failed,
        )

    def _busy(self, busy: bool) -> None:
        for button in (self.lesion_button, self.similarity_button, self.landscape_button):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of {total} measurements")

    def _failed(self, exc: Exception) -> None:
        self._busy(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Cancelled" if isinstance(exc, Cancelled) else "Failed")
        if not isinstance(exc, Cancelled):
            self.note.setText(f"The experiment failed: {error_text(exc)}")

    def _show(self, result: dict[str, Any]) -> None:
        self._busy(False)
        self.result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(f"Done · {result['images']} validation images")
        for button in (self.save_png, self.save_json):
            button.setEnabled(True)
        if result["kind"] == "lesion":
            self._draw_lesion(result)
        elif result["kind"] == "landscape":
            self.figures.setCurrentWidget(self.landscape_plot)
            self.landscape_plot.clear()
            draw_landscape(self.landscape_plot, result, self._styled, COLOURS)
            self.note.setText(LANDSCAPE_NOTE)
        else:
            self._draw_similarity(result)

    # -- drawing ----------------------------------------------------------------------------------

    def _styled(self, layout: pg.GraphicsLayoutWidget, title: str) -> pg.PlotItem:
        plot = layout.addPlot()
        text = self.palette().text().color()
        plot.setTitle(title, color=text.name(), size="10pt")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen(pg.mkPen(self.palette().mid().color()))
            plot.getAxis(axis).setTextPen(pg.mkPen(text))
        plot.setMenuEnabled(False)
        return plot

    def _draw_lesion(self, result: dict[str, Any]) -> None:
        self.figures.setCurrentWidget(self.lesion_plot)
        self.lesion_plot.clear()
        networks = result["networks"]
        bars = self._styled(self.lesion_plot, "Without one block (dashed: the whole network)")
        bars.addLegend(offset=(60, 30), labelTextColor=self.palette().text().color())
        names = [entry["block"] for entry in networks[0]["blocks"]]
        width = 0.8 / len(networks)
        for i, network in enumerate(networks):
            heights = [100 * entry["accuracy"] for entry in network["blocks"]]
            x = np.arange(len(heights)) + (i - (len(networks) - 1) / 2) * width
            item = pg.BarGraphItem(
                x=x, height=heights, width=width, brush=COLOURS[i], name=escaped(network["name"])
            )
            bars.addItem(item)
            line = pg.InfiniteLine(
                100 * network["baseline"], angle=0, pen=pg.mkPen(COLOURS[i], style=Qt.PenStyle.DashLine)
            )
            bars.addItem(line)
        bars.getAxis("bottom").setTicks([[(i, short_block_name(n)) for i, n in enumerate(names)]])
        bars.setLabel("left", "accuracy", "%")
        bars.setYRange(0, 100)
        bars.showGrid(y=True, alpha=0.2)
        curve = self._styled(self.lesion_plot, "Without k random blocks")
        curve.addLegend(offset=(-10, 10), labelTextColor=self.palette().text().color())
        for i, network in enumerate(networks):
            ks = [0] + [entry["k"] for entry in network["random"]]
            acc = [100 * network["baseline"]] + [100 * entry["accuracy"] for entry in network["random"]]
            curve.plot(
                ks,
                acc,
                pen=pg.mkPen(COLOURS[i], width=2),
                symbol="o",
                symbolBrush=COLOURS[i],
                name=escaped(network["name"]),  # pyqtgraph's legends and titles are HTML
            )
        curve.setLabel("left", "accuracy", "%")
        curve.setLabel("bottom", "blocks removed")
        curve.setYRange(0, 100)
        curve.showGrid(x=True, y=True, alpha=0.2)
        self.note.setText(LESION_NOTE)

    def _draw_similarity(self, result: dict[str, Any]) -> None:
        self.figures.setCurrentWidget(self.similarity_plot)
        self.similarity_plot.clear()
        for i, network in enumerate(result["networks"]):
            plot = self._styled(self.similarity_plot, escaped(network["name"]))
            matrix = np.asarray(network["cka"], dtype=np.float32)
            image = pg.ImageItem(matrix.T)  # ImageItem's first axis is x: columns
            image.setLookupTable(_CKA_LUT)
            image.setLevels((0.0, 1.0))  # one colour scale for both networks
            plot.addItem(image)
            ticks = [(j + 0.5, short_block_name(n)) for j, n in enumerate(network["rows"])]
            plot.getAxis("left").setTicks([ticks])
            # Below, numbers (0: the stem): names side by side overlap in a narrow window.
            plot.getAxis("bottom").setTicks([[(j + 0.5, str(j)) for j in range(len(ticks))]])
            plot.setLabel("bottom", "the same blocks, in order (0: stem)")
            plot.invertY(True)
            plot.setAspectLocked(True)
            plot.setRange(xRange=(0, len(matrix)), yRange=(0, len(matrix)), padding=0)
            plot.setMouseEnabled(False, False)
            if i == len(result["networks"]) - 1:
                bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False)
                bar.setImageItem(image, insert_in=plot)
        self.note.setText(SIMILARITY_NOTE)

    # -- saving -----------------------------------------------------------------------------------

    def _save(self, kind: str) -> None:
        if self.result is not None:
            save_with_dialog(self, f"{self.result['kind']}.{kind}", self.save, self.note.setText)

    def save(self, path: str | Path) -> None:
        """The figure as PNG, or the numbers as JSON, by the file's suffix; written atomically and
        never through a link or into a device (`NotARegularFile`)."""
        if Path(path).suffix.lower() == ".png":
            figure = self.figures.currentWidget()
            assert figure is not None  # the stack holds a figure for every result
            write_png(figure.grab(), path)
        else:
            atomic_write_json(path, self.result)


def _experiment(
    kind: str, load: Callable[[], LoadedModel], versus: str | None, limit: int, report, grid: int = 21
) -> dict[str, Any]:
    """On a worker thread: the experiment on the model that answers (`load` gives the job its
    own copy) and on `versus`, on the same validation images."""
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.nn.checkpoint import model_from_checkpoint

    loaded = load()
    models = [(loaded.spec.name, loaded.model, loaded)]
    if versus:
        other = model_from_checkpoint(versus)
        if other.input_size != loaded.input_size or other.classes != loaded.classes:
            raise ValueError(f"{Path(versus).name}: its input or classes differ from the model's")
        models.append((other.spec.name, other.model, other))
    images, _ = validation_images(loaded, None, limit_val=limit)
    total = len(models)
    networks = []
    for i, (name, model, owner) in enumerate(models):

        def part(done: int, count: int, i: int = i) -> None:  # progress over all networks
            report(i * count + done, total * count)

        if kind == "lesion":
            from resnet_studio.inspection.lesion import lesion_study

            result = lesion_study(model, images, owner.classes, owner.mean, owner.std, progress=part)
            networks.append({"name": name, **result.to_dict()})
        elif kind == "landscape":
            from resnet_studio.inspection.landscape import initial_weights, loss_landscape

            initial, _ = initial_weights(owner)
            found = loss_landscape(
                model, images, owner.mean, owner.std, initial=initial, grid=grid, progress=part
            )
            networks.append({"name": name, **found.to_dict()})
        else:
            from resnet_studio.inspection.similarity import block_grams, similarity

            grams = block_grams(model, images, owner.mean, owner.std)
            part(1, 1)
            networks.append({"name": name, **similarity(grams, grams).to_dict()})
    return {"kind": kind, "images": len(images), "networks": networks}
