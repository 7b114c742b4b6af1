"""The Inspect workspace: what the network sees in one image (every block's feature maps, the
first layer's filters, Grad-CAM for any class at any block), how it does on the validation set
(`evaluation_view`) and why its shortcuts matter (`experiments_view`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.data.images import image_file_filter
from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import mosaic, tile_list, to_pixmap
from resnet_studio.ui.common.model_source import ModelSource
from resnet_studio.ui.inspect.evaluation_view import EvaluationView
from resnet_studio.ui.inspect.experiments_view import ExperimentsView

VIEW = 224  # on-screen side of the image and its Grad-CAM
_HEAT = pg.colormap.get("turbo").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.float32)


@dataclass
class Analysis:
    """One image through one model: every block's output, the probabilities, the stem's filters."""

    image: np.ndarray  # uint8 (C, H, W), the network's input
    maps: dict[str, np.ndarray]  # block -> float32 (channels, h, w)
    probabilities: np.ndarray
    classes: list[str]
    filters: np.ndarray  # float32 (out, in, k, k)


def _network_input(loaded, image: np.ndarray):
    """The uint8 (C, H, W) image as the model's normalised (1, C, H, W) input (on a worker: torch)."""
    import torch

    from resnet_studio.data.transforms import normalize

    return normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)


def overlay(image: np.ndarray, heatmap: np.ndarray, side: int = VIEW, alpha: float = 0.45) -> np.ndarray:
    """The network's input enlarged to `side` pixels with the Grad-CAM heat map blended over it."""
    rgb = image.transpose(1, 2, 0) if image.shape[0] == 3 else np.repeat(image[0][..., None], 3, axis=2)
    base = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR), np.float32)
    heat = np.asarray(Image.fromarray((heatmap * 255).astype(np.uint8)).resize((side, side)), np.uint8)
    colour = _HEAT[heat]
    weight = alpha * (heat[..., None] / 255) ** 0.5  # cold regions stay see-through
    return (base * (1 - weight) + colour * weight).clip(0, 255).astype(np.uint8)


def filter_tiles(filters: np.ndarray) -> np.ndarray:
    """First-layer kernels (out, in, k, k) as one RGB mosaic (grey for one input channel)."""
    out, cin, k, _ = filters.shape
    scale = np.abs(filters).max(axis=(1, 2, 3), keepdims=True) + 1e-12
    tiles = ((filters / scale) * 127.5 + 127.5).clip(0, 255).astype(np.uint8)  # 0 is mid-grey
    tiles = tiles if cin == 3 else np.repeat(tiles[:, :1], 3, axis=1)
    factor = max(1, 24 // k)
    tiles = tiles.repeat(factor, axis=2).repeat(factor, axis=3).transpose(0, 2, 3, 1)  # (out, s, s, 3)
    columns = 8
    rows = -(-out // columns)
    side = k * factor
    canvas = np.zeros((rows * (side + 2), columns * (side + 2), 3), np.uint8)
    for i in range(out):
        r, c = divmod(i, columns)
        canvas[r * (side + 2) : r * (side + 2) + side, c * (side + 2) : c * (side + 2) + side] = tiles[i]
    return canvas


class InspectView(QWidget):
    def __init__(self, source: ModelSource) -> None:
        super().__init__()
        self.source = source
        self.image: np.ndarray | None = None
        self.image_name = ""
        self.analysis: Analysis | None = None
        self.cam_key: tuple[str, int | None] | None = None
        self.busy = 0
        source.changed.connect(self.refresh)
        source.described.connect(self._show_model)

        top = QHBoxLayout()
        self.model_label = QLabel()
        self.model_label.setObjectName("modelSource")
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
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self._show_model()

    # -- layout ---------------------------------------------------------------------------------

    def _features_tab(self) -> QWidget:
        tab = QWidget()
        controls = QHBoxLayout()
        self.block = QComboBox()
        self.block.setToolTip("The block whose output is shown and explained")
        self.block.currentTextChanged.connect(lambda _: self._block_changed())
        self.target = QComboBox()
        self.target.setToolTip("The class Grad-CAM explains")
        self.target.activated.connect(lambda _: self._update_cam())
        for combo in (self.block, self.target):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(16)
        self.sort = QCheckBox("Sort channels by mean activation")
        self.sort.toggled.connect(lambda _: self._show_maps())
        for label, widget in (("Block", self.block), ("Grad-CAM for", self.target)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.sort)
        controls.addStretch(1)

        left = QVBoxLayout()
        self.picture = QLabel("Open an image, drop one on Classify, or pick one from the validation set.")
        self.picture.setWordWrap(True)
        self.picture.setFixedSize(VIEW, VIEW)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setObjectName("gradCam")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(VIEW)
        self.filters = QLabel()
        self.filters.setToolTip("The first layer's filters (mid-grey is 0)")
        left.addWidget(self.picture)
        left.addWidget(self.caption)
        left.addWidget(QLabel("<b>First-layer filters</b>"))
        left.addWidget(self.filters)
        left.addStretch(1)

        self.maps = tile_list("featureMaps", 56, (64, 76))
        self.maps.currentRowChanged.connect(self._show_channel)
        self.channel_plot = pg.PlotWidget()
        self.channel_plot.setObjectName("channelView")
        self.channel_plot.setAspectLocked(True)
        self.channel_plot.invertY(True)
        self.channel_plot.hideAxis("left")
        self.channel_plot.hideAxis("bottom")
        self.channel_plot.setBackground(self.palette().base().color())
        self.channel_image = pg.ImageItem()
        self.channel_plot.addItem(self.channel_image)
        self.colour_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.colour_bar.setImageItem(self.channel_image, insert_in=self.channel_plot.getPlotItem())
        self.channel_caption = QLabel("Click a channel to enlarge it.")
        right = QVBoxLayout()
        right.addWidget(self.channel_plot, 1)
        right.addWidget(self.channel_caption)
        right_widget = QWidget()
        right_widget.setLayout(right)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.maps)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addWidget(splitter, 1)
        layout = QVBoxLayout(tab)
        layout.addLayout(controls)
        layout.addLayout(body, 1)
        return tab

    def _show_model(self) -> None:
        self.model_label.setText(f"Model: {self.source.describe()}")

    # -- the image ----------------------------------------------------------------------------------

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image", "", image_file_filter())
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        from pathlib import Path

        from resnet_studio.data.images import load_image

        load = self.source.loader()

        def job() -> tuple[np.ndarray, str]:
            loaded = load()
            return load_image(path, loaded.input_size, loaded.channels), Path(path).name

        run_in_background(job, self, lambda result: self.set_image(*result), self._failed)

    def set_image(self, image: np.ndarray, name: str) -> None:
        """Inspect this uint8 (C, H, W) image (already at the network's input size)."""
        self.image, self.image_name = image, name
        self.tabs.setCurrentIndex(0)
        self.refresh()

    def refresh(self) -> None:
        """Run the image through the current model (off the UI thread), then draw."""
        self._show_model()
        if self.image is None:
            return
        # The job's own network: its hooks must never fire in a Classify job running the shared one.
        image, load = self.image, self.source.loader(own=True)
        self.busy += 1

        def job() -> Analysis:
            import torch

            from resnet_studio.inspection.activations import feature_maps
            from resnet_studio.inspection.gradcam import first_layer_filters
            from resnet_studio.inspection.tta import tta_logits

            loaded = load()
            x = _network_input(loaded, image)
            maps, logits = feature_maps(loaded.model, x)
            if loaded.tta:  # the same answer as Classify: averaged over the test-time views
                with torch.inference_mode():
                    logits = tta_logits(loaded.model, x, flip=True, shift=loaded.tta_shift)
            probabilities = torch.softmax(logits[0], 0).numpy()
            return Analysis(
                image, dict(maps), probabilities, loaded.classes, first_layer_filters(loaded.model)
            )

        run_in_background(job, self, self._analysed, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.busy = max(0, self.busy - 1)
        self.caption.setText(f"Cannot inspect: {error_text(exc)}")

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
        self.cam_key = None
        self._block_changed()

    def _block_changed(self) -> None:
        self._show_maps()
        self._update_cam()

    def _show_maps(self) -> None:
        """Every channel of the chosen block as a tile; optionally strongest first."""
        if self.analysis is None or self.block.currentText() not in self.analysis.maps:
            return
        maps = self.analysis.maps[self.block.currentText()]
        means = maps.mean(axis=(1, 2))
        order = list(np.argsort(-means, kind="stable")) if self.sort.isChecked() else list(range(len(maps)))
        self.maps.clear()
        for channel in order:
            picture = mosaic(maps[channel : channel + 1], 1, 56, gap=0)  # its own colour range
            item = QListWidgetItem(QIcon(to_pixmap(picture)), f"{channel}")
            item.setData(Qt.ItemDataRole.UserRole, int(channel))
            item.setToolTip(f"channel {channel}: mean {means[channel]:.3f}, max {maps[channel].max():.3f}")
            self.maps.addItem(item)
        if self.maps.count():  # enlarged first: the strongest channel, not a blank one
            self.maps.setCurrentRow(order.index(int(np.argmax(means))))

    def _show_channel(self, row: int) -> None:
        if self.analysis is None or row < 0 or self.block.currentText() not in self.analysis.maps:
            return
        channel = self.maps.item(row).data(Qt.ItemDataRole.UserRole)
        data = self.analysis.maps[self.block.currentText()][channel]
        self.channel_image.setImage(data.T, autoLevels=False)  # ImageItem is column-major
        low, high = float(data.min()), float(data.max())
        self.colour_bar.setLevels((low, high if high > low else low + 1e-6))
        self.channel_caption.setText(
            f"{self.block.currentText()}, channel {channel}: {data.shape[0]}x{data.shape[1]}, "
            f"from {low:.3f} to {high:.3f}"
        )

    def _update_cam(self) -> None:
        if self.analysis is None or not self.block.currentText():
            return
        block, target = self.block.currentText(), self.target.currentData()
        if self.cam_key == (block, target):
            return
        self.cam_key = (block, target)
        image, load = self.analysis.image, self.source.loader(own=True)  # hooked: its own network
        if target is None:  # "predicted": the answer shown (with TTA, it may differ from one pass's)
            target = int(np.argmax(self.analysis.probabilities))
        self.busy += 1

        def job():
            from resnet_studio.inspection.gradcam import grad_cam

            loaded = load()
            x = _network_input(loaded, image)
            return grad_cam(loaded.model, x, block, target), loaded.classes

        run_in_background(job, self, self._show_cam, self._failed)

    def _show_cam(self, result) -> None:
        self.busy = max(0, self.busy - 1)
        cam, classes = result
        self.last_cam = cam
        self.picture.setPixmap(to_pixmap(overlay(self.analysis.image, cam.heatmap)))
        answer = self.analysis.probabilities  # Classify's answer (Grad-CAM's own pass has no TTA)
        best = int(np.argmax(answer))
        self.caption.setText(
            f"<b>{self.image_name}</b>: the network says <b>{classes[best]}</b> "
            f"({answer[best]:.1%}).<br>Grad-CAM for <b>{classes[cam.class_index]}</b> "
            f"at {cam.block}: warm regions raise that class's score."
        )
