"""The Train tab's experiments on residual learning: Plain vs residual (this network and its twin
without shortcuts) and, from the same button's menu, the degradation experiment of He et al.
figure 1 (this network and one three times as deep, each with its plain twin). Each asks the
controller for its runs and ends with a paragraph of what they show."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QLabel, QMenu, QSizePolicy, QToolButton

from resnet_studio.errors import UserError
from resnet_studio.training.compare import TwinResult, summarize, summarize_degradation
from resnet_studio.training.config import TrainConfig
from resnet_studio.ui.common.document import Document
from resnet_studio.ui.common.plain_text import plain, tooltip
from resnet_studio.ui.common.training_controller import TrainingController
from resnet_studio.ui.train.train_plots import TrainPlots

# Plain vs residual trains each twin for one epoch unless the user asks for Setup's length: on the
# demo data, measured on 2 CPU cores, ResNet-20 reached 57% after one epoch and its plain twin 31%
# (loss 1.20 against 1.80), about 80 s each; after three epochs both reach 99% and the lesson is gone.
COMPARE_EPOCHS = 1
# The degradation experiment trains four networks, the deep pair three times as deep: the same
# number of steps each, few enough that the four take minutes on a 2-core CPU, at a learning rate
# of at most DEGRADATION_LR. Measured on the demo data, 150 steps each (9 min for the four): at the
# quick recipe's 0.1 both 56-layer networks diverged in the first steps and ended at chance; at
# 0.03 ResNet-20 reached 26.1% (training loss 1.80), plain-20 20.5% (2.07), ResNet-56 26.9% (1.81)
# and plain-56 stayed at chance (2.30): He et al.'s figure 1 in miniature.
DEGRADATION_STEPS = 150
DEGRADATION_LR = 0.03
COMPARE_TIP = (
    "Train this network, then its twin without shortcuts, one epoch each with Setup's other "
    "settings (the arrow: Setup's full length instead, or the degradation experiment); their "
    "curves and gradient profiles are overlaid and a paragraph says what they show"
)


def _last(values: list[float], scale: float = 1.0) -> float | None:
    return values[-1] / scale if values else None


class Comparisons(QObject):
    def __init__(
        self,
        document: Document,
        controller: TrainingController,
        config: Callable[[], TrainConfig],
        plots: TrainPlots,
        say: Callable[[str], None],
    ) -> None:
        super().__init__(plots)
        self.document, self.controller, self.config, self.plots, self.say = (
            document,
            controller,
            config,
            plots,
            say,
        )
        self.button = QToolButton()
        self.button.setText("Plain vs residual")
        self.button.setObjectName("compareButton")
        self.button.setToolTip(COMPARE_TIP)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.button.clicked.connect(self.compare)
        menu = QMenu(self.button)
        group = QActionGroup(menu)
        self.short = menu.addAction(f"{COMPARE_EPOCHS} epoch each: the gap shows within minutes")
        self.full = menu.addAction("Setup's length (epochs, steps or budget)")
        for action in (self.short, self.full):
            action.setCheckable(True)
            group.addAction(action)
        self.short.setChecked(True)
        menu.addSeparator()
        self.degradation_action = menu.addAction(
            f"Degradation: this network and 3× as deep, each with its plain twin "
            f"({DEGRADATION_STEPS} steps each at a learning rate of at most {DEGRADATION_LR:g}, or "
            "Setup's length)"
        )
        self.degradation_action.setObjectName("degradationAction")
        self.degradation_action.triggered.connect(self.degradation)
        self.button.setMenu(menu)
        # What a finished comparison shows, in a paragraph (hidden until then).
        self.summary = QLabel()
        self.summary.setObjectName("compareSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setStyleSheet("QLabel { border: 1px solid palette(mid); padding: 6px; }")
        self.summary.hide()
        plain(self.summary)  # names the networks
        controller.compared.connect(self.show_summary)

    def set_enabled(self, enabled: bool, reason: str) -> None:
        self.button.setEnabled(enabled)
        self.button.setToolTip(tooltip(reason or COMPARE_TIP))

    def _settings(self, **short: object) -> TrainConfig | None:
        if self.controller.training or not self.document.valid:
            return None
        try:
            config = self.config()
        except UserError as exc:
            self.say(str(exc))
            return None
        self.summary.hide()
        config = dataclasses.replace(config, init=None)  # twins train from scratch: no weights fit a twin
        return dataclasses.replace(config, **short) if self.short.isChecked() else config  # type: ignore[arg-type]

    def compare(self) -> None:
        """One click: this network and its twin without shortcuts, with the same settings (one
        epoch each, unless the button's menu asks for Setup's length)."""
        config = self._settings(epochs=COMPARE_EPOCHS, steps=None, budget=None)
        if config is not None:
            self.controller.compare(self.document.spec, config)

    def degradation(self) -> None:
        """Four runs: this network, its plain twin, and both three times as deep."""
        config = self._settings(steps=DEGRADATION_STEPS, budget=None)
        if config is not None and self.short.isChecked():
            config = dataclasses.replace(config, lr=min(config.lr, DEGRADATION_LR))
        if config is not None:
            self.controller.degradation(self.document.spec, config)

    def show_summary(self, network: str, kind: str) -> None:
        """Every run of a comparison completed: what they show, in a paragraph."""
        if kind == "degradation":
            runs = self.plots.runs[-4:]
            results = [TwinResult(_last(r.val_acc, 100), _last(r.smooth), r.grads) for r in runs]
            names = [r.name for r in runs]
            self.summary.setText(summarize_degradation(names, results, self.document.spec.classes))
        elif len(self.plots.gradient_runs) == 2:
            residual, plain = self.plots.gradient_runs
            self.summary.setText(
                summarize(
                    network,
                    TwinResult(_last(residual.val_acc, 100), _last(residual.smooth), residual.grads),
                    TwinResult(_last(plain.val_acc, 100), _last(plain.smooth), plain.grads),
                )
            )
        else:
            return
        self.summary.show()
