"""The window's layout at the sizes the README shows (1280x800) and the smallest it supports
(1024x640): text that fits its place, nothing drawn over something else."""

import pytest
from PySide6.QtWidgets import QApplication

from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.workspaces import Workspace


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def shown(window, size: tuple[int, int], workspace: Workspace) -> None:
    window.resize(*size)
    window.show_workspace(workspace)
    for _ in range(3):
        QApplication.processEvents()


def test_a_long_status_message_never_runs_into_the_network_figures(window):
    """An export's summary (two paths and a difference) at 1280 px: the permanent figures step
    aside while it shows, and come back after."""
    shown(window, (1280, 800), Workspace.BUILD)
    bar, figures = window.statusBar(), window.status_figures
    message = (
        "Exported /home/someone/ResNetStudio/runs/resnet-20-20261206-013000 as onnx: "
        "/home/someone/ResNetStudio/exports/resnet-20.onnx (max abs difference 1.3e-06 from the checkpoint)"
    )
    bar.showMessage(message)
    QApplication.processEvents()
    width = bar.fontMetrics().horizontalAdvance(message)
    assert not figures.isVisible() or 6 + width + 8 <= figures.x() + figures.contentsMargins().left()
    assert bar.toolTip() == message
    bar.showMessage("Saved x.rsproj")  # a short one leaves them in place, with a gap
    QApplication.processEvents()
    assert figures.isVisible()
    bar.clearMessage()
    QApplication.processEvents()
    assert figures.isVisible() and "269,722 parameters" in figures.text()
