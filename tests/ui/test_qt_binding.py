"""The Qt binding must not leak references to None (PySide6 6.12.0 did, and crashed the studio)."""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtGui import QFont, QPainterPath  # noqa: E402


def test_void_calls_keep_none_alive():
    font, path, point = QFont(), QPainterPath(), QPointF()
    before = sys.getrefcount(None)
    for _ in range(1000):
        font.setBold(True)
        path.lineTo(1, 1)
        point.setX(2)
    # Each leaky call would take one reference from None: 3,000 here. Allow for unrelated noise.
    assert sys.getrefcount(None) - before > -100
