"""Qt's own messages on stderr, less the one known harmless line.

Qt's offscreen and xcb platform plugins print "This plugin does not support propagateSizeHints()"
whenever a window's size hints change (every `--screenshot` does): it means nothing to a user and
nothing can be done about it. Every other message (warnings, criticals, fatals) is still printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

HARMLESS = ("This plugin does not support propagateSizeHints()",)


def _handler(kind: QtMsgType, context: Any, message: str) -> None:
    if message.strip() in HARMLESS:
        return
    category = getattr(context, "category", None)
    prefix = f"{category}: " if category and category != "default" else ""  # as Qt's own pattern
    sys.stderr.write(f"{prefix}{message}\n")
    sys.stderr.flush()


def drop_harmless_qt_messages() -> Callable[..., Any] | None:
    """Install the message handler: Qt's messages go to stderr as before, except `HARMLESS`.
    Returns the handler it replaced (None: Qt's default), for a caller that puts it back."""
    return qInstallMessageHandler(_handler)
