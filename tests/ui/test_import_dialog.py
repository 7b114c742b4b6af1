"""File > Import torchvision weights…: a torchvision state dict on disk becomes a checkpoint, in
the background, and is offered to Classify, Inspect and Train's Start from. No network is used."""

import threading

import pytest
import torch
import torchvision
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMessageBox

from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.shell.import_dialog import ImportCancelled


@pytest.fixture
def resnet18_state(tmp_path):
    """A torchvision resnet18 with seeded random weights and BatchNorm statistics, as a state dict."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18-random.pth"
    torch.save(model.state_dict(), path)
    return path, model


def open_dialog(window, qtbot):
    action = window.findChild(QAction, "importWeights")
    assert action is not None and "Import torchvision" in action.text()
    action.trigger()
    dialog = window.import_dialog
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.catalogue is not None, timeout=60_000)  # torchvision's metadata
    return dialog


def test_a_state_dict_on_disk_is_imported_in_the_background_and_offered(
    window, qtbot, tmp_path, resnet18_state
):
    state_path, reference = resnet18_state
    dialog = open_dialog(window, qtbot)
    assert dialog.networks.topLevelItemCount() == 10
    first = dialog.networks.topLevelItem(0)
    assert (first.text(0), first.text(1), first.text(2)) == ("resnet18", "11.7 M", "69.8%")  # 11,689,512
    dialog.networks.setCurrentItem(first)
    assert dialog.network() == "resnet18"
    titles = [dialog.weights.itemText(i) for i in range(dialog.weights.count())]
    assert titles[0].startswith("IMAGENET1K_V1 (default) · top-1 69.8%")
    dialog.file_path.setFocus()
    qtbot.keyClicks(dialog.file_path, str(state_path))
    assert dialog.from_file.isChecked()  # typing a file chooses that source
    out = tmp_path / "out" / "r18.pt"
    dialog.out_path.clear()
    qtbot.keyClicks(dialog.out_path, str(out))

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    # The click returned before the work was done: it runs on another thread, the window lives.
    assert dialog.busy and not out.exists() and not dialog.import_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)
    timer.stop()
    assert ticks, "the UI thread's timer never ran while importing"
    assert dialog.last_error is None and dialog.last_checkpoint == str(out)

    state = load_checkpoint(out)
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    assert state["classes"] == list(weights.meta["categories"])
    assert state["preprocessing"]["crop"] == 224 and state["preprocessing"]["resize"] == 256
    loaded = model_from_checkpoint(str(out)).model.state_dict()  # equal outputs: the import's own tests
    assert torch.equal(loaded["stem.conv.weight"], reference.conv1.weight)
    assert torch.equal(loaded["stage4.block2.bn2.running_var"], reference.layer4[1].bn2.running_var)

    init = window.train_view.setup.init
    index = init.findData(str(out))
    assert index >= 0 and init.itemText(index) == "resnet18 IMAGENET1K_V1"
    assert init.value() is None  # offered, not chosen
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert window.model_source.checkpoint == str(out)
    assert window.tabs.currentWidget() is window.workspace_widget(Workspace.CLASSIFY)
    assert not dialog.isVisible()


def test_a_file_that_is_no_state_dict_is_named_and_nothing_is_written(window, qtbot, tmp_path):
    dialog = open_dialog(window, qtbot)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle")
    qtbot.keyClicks(dialog.file_path, str(junk))
    dialog.out_path.setText(str(tmp_path / "x.pt"))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert "junk.pth" in dialog.last_error and "not a readable state dict" in dialog.last_error
    assert not (tmp_path / "x.pt").exists() and dialog.import_button.isEnabled()


def test_an_existing_checkpoint_is_replaced_only_when_the_user_agrees(window, qtbot, tmp_path):
    dialog = open_dialog(window, qtbot)
    out = tmp_path / "mine.pt"
    out.write_bytes(b"a checkpoint the user trained for a week")
    dialog.file_path.setText(str(tmp_path / "whatever.pth"))
    dialog.from_file.setChecked(True)
    dialog.out_path.setText(str(out))

    def answer():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.objectName() == "replaceCheckpoint"
        box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(50, answer)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert not dialog.busy and "mine.pt is kept" in dialog.last_error
    assert out.read_bytes() == b"a checkpoint the user trained for a week"


def test_download_progress_reaches_the_bar_and_cancel_stops_the_download(window, qtbot):
    dialog = open_dialog(window, qtbot)
    dialog.busy = True  # as during an import: the callback is what the worker's download calls
    dialog.progress.setVisible(True)
    worker = threading.Thread(target=dialog.worker_progress, args=(25_000_000, 100_000_000))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: dialog.progress.value() == 250)
    assert dialog.progress.format() == "25.0 of 100.0 MB"
    dialog.reject()  # Cancel while busy: the dialog stays, the next block raises
    assert dialog.isVisible() and "Cancelling" in dialog.status.text()
    with pytest.raises(ImportCancelled):
        dialog.worker_progress(26_000_000, 100_000_000)
    dialog._failed(ImportCancelled("cancelled"))
    assert dialog.last_error == "Import cancelled" and not dialog.busy
