"""The studio with broken run folders and absurd numbers: a project or a run whose settings Qt's
boxes cannot hold, or whose files cannot be read, is named with its reason; nothing raises in a
Qt slot, the Runs list keeps listing the good runs, and Resume says why it cannot resume."""

from __future__ import annotations

import json

import pytest

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.training import TrainConfig
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.workspaces import Workspace

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


def fake_run(folder, **config):
    """A run folder as the engine leaves it after one epoch (no training needed to list it)."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "architecture.json").write_text(json.dumps(TINY.to_dict()))
    (folder / "config.json").write_text(json.dumps({**TrainConfig(epochs=2).to_dict(), **config}))
    record = {"kind": "val", "epoch": 1, "step": 10, "loss": 1.0, "accuracy": 0.5, "lr": 0.1, "time": 3}
    (folder / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    (folder / "status.json").write_text(json.dumps({"status": "stopped", "epoch": 1, "step": 10}))
    (folder / "checkpoints" / "last.pt").write_bytes(b"not read before the config is")
    return folder


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow()
    w.document.replace(TINY, None)
    w.train_view.runs_root = tmp_path / "runs"
    w.show_workspace(Workspace.TRAIN)
    w.show()
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("seed", 10_000_000_000, "seed: must be an integer from 0 to 2,147,483,647, got 10000000000"),
        ("epochs", 3_000_000_000, "epochs: must be at most 1,000,000, got 3000000000"),
    ],
)
def test_a_project_with_numbers_beyond_qt_is_opened_with_a_message(field, value, expected, window, tmp_path):
    path = tmp_path / "big.rsproj"
    project = {
        "format": "resnet-studio.project",
        "version": 1,
        "architecture": TINY.to_dict(),
        "training": {**TrainConfig().to_dict(), field: value},
        "runs": [],
    }
    path.write_text(json.dumps(project))
    setup = window.train_view.setup
    before = getattr(setup, field).value()
    assert window.open_file(path)  # the network opens; the settings are refused by name
    assert f"{path}: training.{expected}" in window.last_error
    assert getattr(setup, field).value() == before and window.document.spec.name == "Tiny"


def test_the_runs_list_shows_a_broken_run_among_good_ones_and_resume_says_why(window, qtbot, tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs / "good-1")
    fake_run(runs / "good-2")
    broken = fake_run(runs / "broken")
    (broken / "config.json").write_text(
        (broken / "config.json").read_text().replace('"epochs": 2', '"epochs": Infinity')
    )
    view = window.train_view
    panel = view.runs_panel
    view.left.setCurrentWidget(panel)
    panel.refresh()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=10_000)
    states = {panel.table.item(row, 0).text().split("\n")[0]: row for row in range(3)}
    row = states["broken"]
    assert panel.table.item(row, 2).text() == "broken"
    assert "epochs: must be a positive integer, got inf" in panel.table.item(row, 0).text()
    assert {panel.table.item(states[name], 2).text() for name in ("good-1", "good-2")} == {"stopped"}
    panel.table.selectRow(row)
    panel.resume_button.click()
    message = view.message.text()
    assert "broken cannot be resumed" in message and "epochs: must be a positive integer" in message
    assert not view.training
