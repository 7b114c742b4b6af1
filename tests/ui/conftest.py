"""The studio's window as most views' tests want it: shown, and closed without a prompt."""

import pytest

from resnet_studio.ui import MainWindow


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
