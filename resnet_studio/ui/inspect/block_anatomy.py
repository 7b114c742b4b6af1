"""Inspect > Image > Block anatomy: the chosen block opened up for the chosen image.

Every step of the image through the block (x, the convolutions, BatchNorms and ReLUs, F(x), the
shortcut, their sum, the output) is a tile of the channel clicked in the feature-map grid, with its
name, shape and norm; the ratio ||F(x)|| / ||shortcut(x)|| in words; and two switches that drop the
branch or the shortcut for this image only, with the prediction before and after.

The steps come from `inspection.anatomy.block_anatomy` on a worker thread, with the job's own copy
of the network (its hooks must not fire in another job). An answer for an image, block or model
that is no longer the one asked for is dropped. A click on another channel redraws the tiles from
the answer kept: no new pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.errors import error_text
from resnet_studio.ui.common.background import run_in_background
from resnet_studio.ui.common.feature_tiles import _LUT, normalise, to_pixmap
from resnet_studio.ui.common.plain_text import escaped, plain, rich

TILE = 64  # pixels of every stage's map on screen, whatever its size: steps compare side by side


@dataclass
class AnatomyAnswer:
    """What the view draws, as numpy: one image's pass through one block."""

    block: str
    kind: str  # "basic", "bottleneck" or "preact"
    shortcut: str  # "identity", "projection", "zero-pad" or "none"
    stages: list[tuple[str, np.ndarray, float]]  # name, float32 (C, H, W), norm
    ratio: float | None
    classes: list[str]
    probabilities: np.ndarray
    without_branch: np.ndarray | None
    without_shortcut: np.ndarray | None
    averaged_elsewhere: bool = False  # the caption's answer averages test-time views; this is one


def compute_anatomy(load: Callable, image: np.ndarray, block: str) -> AnatomyAnswer:
    """On a worker: the anatomy of `block` for the uint8 (C, H, W) `image` (`load` gives the job's
    own network)."""
    import torch

    from resnet_studio.data.transforms import normalize
    from resnet_studio.inspection.anatomy import block_anatomy
    from resnet_studio.inspection.classify import one_thread

    loaded = load()
    x = normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)
    with one_thread():  # one image: steady while a training run keeps the cores busy
        anatomy = block_anatomy(loaded.model, x, block)

    def numpy(p):
        return None if p is None else p.numpy()

    return AnatomyAnswer(
        block,
        anatomy.kind,
        anatomy.shortcut,
        [(s.name, s.tensor.numpy(), s.norm) for s in anatomy.stages],
        anatomy.ratio,
        list(loaded.classes),
        anatomy.probabilities.numpy(),
        numpy(anatomy.without_branch),
        numpy(anatomy.without_shortcut),
        loaded.tta,
    )


def ratio_in_words(ratio: float | None, shortcut: str) -> str:
    """||F(x)|| / ||shortcut(x)|| as a learner reads it."""
    if ratio is None:
        return "A plain block: there is no shortcut, so everything passes through the layers F(x)."
    carried = {
        "identity": "the input itself",
        "projection": "a 1x1 convolution (a projection) of the input",
    }.get(shortcut, "the input, subsampled and padded with zero channels")
    head = f"||F(x)|| / ||shortcut(x)|| = {ratio:.2f}. The shortcut carries {carried}; "
    if ratio < 0.5:
        return head + (
            f"the branch adds a correction about {ratio:.0%} its size: this block mostly passes its "
            "input on and nudges it."
        )
    if ratio <= 2:
        return head + "the branch and the shortcut are of similar size: both shape what comes out."
    return head + f"the branch is {ratio:.1f} times the shortcut: this block rewrites its input."


def top_class(probabilities: np.ndarray, classes: list[str]) -> str:
    best = int(np.argmax(probabilities))
    return f"{classes[best]} ({probabilities[best]:.1%})"


class BlockAnatomyView(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("blockAnatomy")
        self.answer: AnatomyAnswer | None = None
        self.channel = 0
        self.asked: tuple | None = None  # the (image id, block, model generation) last asked for
        self.busy = 0
        self.status = QLabel("Open an image, then choose a block: its steps show here.")
        self.status.setWordWrap(True)
        plain(self.status)
        self.tiles = QListWidget()
        self.tiles.setObjectName("anatomyStages")
        self.tiles.setViewMode(QListView.ViewMode.IconMode)
        self.tiles.setResizeMode(QListView.ResizeMode.Adjust)
        self.tiles.setMovement(QListView.Movement.Static)
        self.tiles.setWrapping(True)
        self.tiles.setWordWrap(True)
        self.tiles.setIconSize(QSize(TILE, TILE))
        lines = self.fontMetrics().height()
        self.tiles.setGridSize(QSize(TILE + 72, TILE + 3 * lines + 12))
        self.tiles.setSelectionMode(QListView.SelectionMode.NoSelection)
        self.tiles.setToolTip("Each step of the image through the block, in order: the chosen channel")
        self.ratio = QLabel()
        self.ratio.setObjectName("anatomyRatio")
        self.ratio.setWordWrap(True)
        plain(self.ratio)
        self.drop_branch = QCheckBox("Drop the branch F(x)")
        self.drop_branch.setToolTip("The block's output is its shortcut alone, for this image only")
        self.drop_shortcut = QCheckBox("Drop the shortcut")
        self.drop_shortcut.setToolTip("The block's output is F(x) alone, for this image only")
        for box, other in ((self.drop_branch, self.drop_shortcut), (self.drop_shortcut, self.drop_branch)):
            # One path at a time: dropping both leaves nothing to look at.
            box.toggled.connect(lambda on, other=other: on and other.setChecked(False))
            box.toggled.connect(lambda _: self._show_prediction())
        switches = QHBoxLayout()
        switches.addWidget(self.drop_branch)
        switches.addWidget(self.drop_shortcut)
        switches.addStretch(1)
        self.prediction = QLabel()
        self.prediction.setObjectName("anatomyPrediction")
        self.prediction.setWordWrap(True)
        rich(self.prediction)  # class names inside are escaped
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tiles, 1)
        layout.addWidget(self.ratio)
        layout.addLayout(switches)
        layout.addWidget(self.prediction)

    # -- asking -----------------------------------------------------------------------------------

    def request(self, load: Callable, image: np.ndarray, block: str, key: tuple) -> None:
        """Open `block` up for `image` (off the UI thread), unless that answer is here already.
        `key` names the image and the model: an answer for another key is dropped."""
        asked = (*key, block)
        if asked == self.asked:
            return
        self.asked = asked
        if block.startswith("stem"):  # the stem has no shortcut: nothing to open up
            self.answer = None
            self.tiles.clear()
            self.ratio.clear()
            self.prediction.clear()
            self.status.setText(f"{block} is the stem, not a residual block: choose a block (stageN.blockM).")
            return
        self.busy += 1
        self.status.setText(f"Opening {block} up…")

        def done(answer: AnatomyAnswer) -> None:
            self.busy = max(0, self.busy - 1)
            if asked != self.asked:  # another image, block or model was asked for meanwhile
                return
            self.answer = answer
            self._show()

        def failed(exc: Exception) -> None:
            self.busy = max(0, self.busy - 1)
            if asked == self.asked:
                self.answer = None
                self.tiles.clear()
                self.status.setText(f"Cannot open {block} up: {error_text(exc)}")

        run_in_background(lambda: compute_anatomy(load, image, block), self, done, failed)

    def forget(self) -> None:
        """Another model or image: the next request computes again."""
        self.asked = None

    def set_channel(self, channel: int) -> None:
        self.channel = channel
        if self.answer is not None:
            self._show_tiles()

    # -- drawing -----------------------------------------------------------------------------------

    def _show(self) -> None:
        answer = self.answer
        assert answer is not None
        kind = {"basic": "basic", "bottleneck": "bottleneck", "preact": "pre-activation"}[answer.kind]
        shortcut = {"none": "no shortcut", "identity": "an identity shortcut"}.get(
            answer.shortcut, f"a {answer.shortcut} shortcut"
        )
        self.status.setText(
            f"{answer.block}: a {kind} block with {shortcut}. Each step in order, left to right, "
            f"at channel {self.channel} (the one clicked in the grid), each on its own colour scale."
        )
        self._show_tiles()
        self.ratio.setText(ratio_in_words(answer.ratio, answer.shortcut))
        plain_block = answer.without_branch is None
        for box in (self.drop_branch, self.drop_shortcut):
            box.setEnabled(not plain_block)
            if plain_block:
                box.setChecked(False)
        self._show_prediction()

    def _show_tiles(self) -> None:
        answer = self.answer
        assert answer is not None
        self.tiles.clear()
        for number, (name, tensor, norm) in enumerate(answer.stages, 1):
            channels = tensor.shape[0]
            shown = self.channel if self.channel < channels else self.channel % channels
            data = tensor[shown]
            grey = normalise(data[None])[0]
            factor = max(1, -(-TILE // max(grey.shape)))  # whole pixels, then down to the tile
            pixmap = to_pixmap(_LUT[grey.repeat(factor, axis=0).repeat(factor, axis=1)]).scaled(
                TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            shape = "x".join(map(str, tensor.shape))
            which = "" if shown == self.channel else f"\nchannel {shown} of {channels}"
            item = QListWidgetItem(pixmap, f"{name}\n{shape}\nnorm {norm:.1f}{which}")
            item.setToolTip(
                f"step {number}, {name}: {shape} (channels x height x width); "
                f"norm of the whole tensor {norm:.3f}; "
                f"channel {shown} from {float(data.min()):.3f} to {float(data.max()):.3f}"
                + (
                    f". This step has {channels} channels, so channel {self.channel} is shown as "
                    f"{shown} ({self.channel} mod {channels})"
                    if shown != self.channel
                    else ""
                )
            )
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.tiles.addItem(item)

    def _show_prediction(self) -> None:
        answer = self.answer
        if answer is None:
            self.prediction.clear()
            return
        before = top_class(answer.probabilities, answer.classes)
        dropped, what = None, ""
        if self.drop_branch.isChecked():
            dropped, what = answer.without_branch, "without the branch F(x)"
        elif self.drop_shortcut.isChecked():
            dropped, what = answer.without_shortcut, "without the shortcut"
        # The caption above may differ a little: with test-time averaging it averages the mirror.
        one = " (one view, not averaged with the mirror)" if answer.averaged_elsewhere else ""
        text = f"Prediction of this pass{one}: <b>{escaped(before)}</b>"
        if dropped is not None:
            after = top_class(dropped, answer.classes)
            same = int(np.argmax(dropped)) == int(np.argmax(answer.probabilities))
            verdict = "the same class" if same else "a different class"
            text += f" &rarr; {what}: <b>{escaped(after)}</b>, {verdict}."
        elif answer.without_branch is not None:
            text += ". Tick a switch to drop one path for this image and see the prediction after."
        self.prediction.setText(text)
