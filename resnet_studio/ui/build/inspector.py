"""The inspector: the selected item's properties, edited with validated controls.

A control that changes emits one edit (one undo step): spin boxes report on Enter, focus loss or
an arrow step, not on every keystroke. Invalid combinations are allowed in (the canvas shows them
in red with the reason), so a user can pass through one on the way to a valid network.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.architecture import BLOCK_KINDS, DOWNSAMPLE_KINDS, SHORTCUT_KINDS, edits
from resnet_studio.architecture.spec import MAX_BLOCKS_PER_STAGE, MAX_CHANNELS, MAX_SIZE, STEM_KINDS
from resnet_studio.ui.common.document import Document, PartKind
from resnet_studio.ui.common.plain_text import plain

SHORTCUT_TITLES = {
    "projection": "projection (1×1 conv)",
    "zero-pad": "zero-pad (option A)",
    "none": "none (plain network)",
}
DOWNSAMPLE_TITLES = {"stride": "strided convolution", "maxpool": "max-pool after the convolution"}
STEM_KIND_TITLES = {"conv": "convolution + BatchNorm", "whiten": "whitening (fixed filters)"}


def _spin(low: int, high: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)
    box.setAccelerated(True)
    return box


def _combo(values: tuple[str, ...], titles: dict[str, str]) -> QComboBox:
    box = QComboBox()
    for value in values:
        box.addItem(titles.get(value, value), value)
    return box


class Inspector(QWidget):
    def __init__(self, document: Document) -> None:
        super().__init__()
        self.setObjectName("inspector")
        self.document = document
        self._updating = False
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 12pt;")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d93025;")
        plain(self.title, self.problem)  # a problem quotes the network's fields
        self.pages = QStackedWidget()  # one page of fields per kind of part
        self._pages: dict[PartKind, QWidget] = {}
        self._network_page()
        self._stem_page()
        self._stage_page()
        self._head_page()

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.pages)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self._connect()
        document.changed.connect(self.refresh)
        document.selection_changed.connect(self.refresh)
        self.refresh()

    def _network_page(self) -> None:
        self.name = QLineEdit()
        self.input_size = _spin(1, MAX_SIZE)
        self.input_channels = _spin(1, 64)
        self.classes = _spin(2, 100_000)
        self.shortcut = _combo(SHORTCUT_KINDS, SHORTCUT_TITLES)
        self.projection_bn = QCheckBox("BatchNorm after 1×1 projections")
        self.projection_bn.setToolTip(
            "On: the paper's option B. Off: a bare 1×1 convolution, as in the reference article's "
            "Keras code (pre-activation blocks never normalise the projection)"
        )
        self.downsample_by = _combo(DOWNSAMPLE_KINDS, DOWNSAMPLE_TITLES)
        self.downsample_by.setToolTip(
            "How a stage with stride 2 shrinks the image: its first convolution strides (He et al.), "
            "or it runs at full size and a 2×2 max-pool follows, the shortcut pooled alike "
            "(ResNet-9, airbench: more multiply-adds, learns faster)"
        )
        self._page(
            PartKind.NETWORK,
            [
                ("Name", self.name),
                ("Input size (px)", self.input_size),
                ("Input channels", self.input_channels),
                ("Classes", self.classes),
                ("Shortcuts", self.shortcut),
                ("", self.projection_bn),
                ("Downsampling", self.downsample_by),
            ],
        )

    def _stem_page(self) -> None:
        self.stem_kind = _combo(STEM_KINDS, STEM_KIND_TITLES)
        self.stem_kind.setToolTip(
            "A convolution with BatchNorm, trained; or fixed filters that whiten the pixels' "
            "2×2 patches, set from the training images before training (airbench): no BatchNorm "
            "and no gradient in the first layer, so each training step is cheaper"
        )
        self.stem_channels = _spin(1, MAX_CHANNELS)
        self.stem_kernel = _spin(1, 15, 2)
        self.stem_stride = _spin(1, 4)
        self.stem_maxpool = QCheckBox("3×3/2 max-pool after the convolution")
        self._page(
            PartKind.STEM,
            [
                ("Kind", self.stem_kind),
                ("Channels", self.stem_channels),
                ("Kernel", self.stem_kernel),
                ("Stride", self.stem_stride),
                ("", self.stem_maxpool),
            ],
        )

    def _stage_page(self) -> None:
        self.block = _combo(BLOCK_KINDS, edits.BLOCK_TITLES)
        self.count = _spin(1, MAX_BLOCKS_PER_STAGE)
        self.channels = _spin(1, MAX_CHANNELS)
        self.stride = _spin(1, 4)
        self._page(
            PartKind.STAGE,
            [
                ("Block", self.block),
                ("Blocks", self.count),
                ("Channels", self.channels),
                ("Stride (first block)", self.stride),
            ],
        )

    def _head_page(self) -> None:
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.95)
        self.dropout.setSingleStep(0.05)
        self.dropout.setKeyboardTracking(False)
        self._page(PartKind.HEAD, [("Dropout", self.dropout)])

    def _page(self, kind: PartKind, rows: list[tuple[str, QWidget]]) -> None:
        page = QWidget()
        page.setObjectName(f"inspector-{kind.value}")
        self._pages[kind] = page
        form = QFormLayout(page)
        form.setContentsMargins(0, 4, 0, 4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in rows:
            form.addRow(label, widget)
        self.pages.addWidget(page)

    def _connect(self) -> None:
        d = self.document

        def on(signal, make: Callable[[object], tuple]) -> None:
            def handler(value: object) -> None:
                if not self._updating:
                    new, text = make(value)
                    d.apply(new, text, d.selection)

            signal.connect(handler)

        on(
            self.name.editingFinished,
            lambda _=None: edits.set_network(d.spec, "name", self.name.text().strip() or "Untitled"),
        )
        on(self.input_size.valueChanged, lambda v: edits.set_network(d.spec, "input_size", v))
        on(self.input_channels.valueChanged, lambda v: edits.set_network(d.spec, "input_channels", v))
        on(self.classes.valueChanged, lambda v: edits.set_network(d.spec, "classes", v))
        on(
            self.shortcut.currentIndexChanged,
            lambda _: edits.set_network(d.spec, "shortcut", self.shortcut.currentData()),
        )
        on(
            self.projection_bn.toggled,
            lambda checked: edits.set_network(d.spec, "projection_bn", bool(checked)),
        )
        on(
            self.downsample_by.currentIndexChanged,
            lambda _: edits.set_network(d.spec, "downsample_by", self.downsample_by.currentData()),
        )
        on(
            self.stem_kind.currentIndexChanged,
            lambda _: edits.set_stem_kind(d.spec, self.stem_kind.currentData()),
        )
        on(self.stem_channels.valueChanged, lambda v: edits.set_stem(d.spec, "channels", v))
        on(self.stem_kernel.valueChanged, lambda v: edits.set_stem(d.spec, "kernel", v))
        on(self.stem_stride.valueChanged, lambda v: edits.set_stem(d.spec, "stride", v))
        on(self.stem_maxpool.toggled, lambda v: edits.set_stem(d.spec, "maxpool", bool(v)))
        on(
            self.block.currentIndexChanged,
            lambda _: edits.set_stage(d.spec, self._stage(), "block", self.block.currentData()),
        )
        on(self.count.valueChanged, lambda v: edits.set_stage(d.spec, self._stage(), "count", v))
        on(self.channels.valueChanged, lambda v: edits.set_stage(d.spec, self._stage(), "channels", v))
        on(self.stride.valueChanged, lambda v: edits.set_stage(d.spec, self._stage(), "stride", v))
        on(self.dropout.valueChanged, lambda v: edits.set_head(d.spec, round(float(v), 4)))

    def _stage(self) -> int:
        return self.document.selection.index

    def refresh(self) -> None:
        self._updating = True
        try:
            spec = self.document.spec
            key = self.document.selection
            self.pages.setCurrentWidget(self._pages[key.kind])
            if key.is_stage:
                stage = spec.stages[key.index]
                self.title.setText(f"Stage {key.index + 1}")
                self.block.setCurrentIndex(BLOCK_KINDS.index(stage.block))
                self.count.setValue(stage.count)
                self.channels.setValue(stage.channels)
                self.stride.setValue(stage.stride)
            elif key.kind is PartKind.STEM:
                self.title.setText("Stem")
                self.stem_kind.setCurrentIndex(STEM_KINDS.index(spec.stem.kind))
                whiten = spec.stem.kind == "whiten"
                self.stem_kernel.setSingleStep(1 if whiten else 2)  # whitening has no padding to centre
                self.stem_channels.setEnabled(not whiten)  # 2 x input channels x kernel^2, set by the kernel
                self.stem_channels.setValue(spec.stem.channels)
                self.stem_kernel.setValue(spec.stem.kernel)
                self.stem_stride.setValue(spec.stem.stride)
                self.stem_maxpool.setChecked(spec.stem.maxpool)
            elif key.kind is PartKind.HEAD:
                self.title.setText("Head")
                self.dropout.setValue(spec.head.dropout)
            else:
                self.title.setText("Network")
                if not self.name.hasFocus():
                    self.name.setText(spec.name)
                self.input_size.setValue(spec.input.size)
                self.input_channels.setValue(spec.input.channels)
                self.classes.setValue(spec.classes)
                self.shortcut.setCurrentIndex(SHORTCUT_KINDS.index(spec.shortcut))
                self.projection_bn.setChecked(spec.projection_bn)
                self.projection_bn.setEnabled(spec.shortcut == "projection")
                self.downsample_by.setCurrentIndex(DOWNSAMPLE_KINDS.index(spec.downsample_by))
            problem = self.document.problem_for(key)
            self.problem.setText(f"⚠ {problem}" if problem else "")
        finally:
            self._updating = False

    def focus_first_field(self) -> None:
        page = self.pages.currentWidget()
        for child in page.findChildren(QWidget):
            if child.focusPolicy() & Qt.FocusPolicy.TabFocus:
                child.setFocus()
                return
