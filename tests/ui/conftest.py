"""The studio's window as most views' tests want it: shown, and closed without a prompt."""

import pytest
from PySide6.QtGui import QGuiApplication

from resnet_studio.ui import MainWindow


@pytest.fixture(autouse=True, scope="session")
def _empty_clipboard_at_the_end():
    """Whatever a test leaves on the clipboard is deleted by Qt's own exit code, after Python has
    finished: for data made in Python (a QMimeData) that is a segmentation fault once every test
    has passed. Emptied while Python still runs."""
    yield
    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    w.show()
    qtbot.waitExposed(w)
    yield w
    # Closed here, not by qtbot (whose teardown runs first): a clean state closes without a prompt.
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()
