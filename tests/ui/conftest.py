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


@pytest.fixture
def train_window(qtbot, tmp_path):
    """`train_window(spec, train=128, val=64, batch=32)`: the window on Train with `spec` on the
    canvas, runs written under `tmp_path`, the data cut to a few batches; any run stopped and the
    window closed after the test."""
    from resnet_studio.ui.common.workspaces import Workspace

    made = []

    def make(spec, train: int = 128, val: int = 64, batch: int = 32) -> MainWindow:
        w = MainWindow()
        w.document.replace(spec, None)
        view = w.train_view
        view.runs_root = tmp_path / "runs"
        view.setup.limit_train.setValue(train)
        view.setup.limit_val.setValue(val)
        view.setup.batch_size.setValue(batch)
        w.show_workspace(Workspace.TRAIN)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.train_view.stop_and_wait()
        w.document.undo_stack.setClean()  # closes without the unsaved-changes prompt
        w.close()
        w.deleteLater()


@pytest.fixture(scope="session")
def tiny_checkpoint():
    """`tiny_checkpoint(path, widths=(8, 16), seed=0)`: a two-stage network for the demo's classes
    at 32 px, seeded random weights with BatchNorms as a trained network has them (not the
    identity), saved as a checkpoint at `path` (normalisation 0.5 +- 0.25, data demo)."""
    import torch

    from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
    from resnet_studio.data import demo
    from resnet_studio.nn import build_model
    from resnet_studio.nn.checkpoint import save_checkpoint

    def make(path, widths=(8, 16), seed=0):
        spec = ArchitectureSpec(
            name="Tiny",
            input=InputSpec(3, 32),
            classes=len(demo.CLASSES),
            stem=StemSpec(channels=widths[0]),
            stages=(StageSpec("basic", 1, widths[0], 1), StageSpec("basic", 1, widths[1], 2)),
        )
        torch.manual_seed(seed)
        model = build_model(spec)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
        save_checkpoint(
            path,
            {
                "architecture": spec.to_dict(),
                "model": model.state_dict(),
                "classes": list(demo.CLASSES),
                "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
                "config": {"data": "demo"},
            },
        )
        return path

    return make
