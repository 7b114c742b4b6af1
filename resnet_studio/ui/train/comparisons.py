"""The Train tab's experiments on residual learning: Plain vs residual (this network and its twin
without shortcuts) and, from the same button's menu, the degradation experiment of He et al.
figure 1 (this network and one three times as deep, each with its plain twin). Each asks the
controller for its runs and ends with a paragraph of what they show: the verdict the session model
computed from the runs' records (`resnet_studio.session`), whatever the plots show meanwhile."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QLabel, QMenu, QSizePolicy, QToolButton

from resnet_studio.errors import UserError
from resnet_studio.session import Comparison
from resnet_studio.training.config import TrainConfig
from resnet_studio.ui.common.document import Document
from resnet_studio.ui.common.observing import observe
from resnet_studio.ui.common.plain_text import plain, tooltip
from resnet_studio.ui.common.training_controller import TrainingController

# Plain vs residual trains each twin for one epoch unless the user asks for Setup's length: on the
# demo data one epoch leaves ResNet-20 well ahead of its plain twin, and after three both pass 98%
# and the lesson is gone (the figures and times: README, The studio, Train's Plain vs residual).
COMPARE_EPOCHS = 1
# The degradation experiment trains four networks, the deep pair three times as deep: the same
# number of steps each, few enough that the four take minutes on a 2-core CPU, at a learning rate
# of at most DEGRADATION_LR: at the quick recipe's 0.1 both 56-layer networks diverged in their
# first steps and ended at chance; at 0.03 plain-56 stays at chance where the other three learn,
# He et al.'s figure 1 in miniature (measured figures: README, Why residuals work, the degradation
# picture's caption).
DEGRADATION_STEPS = 150
DEGRADATION_LR = 0.03
COMPARE_TIP = (
    "Train this network, then its twin without shortcuts, one epoch each with Setup's other "
    "settings (the arrow: Setup's full length instead, or the degradation experiment); their "
    "curves and gradient profiles are overlaid and a paragraph says what they show"
)


class Comparisons(QObject):
    def __init__(
        self,
        document: Document,
        controller: TrainingController,
        config: Callable[[], TrainConfig],
        parent: QObject,
        say: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self.document, self.controller, self.config, self.say = document, controller, config, say
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
        observe(self, controller.model.comparison_done, self.show_summary)

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

    def show_summary(self, comparison: Comparison) -> None:
        """Every run of a comparison completed: what they show, in a paragraph."""
        self.summary.setText(comparison.verdict or "")
        self.summary.show()
