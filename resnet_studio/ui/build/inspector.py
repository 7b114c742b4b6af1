"""The inspector: the selected item's properties, edited with validated controls.

A control that changes emits one edit (one undo step): spin boxes report on Enter, focus loss or
an arrow step, not on every keystroke. Invalid combinations are allowed in (the canvas shows them
in red with the reason), so a user can pass through one on the way to a valid network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, SignalInstance
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
from resnet_studio.architecture.spec import (
    MAX_BLOCKS_PER_STAGE,
    MAX_CHANNELS,
    MAX_SIZE,
    STEM_KINDS,
    StageSpec,
)
from resnet_studio.ui.common.document import Document, Part, PartKind
from resnet_studio.ui.common.plain_text import plain

SHORTCUT_TITLES = {
    "projection": "projection (1×1 conv)",
    "zero-pad": "zero-pad (option A)",
    "none": "none (plain network)",
}
DOWNSAMPLE_TITLES = {"stride": "strided convolution", "maxpool": "max-pool after the convolution"}
ERROR_COLOUR = "#d93025"
STEM_KIND_TITLES = {"conv": "convolution + BatchNorm", "whiten": "whitening (fixed filters)"}


def _inner_width_text(stage: StageSpec) -> str:
    """The width the 3×3 convolutions get from channels, groups and width per group."""
    if stage.block != "bottleneck":
        return ""  # its convolutions are as wide as the stage
    per_group = stage.channels / 4 * stage.width_per_group / 64  # torchvision's width of a group
    if per_group != int(per_group):
        return f"{per_group:g} channels per group: not whole"
    inner = int(per_group) * stage.groups
    return f"inner width {inner}" + (f", {int(per_group)} per group" if stage.groups > 1 else "")


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
        self.problem.setStyleSheet(f"color: {ERROR_COLOUR};")
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
        self.groups = _spin(1, MAX_CHANNELS)
        self.groups.setToolTip(
            "Groups of the 3×3 convolutions (ResNeXt's cardinality): each group sees only its share "
            "of the channels. 1: an ordinary convolution"
        )
        self.width_per_group = _spin(1, MAX_CHANNELS)
        self.width_per_group.setToolTip(
            "A bottleneck's inner width is channels / 4 × width per group / 64 × groups, as in "
            "torchvision: 64 with 1 group is the usual quarter, 128 doubles it (Wide ResNet), "
            "4 with 32 groups is ResNeXt's 32x4d. Other blocks leave it at 64"
        )
        self.inner_width = QLabel()  # what the two fields give, in words
        self.inner_width.setObjectName("innerWidth")
        self.inner_width.setWordWrap(True)
        self._page(
            PartKind.STAGE,
            [
                ("Block", self.block),
                ("Blocks", self.count),
                ("Channels", self.channels),
                ("Stride (first block)", self.stride),
                ("Groups (3×3 conv)", self.groups),
                ("Width per group", self.width_per_group),
                ("", self.inner_width),
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

        def on(signal: SignalInstance, make: Callable[[Any], tuple]) -> None:
            # *args: most signals carry the new value, but editingFinished carries none (a handler
            # that required one raised TypeError on Enter and the new name was lost).
            def handler(*args: object) -> None:
                if not self._updating:
                    new, text = make(args[0] if args else None)
                    d.apply(new, text, d.selection)

            signal.connect(handler)

        on(self.name.editingFinished, lambda _: self._renamed())
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
        on(self.groups.valueChanged, lambda v: edits.set_stage(d.spec, self._stage(), "groups", v))
        on(
            self.width_per_group.valueChanged,
            lambda v: edits.set_stage(d.spec, self._stage(), "width_per_group", v),
        )
        on(self.dropout.valueChanged, lambda v: edits.set_head(d.spec, round(float(v), 4)))

    def _renamed(self) -> tuple:
        """The edit for the name field, once the user finished typing (Enter or leaving it).
        Only a typed change counts: leaving the field after an undo must not redo the old name."""
        if not self.name.isModified():
            return self.document.spec, ""
        self.name.setModified(False)
        return edits.set_network(self.document.spec, "name", self.name.text().strip() or "Untitled")

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
                self.groups.setValue(stage.groups)
                self.width_per_group.setValue(stage.width_per_group)
                self.inner_width.setText(_inner_width_text(stage))
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
                if not (self.name.hasFocus() and self.name.isModified()):  # keep what is being typed
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
            self._mark_invalid_fields()
        finally:
            self._updating = False

    def _fields_by_problem(self) -> dict[str, QWidget]:
        """The control for each field a problem can name (a stage's without its `stages[i].`)."""
        return {
            "name": self.name,
            "input.size": self.input_size,
            "input.channels": self.input_channels,
            "classes": self.classes,
            "stem.channels": self.stem_channels,
            "stem.kernel": self.stem_kernel,
            "stem.stride": self.stem_stride,
            "stem.maxpool": self.stem_maxpool,
            "head.dropout": self.dropout,
            "block": self.block,
            "count": self.count,
            "channels": self.channels,
            "stride": self.stride,
            "groups": self.groups,
            "width_per_group": self.width_per_group,
        }

    def _mark_invalid_fields(self) -> None:
        """Each control of the selected part that a problem names shows its value in red (the
        reason is the line below the fields)."""
        key = self.document.selection
        named = set()
        for problem in self.document.problems:
            field = problem.field
            if field.startswith("stages["):
                if key != Part.stage(int(field[7 : field.index("]")])):
                    continue
                field = field[field.index("]") + 2 :]
            named.add(field)
        for field, widget in self._fields_by_problem().items():
            invalid = field in named
            if widget.property("invalid") != invalid:
                widget.setProperty("invalid", invalid)
                widget.setStyleSheet(f"color: {ERROR_COLOUR};" if invalid else "")

    def focus_first_field(self) -> None:
        page = self.pages.currentWidget()
        if page is None:
            return
        for child in page.findChildren(QWidget):
            if child.focusPolicy() & Qt.FocusPolicy.TabFocus:
                child.setFocus()
                return
