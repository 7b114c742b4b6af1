"""The Train workspace's live plots: loss, accuracy, learning rate, speed and gradient flow, with
each run of the session in its own colour and a read-out of the values under the mouse."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QTabWidget, QWidget

from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.ui.common.plain_text import escaped
from resnet_studio.ui.train.contribution_view import ContributionView
from resnet_studio.ui.train.embedding_panel import LiveEmbedding
from resnet_studio.ui.train.spaced_axis import SpacedAxis

RUN_COLOURS = ["#4c8bf5", "#e8833a", "#3aa675", "#d0508a", "#8e6cd8", "#c9a227"]
# The views of the blocks (and of the images' features): their full names, and the shorter ones a
# narrower column shows (the full name is then the tab's tooltip): 1280 px, then about 1024 px.
BLOCK_TABS = (
    ("Gradient flow", "Gradients", "Grads"),
    ("Block contributions", "Contributions", "Contrib."),
    ("Embedding", "Embedding", "PCA"),
)


@dataclass
class RunCurves:
    """One run's data and its plot items."""

    name: str
    colour: str
    steps: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    smooth: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)  # train accuracy per logged step, in %
    acc_smooth: list[float] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    val_steps: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    grads: tuple[float, ...] = ()  # latest per-block gradient norms, stem to head
    items: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # plots to redraw: loss, accuracy, lr, speed, gradients

    def add_step(self, step: int, loss: float, lr: float, speed: float, accuracy: float) -> None:
        """A logged step: `accuracy` is the fraction of the step's batches classified right."""
        self.steps.append(step)
        self.loss.append(loss)
        self.smooth.append(_ema(self.smooth, loss))
        self.acc.append(accuracy * 100)
        self.acc_smooth.append(_ema(self.acc_smooth, accuracy * 100))
        self.lr.append(lr)
        self.speed.append(speed)
        self.dirty |= {"loss", "accuracy", "lr", "speed"}

    def add_epoch(self, epoch: int, step: int, loss: float, accuracy: float) -> None:
        self.epochs.append(epoch)
        self.val_steps.append(step)
        self.val_loss.append(loss)
        self.val_acc.append(accuracy * 100)
        self.dirty |= {"loss", "accuracy"}

    def set_grads(self, grads: tuple[float, ...]) -> None:
        self.grads = grads
        self.dirty.add("gradients")

    def add_record(self, record: MetricsRecord) -> None:
        """One line of a run's metrics.jsonl (a run followed from disk, or a resumed run's past)."""
        if record.kind == "train":
            self.add_step(record.step, record.loss, record.lr, record.images_per_s, record.accuracy)
            if record.grad_norms:  # saved by the studio's runs: the latest are the ones shown
                self.set_grads(record.grad_norms)
        else:
            self.add_epoch(record.epoch or len(self.epochs) + 1, record.step, record.loss, record.accuracy)


def _ema(series: list[float], value: float) -> float:
    """The next point of a curve smoothed like TensorBoard's (0.9 of the last, 0.1 of the new)."""
    previous = series[-1] if series else value
    return 0.9 * previous + 0.1 * value if math.isfinite(value) else previous


class HoverReadout:
    """Shows, at the top left of a plot, each curve's value at the x under the mouse."""

    def __init__(self, plot: pg.PlotWidget, x_name: str, fmt: str = "{:.4g}") -> None:
        self.plot = plot
        self.x_name = x_name
        self.fmt = fmt
        self.text = pg.TextItem(anchor=(0, 0), color=plot.palette().text().color())
        self.text.setZValue(100)
        plot.addItem(self.text, ignoreBounds=True)
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(plot.palette().mid().color()))
        plot.addItem(self.line, ignoreBounds=True)
        self.text.hide()
        self.line.hide()
        self.proxy = pg.SignalProxy(plot.scene().sigMouseMoved, rateLimit=30, slot=self._moved)

    def _moved(self, args: tuple) -> None:
        position = args[0]
        view = self.plot.getPlotItem().vb
        if not self.plot.sceneBoundingRect().contains(position):
            self.text.hide()
            self.line.hide()
            return
        x = view.mapSceneToView(position).x()
        self.show_at(x)

    def show_at(self, x: float) -> str:
        """Put the read-out at data coordinate `x`; returns its text (tests read it)."""
        lines = []
        for item in self.plot.getPlotItem().listDataItems():
            name = item.name()
            xs, ys = item.getData()
            if not name or xs is None or len(xs) == 0:
                continue
            i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
            if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
                i -= 1
            colour = item.opts["pen"].color().name() if hasattr(item.opts["pen"], "color") else "#888"
            lines.append(
                f'<span style="color:{colour}">{escaped(name)}</span>: {self.fmt.format(ys[i])} '
                f"({self.x_name} {xs[i]:g})"
            )
        if not lines:
            self.text.hide()
            self.line.hide()
            return ""
        html = "<br>".join(lines)
        view = self.plot.getPlotItem().vb
        (left, _), (_, top) = view.viewRange()
        self.text.setHtml(f'<div style="background-color: rgba(128,128,128,40)">{html}</div>')
        self.text.setPos(left, top)
        self.line.setPos(x)
        self.text.show()
        self.line.show()
        return html


class TrainPlots(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunCurves] = []
        self.gradient_runs: list[RunCurves] = []  # whose profiles the gradient view shows
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        # One legend for every plot, above them: legends inside the plots covered the curves.
        self.legend = QLabel()
        self.legend.setObjectName("plotLegend")
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.legend.setWordWrap(True)  # four runs' names and the key take two lines at 1280 px
        self.legend.setTextFormat(Qt.TextFormat.RichText)  # names in it are escaped
        self.legend.setToolTip(
            "Each run has its colour in every plot, gradient bars too. Solid: training (faint: each "
            "logged step; bold: smoothed); dashed with dots: validation after each epoch"
        )
        self._update_legend()
        self.loss_plot = self._plot("lossPlot", "Loss", "cross-entropy", "step")
        self.accuracy_plot = self._plot("accuracyPlot", "Accuracy", "%", "step")
        self.lr_plot = self._plot("lrPlot", "Learning rate", "lr", "step")
        self.speed_plot = self._plot("speedPlot", "Speed", "images/s", "step")
        self.gradient_view = self._plot("gradientView", "Gradient flow", "gradient L2 norm", "block")
        self.gradient_bars: list[pg.BarGraphItem] = []
        # Said in the empty plot: why there are no bars (yet).
        self.gradient_note = pg.TextItem(anchor=(0.5, 0.5), color=self.palette().mid().color())
        self.gradient_note.setTextWidth(170)
        self.gradient_note.setPos(0.5, 0.5)
        self.gradient_view.addItem(self.gradient_note, ignoreBounds=True)
        # As wide as the plot's inside allows: in a narrow column it wraps, never over the axis.
        self.gradient_view.getPlotItem().vb.sigResized.connect(self._fit_gradient_note)
        # Where a part gets no gradient at all (a whitening stem's filters are fixed): said, not a
        # missing bar that reads as a vanished gradient.
        self.fixed_label = pg.TextItem("fixed", anchor=(0.5, 1.0), color=self.palette().mid().color())
        self.gradient_view.addItem(self.fixed_label, ignoreBounds=True)
        self.fixed_label.hide()
        self._update_gradient_note()
        self.readouts = [
            HoverReadout(self.loss_plot, "step", "{:.4f}"),
            HoverReadout(self.accuracy_plot, "step", "{:.2f}%"),
            HoverReadout(self.lr_plot, "step", "{:.5f}"),
            HoverReadout(self.speed_plot, "step", "{:.0f}"),
        ]
        grid.addWidget(self.legend, 0, 0, 1, 2)
        grid.addWidget(self.loss_plot, 1, 0)
        grid.addWidget(self.accuracy_plot, 1, 1)
        # Two views of the blocks share a place: gradient flow, and what each block contributes.
        self.contribution_view = ContributionView()
        self.embedding_view = LiveEmbedding()  # where the validation images sit, each epoch
        self.block_views = QTabWidget()
        self.block_views.setObjectName("blockViews")
        self.block_views.setDocumentMode(True)
        views = (self.gradient_view, self.contribution_view, self.embedding_view)
        for widget, (name, *_) in zip(views, BLOCK_TABS, strict=True):
            self.block_views.addTab(widget, name)
        # As narrow as the plots beside it may be: the tabs and the strip's controls never widen
        # the column (they are cut short in a small window instead).
        self.block_views.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.block_views.tabBar().setElideMode(Qt.TextElideMode.ElideRight)
        self.block_views.installEventFilter(self)  # its width picks the tabs' full or short names
        grid.addWidget(self.block_views, 2, 0)
        small = QGridLayout()
        small.addWidget(self.lr_plot, 0, 0)
        small.addWidget(self.speed_plot, 1, 0)
        grid.addLayout(small, 2, 1)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 3)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.block_views and event.type() == QEvent.Type.Resize:
            self._fit_tab_texts()
        return super().eventFilter(watched, event)

    def _fit_tab_texts(self) -> None:
        """The tabs' full names where they fit the column, else their short names (never cut to
        "Gradie…"); the full name is always the tooltip."""
        bar = self.block_views.tabBar()
        for names in zip(*BLOCK_TABS, strict=True):
            for i, name in enumerate(names):
                bar.setTabText(i, name)
                bar.setTabToolTip(i, BLOCK_TABS[i][0])
            if sum(bar.tabSizeHint(i).width() for i in range(bar.count())) <= self.block_views.width():
                return

    def _fit_gradient_note(self) -> None:
        width = self.gradient_view.getPlotItem().vb.width()
        self.gradient_note.setTextWidth(max(60.0, min(170.0, width - 16)))

    def _plot(self, name: str, title: str, left: str, bottom: str) -> pg.PlotWidget:
        widget = pg.PlotWidget(axisItems={"left": SpacedAxis("left")})
        widget.setObjectName(name)
        widget.setBackground(self.palette().base().color())  # follows light and dark
        text = self.palette().text().color()
        for axis in ("left", "bottom"):
            widget.getAxis(axis).setPen(pg.mkPen(self.palette().mid().color()))
            widget.getAxis(axis).setTextPen(pg.mkPen(text))
        widget.setTitle(title, color=text.name(), size="10pt")
        widget.setLabel("left", left)
        widget.setLabel("bottom", bottom)
        widget.showGrid(x=True, y=True, alpha=0.2)
        # Long runs log ~70k steps a curve on CPU: draw only what is visible, at screen resolution.
        widget.setDownsampling(auto=True, mode="peak")
        widget.setClipToView(True)
        return widget

    def _update_legend(self) -> None:
        # Each swatch and name stay together on one line (non-breaking spaces); a network's name
        # is the user's text, shown as text.
        runs = "  ".join(
            f'<span style="color:{run.colour}; font-size:14pt">■</span>&nbsp;'
            + html.escape(run.name).replace(" ", "&nbsp;")
            for run in self.runs
        )
        key = "solid: train · dashed: validation"
        self.legend.setText(f"{runs}  <span style='color:gray'>{key}</span>" if runs else "")
        self.legend.setVisible(bool(runs))  # no empty band above the plots before the first run

    # -- runs -----------------------------------------------------------------------------------

    def add_run(self, name: str) -> RunCurves:
        curves = RunCurves(name, RUN_COLOURS[len(self.runs) % len(RUN_COLOURS)])
        colour = pg.mkColor(curves.colour)
        faint = pg.mkColor(curves.colour)
        faint.setAlpha(70)
        dashed = dict(
            pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
            symbol="o",
            symbolSize=6,
            symbolBrush=colour,
        )
        curves.items = {
            "loss": self.loss_plot.plot(pen=pg.mkPen(faint, width=1)),
            "smooth": self.loss_plot.plot(pen=pg.mkPen(colour, width=2), name=f"{name} train"),
            "val_loss": self.loss_plot.plot(**dashed, name=f"{name} val"),
            "acc": self.accuracy_plot.plot(pen=pg.mkPen(faint, width=1)),
            "acc_smooth": self.accuracy_plot.plot(pen=pg.mkPen(colour, width=2), name=f"{name} train"),
            "val_acc": self.accuracy_plot.plot(**dashed, name=f"{name} val"),
            "lr": self.lr_plot.plot(pen=pg.mkPen(colour, width=2), name=name),
            "speed": self.speed_plot.plot(pen=pg.mkPen(colour, width=2), name=name),
        }
        self.runs.append(curves)
        self._update_legend()
        return curves

    def remove_run(self, curves: RunCurves | None) -> None:
        """Take a run's curves away (a followed run whose project closed)."""
        if curves is None or curves not in self.runs:
            return
        plots = {"loss": self.loss_plot, "smooth": self.loss_plot, "val_loss": self.loss_plot}
        plots |= {"acc": self.accuracy_plot, "acc_smooth": self.accuracy_plot, "val_acc": self.accuracy_plot}
        plots |= {"lr": self.lr_plot, "speed": self.speed_plot}
        for key, item in curves.items.items():
            plots[key].removeItem(item)
        self.runs.remove(curves)
        if curves in self.gradient_runs:
            self.gradient_runs.remove(curves)
        self._update_legend()

    PARTS = ("loss", "accuracy", "gradients", "contributions", "embedding", "lr", "speed")

    def redraw(self, part: str | None = None) -> bool:
        """Put new data into one plot (`part`) or all; True when something changed. Drawing one
        plot per timer tick keeps each pass of the UI thread short while training."""
        parts = self.PARTS if part is None else (part,)
        changed = False
        for name in parts:
            if name == "contributions":
                changed = self.contribution_view.redraw() or changed
                continue
            if name == "embedding":
                changed = self.embedding_view.redraw() or changed
                continue
            if name == "gradients":
                self._update_gradient_note()  # runs followed from disk never mark it dirty
                if any("gradients" in run.dirty for run in self.gradient_runs):
                    for run in self.gradient_runs:
                        run.dirty.discard("gradients")
                    self._redraw_gradients()
                    changed = True
                continue
            for curves in self.runs:
                if name not in curves.dirty:
                    continue
                curves.dirty.discard(name)
                changed = True
                items = curves.items
                if name == "loss":
                    items["loss"].setData(curves.steps, curves.loss)
                    items["smooth"].setData(curves.steps, curves.smooth)
                    items["val_loss"].setData(curves.val_steps, curves.val_loss)
                elif name == "accuracy":
                    items["acc"].setData(curves.steps, curves.acc)
                    items["acc_smooth"].setData(curves.steps, curves.acc_smooth)
                    items["val_acc"].setData(curves.val_steps, curves.val_acc)
                else:
                    items[name].setData(curves.steps, getattr(curves, name))
        return changed

    def _update_gradient_note(self) -> None:
        shown = self.gradient_runs or self.runs  # the runs whose gradients this view is for
        if any(run.grads for run in self.gradient_runs):
            text = ""
        elif any(run.steps for run in shown) and not any(run.grads for run in shown):
            text = (
                "No gradient norms for these runs: the studio measures and saves them for the "
                "runs it trains; runs from the command line have none."
            )
        else:
            text = "The gradient norm of every block appears here while a run trains."
        if text != self.gradient_note.toPlainText() or self.gradient_note.isVisible() != bool(text):
            self.gradient_note.setText(text)
            self.gradient_note.setVisible(bool(text))

    def _redraw_gradients(self) -> None:
        """Bars per block; two runs (plain vs residual) side by side, each in its colour."""
        shown = [run for run in self.gradient_runs if run.grads]
        self._update_gradient_note()
        if not shown:
            return
        width = 0.8 / len(shown)
        while len(self.gradient_bars) < len(shown):
            bars = pg.BarGraphItem(x=[], height=[], width=width)
            self.gradient_view.addItem(bars)
            self.gradient_bars.append(bars)
        for k, bars in enumerate(self.gradient_bars):
            if k < len(shown):
                grads = [0.0 if math.isnan(g) else g for g in shown[k].grads]
                offset = (k - (len(shown) - 1) / 2) * width
                bars.setOpts(
                    x=[i + offset for i in range(len(grads))],
                    height=list(grads),
                    width=width,
                    brush=shown[k].colour,
                    pen=pg.mkPen(None),
                )
                bars.show()
            else:
                bars.hide()
        self.fixed_label.setVisible(any(run.grads and math.isnan(run.grads[0]) for run in shown))
        self.fixed_label.setPos(0, 0)
        count = max(len(run.grads) for run in shown)
        every = max(2, count // 8)  # block numbers thin out; stem and head are always named
        numbered = range(every, count - 1 - every, every)  # none crowding "head" at the end
        ticks = [(0, "stem"), *((i, str(i)) for i in numbered), (count - 1, "head")]
        self.gradient_view.getAxis("bottom").setTicks([ticks])
        # Every block, stem to head, with room at the ends for those two labels (pyqtgraph hides
        # a label that reaches past the plot).
        half = self.gradient_view.fontMetrics().horizontalAdvance("head") / 2 + 4
        width = self.gradient_view.getPlotItem().vb.width()
        margin = max(0.6, half * count / (width - 2 * half)) if width > 2 * half + 20 else 0.6
        self.gradient_view.setXRange(-margin, count - 1 + margin, padding=0)
