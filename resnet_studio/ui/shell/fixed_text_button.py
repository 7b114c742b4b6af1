"""The toolbar's Undo and Redo buttons."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton

from resnet_studio.ui.common.plain_text import tooltip


class FixedTextButton(QToolButton):
    """A toolbar button for an action whose text changes ("Undo Add bottleneck stage"): the button
    keeps its short label, so the toolbar never jumps; the action's full text is its tooltip."""

    def __init__(self, action: QAction, label: str) -> None:
        super().__init__()
        self.action_ = action
        self.setText(label)
        self.setObjectName(f"{label.lower()}Button")
        self.clicked.connect(action.trigger)
        action.changed.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        try:
            enabled, text, keys = self.action_.isEnabled(), self.action_.text(), self.action_.shortcut()
        except RuntimeError:  # the window is closing: its actions are already gone
            return
        self.setEnabled(enabled)
        keys_text = keys.toString(QKeySequence.SequenceFormat.NativeText)
        self.setToolTip(tooltip(f"{text.replace('&', '')} ({keys_text})"))  # "Undo Rename to NAME"
