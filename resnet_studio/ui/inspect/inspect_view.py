"""The Inspect workspace: what the network sees in one image (every block's feature maps, the
first layer's filters, Grad-CAM for any class at any block, or Integrated Gradients and occlusion
through Captum: `explain`), how it does on the validation set (`evaluation_view`), why its
shortcuts matter (`experiments_view`) and where the images sit in its features (`embedding_view`)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.data.images import image_file_filter
from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import to_pixmap
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.common.plain_text import escaped, plain, rich
from resnet_studio.ui.inspect.block_anatomy import BlockAnatomyView
from resnet_studio.ui.inspect.channel_grid import CHANNEL, ChannelGrid
from resnet_studio.ui.inspect.channel_panel import ChannelPanel
from resnet_studio.ui.inspect.embedding_view import EmbeddingView
from resnet_studio.ui.inspect.evaluation_view import EvaluationView
from resnet_studio.ui.inspect.experiments_view import ExperimentsView
from resnet_studio.ui.inspect.explain import NOTES, TITLES, Analysis, analyse, attribute, method_box
from resnet_studio.ui.inspect.pictures import VIEW, filter_tiles, overlay, photo_overlay

PHOTO = 512  # longer side of the photo kept for Grad-CAM's overlay (a file opened in Inspect)


class InspectView(QWidget):
    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.source = source
        self.image: np.ndarray | None = None
        self.photo: np.ndarray | None = None  # the whole picture the input was prepared from
        self.image_name = ""
        self.last_cam = None
        self.analysis: Analysis | None = None
        self.cam_key: tuple[str, int | None, str] | None = None
        self.analysed = 0  # numbers each analysis: the anatomy of an older one is dropped
        self.busy = 0
        source.changed.connect(self.refresh)
        source.described.connect(self._show_model)

        top = QHBoxLayout()
        self.model_label = QLabel()
        self.model_label.setObjectName("modelSource")
        plain(self.model_label)  # the network's name, the checkpoint's path
        open_image = QPushButton("Open Image…")
        open_image.clicked.connect(self._choose_image)
        top.addWidget(self.model_label, 1)
        top.addWidget(open_image)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._features_tab(), "Image")
        self.validation = EvaluationView(source)
        self.validation.image_chosen.connect(self.set_image)
        self.tabs.addTab(self.validation, "Validation set")
        self.experiments = ExperimentsView(source)
        self.tabs.addTab(self.experiments, "Why residuals work")
        self.embedding = EmbeddingView(source)
        self.embedding.image_chosen.connect(self.set_image)
        self.tabs.addTab(self.embedding, "Embedding")
        self.tabs.setTabToolTip(3, "Where the validation images sit in the network's last features")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._show_model()

    # -- layout ---------------------------------------------------------------------------------

    def _features_tab(self) -> QWidget:
        tab = QWidget()
        controls, left, splitter = self._feature_controls(), self._picture_column(), self._channel_splitter()
        body = QHBoxLayout()
        body.addLayout(left)
        body.addWidget(splitter, 1)
        layout = QVBoxLayout(tab)
        layout.addLayout(controls)
        layout.addLayout(body, 1)
        return tab

    def _feature_controls(self) -> QHBoxLayout:
        """Block, class explained and method; channel order; tile size."""
        controls = QHBoxLayout()
        self.block = QComboBox()
        self.block.setToolTip("The block whose output is shown and explained")
        self.block.currentTextChanged.connect(lambda _: self._block_changed())
        self.target = QComboBox()
        self.target.setToolTip("The class explained")
        self.target.activated.connect(lambda _: self._update_cam())
        self.explain_by = method_box()  # Grad-CAM, Integrated Gradients, occlusion
        self.explain_by.activated.connect(lambda _: self._update_cam())
        for combo in (self.block, self.target):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(16)
        self.sort = QCheckBox("Sort channels by mean activation")
        self.sort.toggled.connect(lambda _: self._show_maps())
        for label, widget in (("Block", self.block), ("Explain", self.target), ("by", self.explain_by)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.sort)
        controls.addStretch(1)
        controls.addWidget(QLabel("Tiles"))
        self.maps = ChannelGrid("featureMaps")
        for text, steps, tip in (
            ("−", -1, "Smaller tiles (Ctrl+wheel)"),
            ("+", 1, "Larger tiles (Ctrl+wheel)"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, steps=steps: self.maps.zoom(steps))
            controls.addWidget(button)
        return controls

    def _picture_column(self) -> QVBoxLayout:
        """The image (with its Grad-CAM), its caption and the first layer's filters."""
        left = QVBoxLayout()
        self.picture = QLabel("Open an image, drop one on Classify, or pick one from the validation set.")
        self.picture.setWordWrap(True)
        self.picture.setFixedSize(VIEW, VIEW)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setObjectName("gradCam")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(VIEW)
        rich(self.caption)  # the image's and the classes' names in it are escaped
        plain(self.picture)
        self.filters = QLabel()
        self.filters.setToolTip(
            "The first layer's filters: red, green and blue are the weights on the input's three "
            "channels, each filter stretched over its own range"
        )
        left.addWidget(self.picture)
        left.addWidget(self.caption)
        self.filters_title = QLabel("<b>First-layer filters</b>")
        self.filters_title.hide()  # until an image's pass has read them: no heading over nothing
        rich(self.filters_title)
        left.addWidget(self.filters_title)
        left.addWidget(self.filters)
        left.addStretch(1)
        return left

    def _channel_splitter(self) -> QSplitter:
        """The channel grid beside the clicked channel's tabs: enlarged, what excites it, the block
        opened up there."""
        self.maps.currentRowChanged.connect(self._show_channel)
        self.channel_plot = pg.PlotWidget()
        self.channel_plot.setObjectName("channelPlot")
        self.channel_plot.setAspectLocked(True)
        self.channel_plot.invertY(True)
        self.channel_plot.hideAxis("left")
        self.channel_plot.hideAxis("bottom")
        self.channel_plot.setBackground(self.palette().base().color())
        # Room above and below the plot: the colour bar's end labels (1.0, 0) are drawn centred on
        # its ends, and were cut in half at the widget's edge.
        self.channel_plot.getPlotItem().layout.setContentsMargins(0, 8, 0, 8)
        self.channel_image = pg.ImageItem()
        self.channel_plot.addItem(self.channel_image)
        self.colour_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.colour_bar.setImageItem(self.channel_image, insert_in=self.channel_plot.getPlotItem())
        self.channel_caption = QLabel("Click a channel to enlarge it.")
        self.channel_caption.setWordWrap(True)
        plain(self.channel_caption)
        zoom = QHBoxLayout()
        zoom.addWidget(QLabel("Zoom (or mouse wheel, drag to pan)"))
        zoom.addStretch(1)
        for text, factor, tip in (("−", 1.5, "Zoom out"), ("+", 1 / 1.5, "Zoom in"), ("Fit", 0, "Whole map")):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, factor=factor: self.zoom_channel(factor))
            zoom.addWidget(button)
        right = QVBoxLayout()
        right.addLayout(zoom)
        right.addWidget(self.channel_plot, 1)
        right.addWidget(self.channel_caption)
        right_widget = QWidget()
        right_widget.setLayout(right)
        # The clicked channel three ways: enlarged, what excites it, and the block opened up there.
        self.side = QTabWidget()
        self.side.setObjectName("channelTabs")
        self.side.addTab(right_widget, "Channel")
        self.looks_for = ChannelPanel(self.source)
        self.side.addTab(self.looks_for, "Looks for")
        self.anatomy = BlockAnatomyView()
        self.side.addTab(self.anatomy, "Block anatomy")
        self.side.setTabToolTip(0, "The clicked channel of the block's output, enlarged")
        self.side.setTabToolTip(
            1, "The validation images that excite the clicked channel most, and an image made to excite it"
        )
        self.side.setTabToolTip(2, "Every step of the image through the chosen block, at the clicked channel")
        self.side.currentChanged.connect(lambda _: self._update_anatomy())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.maps)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([3000, 2000])  # the grid gets its 3/5 at once, not what the plot leaves it
        return splitter

    def _show_model(self) -> None:
        self.model_label.setText(f"Model: {self.source.describe()}")

    # -- the image ----------------------------------------------------------------------------------

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image", "", image_file_filter())
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        from pathlib import Path

        from resnet_studio.data.images import load_image_with_preview

        load = self.source.loader()

        def job() -> tuple[np.ndarray, str, np.ndarray]:
            loaded = load()
            image, photo = load_image_with_preview(path, loaded.preparation, loaded.channels, PHOTO)
            return image, Path(path).name, photo

        run_in_background(job, self, lambda result: self.set_image(*result), self._failed)

    def set_image(self, image: np.ndarray, name: str, photo: np.ndarray | None = None) -> None:
        """Inspect this uint8 (C, H, W) image (already at the network's input size), prepared from
        the RGB (h, w, 3) `photo` when given (Grad-CAM is then drawn over the whole photo)."""
        self.image, self.image_name, self.photo = image, name, photo
        self.tabs.setCurrentIndex(0)
        self.refresh()

    def refresh(self) -> None:
        """Run the image through the current model (off the UI thread), then draw."""
        self._show_model()
        self.anatomy.forget()  # an anatomy under way is of the old weights or image: dropped
        if self.image is None:
            return
        # The job's own network: its hooks must never fire in a Classify job running the shared one.
        image, photo, load = self.image, self.photo, self.source.loader(own=True)
        self.busy += 1

        def job() -> Analysis:
            return analyse(load, image, photo)

        run_in_background(job, self, self._analysed, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.busy = max(0, self.busy - 1)
        self.caption.setText(f"Cannot inspect: {escaped(error_text(exc))}")

    def _analysed(self, analysis: Analysis) -> None:
        self.busy = max(0, self.busy - 1)
        self.analysis = analysis
        block = self.block.currentText()
        self.block.blockSignals(True)
        self.block.clear()
        self.block.addItems(list(analysis.maps))
        self.block.setCurrentText(block if block in analysis.maps else list(analysis.maps)[-1])
        self.block.blockSignals(False)
        best = int(np.argmax(analysis.probabilities))
        self.target.clear()
        self.target.addItem(f"predicted: {analysis.classes[best]}", None)
        for i, name in enumerate(analysis.classes):
            self.target.addItem(f"{name} ({analysis.probabilities[i]:.1%})", i)
        self.filters.setPixmap(to_pixmap(filter_tiles(analysis.filters)))
        out, cin, k, _ = analysis.filters.shape
        self.filters_title.setText(f"<b>First-layer filters</b> ({out} of {k}x{k}, {cin} colours)")
        self.filters_title.show()
        self.cam_key = None
        self.analysed += 1
        self._block_changed()

    def _block_changed(self) -> None:
        self._show_maps()
        self._update_cam()
        self._update_anatomy()

    def _update_anatomy(self) -> None:
        """The chosen block opened up for the image, when its tab is shown (a pass of its own)."""
        block = self.block.currentText()
        if self.analysis is None or not block or self.side.currentWidget() is not self.anatomy:
            return
        self.anatomy.request(self.source.loader(own=True), self.analysis.image, block, (self.analysed,))

    def _show_maps(self) -> None:
        """Every channel of the chosen block as a tile; optionally strongest first."""
        if self.analysis is None or self.block.currentText() not in self.analysis.maps:
            return
        maps = self.analysis.maps[self.block.currentText()]
        means = maps.mean(axis=(1, 2))
        order = list(range(len(maps)))
        if self.sort.isChecked():
            order = [int(c) for c in np.argsort(-means, kind="stable")]
        self.maps.set_maps(maps, order)  # tiles are drawn as they come into view
        if self.maps.count():  # enlarged first: the strongest channel, not a blank one
            self.maps.setCurrentRow(order.index(int(np.argmax(means))))

    def _show_channel(self, row: int) -> None:
        if self.analysis is None or row < 0 or self.block.currentText() not in self.analysis.maps:
            return
        channel = self.maps.item(row).data(CHANNEL)
        data = self.analysis.maps[self.block.currentText()][channel]
        self.anatomy.set_channel(channel)
        self.looks_for.choose(self.block.currentText(), channel)
        fresh = self.channel_image.image is None or self.channel_image.image.shape != data.T.shape
        self.channel_image.setImage(data.T, autoLevels=False)  # ImageItem is column-major
        if fresh:  # another map size: show it whole; the same size keeps the user's zoom
            self.channel_plot.autoRange(padding=0)
        low, high = float(data.min()), float(data.max())
        self.colour_bar.setLevels((low, high if high > low else low + 1e-6))
        self.channel_caption.setText(
            f"{self.block.currentText()}, channel {channel}: {data.shape[0]}x{data.shape[1]}, "
            f"from {low:.3f} to {high:.3f}"
        )

    def zoom_channel(self, factor: float) -> None:
        """Zoom the enlarged map by `factor` about its centre (0: show it whole)."""
        box = self.channel_plot.getViewBox()
        if factor:
            box.scaleBy((factor, factor))
        else:
            box.autoRange(padding=0)

    def _update_cam(self) -> None:
        if self.analysis is None or not self.block.currentText():
            return
        block, target = self.block.currentText(), self.target.currentData()
        method = self.explain_by.currentData()
        key = (block if method == "gradcam" else "", target, method)  # the others see the input only
        if self.cam_key == key:
            return
        self.cam_key = key
        session, classes, image = self.analysis.session, self.analysis.classes, self.analysis.image
        assert session is not None  # every analysis is made with its pass
        if target is None:  # "predicted": the answer shown (with TTA, it may differ from one pass's)
            target = int(np.argmax(self.analysis.probabilities))
        load = self.source.loader(own=True) if method != "gradcam" else None
        tag = (self.analysed, key)  # an answer for another image or choice is dropped
        self.busy += 1

        def job():
            from resnet_studio.inspection.classify import one_thread

            if load is not None:  # Integrated Gradients, occlusion: a pass of their own (Captum)
                return tag, attribute(load, image, method, target), classes
            with one_thread():
                return tag, session.cam(block, target), classes  # the analysis's own pass: no new forward

        run_in_background(job, self, self._show_cam, self._failed)

    def _show_cam(self, result) -> None:
        self.busy = max(0, self.busy - 1)
        (analysed, key), cam, classes = result
        if (analysed, key) != (self.analysed, self.cam_key):
            return
        self.last_cam = cam
        analysis = self.analysis
        if analysis is None:  # the image was closed while its Grad-CAM was computed
            return
        if analysis.photo is not None and analysis.box is not None:
            picture = photo_overlay(analysis.photo, cam.heatmap, analysis.box)
        else:
            picture = overlay(analysis.image, cam.heatmap)
        self.picture.setPixmap(to_pixmap(picture))
        self.picture.setFixedHeight(picture.shape[0])  # a wide photo leaves no gap above the caption
        answer = analysis.probabilities  # Classify's answer (Grad-CAM's own pass has no TTA)
        best = int(np.argmax(answer))
        method = key[2]
        where = f" at {cam.block}" if method == "gradcam" else ""
        self.caption.setText(
            f"<b>{escaped(self.image_name)}</b>: the network says <b>{escaped(classes[best])}</b> "
            f"({answer[best]:.1%}).<br>{TITLES[method]} for <b>{escaped(classes[cam.class_index])}</b>"
            f"{where}: {NOTES[method]}"
        )
