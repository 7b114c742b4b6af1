"""The Train workspace with real training on a tiny network and a slice of the demo data."""

import pytest
from PySide6.QtCore import Qt

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.training import Finished
from resnet_studio.training.checkpoint import load_checkpoint
from resnet_studio.ui import MainWindow

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow()
    w.document.replace(TINY, None)
    view = w.train_view
    view.runs_root = tmp_path / "runs"
    view.limit_train.setValue(640)
    view.limit_val.setValue(128)
    view.batch_size.setValue(64)
    w.show()
    yield w
    view.stop_and_wait()
    w.document.undo_stack.setClean()  # closes without the unsaved-changes prompt
    w.close()
    w.deleteLater()


def test_train_button_trains_and_the_plots_receive_data(window, qtbot):
    view = window.train_view
    view.epochs.setValue(2)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    assert view.training and not view.train_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert isinstance(view.last_finished, Finished) and view.last_finished.status == "completed"
    view._redraw()
    x, y = view.runs[0].items["smooth"].getData()
    assert len(x) == 20 and y[-1] > 0  # 2 epochs of 10 steps, every step plotted
    assert list(view.runs[0].items["val_acc"].getData()[0]) == [1, 2]
    assert "Completed" in view.progress.format()
    # Gradient flow: one bar per block (stem, 1 block, head), all positive.
    heights = view.gradient_bars.opts["height"]
    assert len(heights) == 3 and all(h > 0 for h in heights)
    assert window.findChild(object, "gradientView") is view.gradient_view
    assert view.train_button.isEnabled() and not view.pause_button.isEnabled()


def test_pause_resume_and_stop_leave_a_resumable_checkpoint(window, qtbot):
    view = window.train_view
    view.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 2, timeout=120_000)
    view.pause_button.click()
    assert view.session.trainer.paused and view.pause_button.text() == "Resume"
    qtbot.wait(300)
    seen = len(view.runs[0].steps)
    qtbot.wait(600)
    assert len(view.runs[0].steps) <= seen + 1  # at most the step in flight when paused
    view.pause_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) > seen + 1, timeout=60_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.training, timeout=60_000)
    assert view.last_finished.status == "stopped"
    state = load_checkpoint(f"{view.last_run_dir}/checkpoints/last.pt")
    assert state["step"] == view.last_finished.step and state["batch_in_epoch"] > 0


def test_invalid_network_disables_training_with_the_reason(window):
    window.document.select(("stage", 0))
    window.inspector.block.setCurrentIndex(1)
    window.inspector.channels.setValue(30)
    button = window.train_view.train_button
    assert not button.isEnabled() and "multiple of 4" in button.toolTip()


def test_closing_mid_training_stops_cleanly(window, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    view = window.train_view
    view.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 1, timeout=120_000)
    thread = view.session.thread

    def answer():
        box = QApplication.activeModalWidget()
        assert box.objectName() == "stopTraining"
        box.button(box.StandardButton.Yes).click()

    QTimer.singleShot(50, answer)
    assert window.close()
    assert thread.isFinished()  # close() returned only after the training thread ended
    qtbot.waitUntil(lambda: view.last_finished is not None)  # its last event, delivered after
    assert view.last_finished.status == "stopped"
    assert (view.runs_root / view.last_run_dir.split("/")[-1] / "checkpoints" / "last.pt").is_file()
