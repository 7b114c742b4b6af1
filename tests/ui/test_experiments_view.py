"""Inspect's "Why residuals work" tab: the lesion study and block similarity of a trained network
and its plain twin, run off the UI thread, drawn, saved, and cancelled."""

import dataclasses
import json

import pytest
from PySide6.QtCore import Qt

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
from resnet_studio.fileio import NotARegularFile
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.inspect.landscape_figure import log_ticks

SMALL = ArchitectureSpec(
    name="Small",
    stem=StemSpec(8),
    stages=(StageSpec("basic", 2, 8, 1), StageSpec("basic", 2, 16, 2)),
    shortcut="zero-pad",
)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    root = tmp_path_factory.mktemp("twins")
    config = TrainConfig(epochs=2, batch_size=64, threads=2, limit_train=1024, limit_val=200)
    run_training(Trainer(SMALL, config, root / "residual"))
    plain = dataclasses.replace(SMALL, shortcut="none", name="Small (plain)")
    run_training(Trainer(plain, config, root / "plain"))
    return root


@pytest.fixture
def window(qtbot, twins):
    w = MainWindow()
    w.model_source.use_checkpoint(str(twins / "residual"))
    w.training.remember(twins / "plain")  # a run of this session, offered to draw beside
    w.show()
    w.show_workspace(Workspace.INSPECT)
    yield w
    w.document.undo_stack.setClean()
    w.close()
    w.deleteLater()


def test_lesion_study_of_a_network_and_its_plain_twin(window, qtbot, tmp_path):
    view = window.inspect_view.experiments
    window.inspect_view.tabs.setCurrentWidget(view)
    assert view.versus.itemText(1) == "plain"  # this session's runs are offered
    view.versus.setCurrentIndex(1)
    view.limit.setValue(100)
    qtbot.mouseClick(view.lesion_button, Qt.MouseButton.LeftButton)
    assert not view.lesion_button.isEnabled() and view.cancel_button.isEnabled()  # off the UI thread
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    networks = view.result["networks"]
    assert [n["name"] for n in networks] == ["Small", "Small (plain)"]
    assert [b["block"] for b in networks[0]["blocks"]] == ["stage1.block1", "stage1.block2", "stage2.block2"]
    assert view.figures.currentWidget() is view.lesion_plot
    assert "Look for" in view.note.text() and view.progress.text().startswith("Done")
    view.save(tmp_path / "lesion.json")
    view.save(tmp_path / "lesion.png")
    assert json.loads((tmp_path / "lesion.json").read_text())["kind"] == "lesion"
    assert (tmp_path / "lesion.png").read_bytes()[:4] == b"\x89PNG"
    # A link or a folder named as the output is refused and left as it is.
    target = tmp_path / "keep.json"
    target.write_text("mine")
    (tmp_path / "link.png").symlink_to(target)
    (tmp_path / "folder.json").mkdir()
    for bad in ("link.png", "folder.json"):
        with pytest.raises(NotARegularFile):
            view.save(tmp_path / bad)
    assert target.read_text() == "mine" and (tmp_path / "folder.json").is_dir()


def test_block_similarity_is_drawn_and_a_run_can_be_cancelled(window, qtbot):
    view = window.inspect_view.experiments
    window.inspect_view.tabs.setCurrentWidget(view)
    view.limit.setValue(100)
    qtbot.mouseClick(view.similarity_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    (network,) = view.result["networks"]
    assert network["rows"][0] == "stem" and len(network["cka"]) == 5
    assert all(abs(network["cka"][i][i] - 1) < 1e-6 for i in range(5))
    assert view.figures.currentWidget() is view.similarity_plot and "CKA" in view.note.text()
    view.result = None
    qtbot.mouseClick(view.lesion_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.lesion_button.isEnabled(), timeout=60_000)
    assert view.result is None and view.progress.text() == "Cancelled"


def test_loss_landscape_of_a_network_and_its_plain_twin(window, qtbot, tmp_path):
    view = window.inspect_view.experiments
    window.inspect_view.tabs.setCurrentWidget(view)
    view.versus.setCurrentIndex(1)
    view.limit.setValue(64)
    view.grid.setValue(5)
    qtbot.mouseClick(view.landscape_button, Qt.MouseButton.LeftButton)
    assert not view.landscape_button.isEnabled()  # off the UI thread
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    residual, plain = view.result["networks"]
    assert (residual["name"], plain["name"]) == ("Small", "Small (plain)")
    for network in (residual, plain):
        surface = network["surface"]["loss"]
        assert len(surface) == 5 and surface[2][2] == pytest.approx(network["origin_loss"], rel=1e-4)
        assert len(network["line"]["t"]) == 25  # both runs kept their initial weights
    assert view.figures.currentWidget() is view.landscape_plot and "Look for" in view.note.text()
    images = [item for item in view.landscape_plot.ci.items if hasattr(item, "items")]
    assert len(images) >= 3  # two maps and the path below them
    # The path's legend: one row at the top centre, clear of the ends where the curves climb.
    (path,) = [item for item in images if item.titleLabel.text.startswith("From the initial")]
    qtbot.waitUntil(lambda: path.vb.width() > 100)
    legend = path.legend
    assert [label.text for _, label in legend.items] == ["Small", "Small (plain)"] and legend.columnCount == 2
    centre = legend.sceneBoundingRect().center().x() - path.vb.sceneBoundingRect().center().x()
    assert abs(centre) < 0.1 * path.vb.width()
    # The log axis is labelled at 1-2-5 steps only (pyqtgraph labelled every minor tick, piled up).
    losses = [v for network in (residual, plain) for v in network["line"]["loss"] if v]
    (majors, minors) = path.getAxis("left")._tickLevels
    assert minors == [] and [label for _, label in majors] == [
        f"{v:g}" for v in log_ticks(min(losses), max(losses))
    ]
    view.save(tmp_path / "landscape.png")
    assert (tmp_path / "landscape.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [(0.4, 12, [0.5, 1, 2, 5, 10]), (0.434, 2.5, [0.5, 1, 2]), (2.1, 2.3, [2.1, 2.3]), (1, 1.5, [1, 1.5])],
)
def test_log_axis_ticks_are_1_2_5_or_the_ends(low, high, ticks):
    assert log_ticks(low, high) == pytest.approx(ticks)
