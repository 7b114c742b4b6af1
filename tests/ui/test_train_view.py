"""The Train workspace with real training on a tiny network and a slice of the demo data."""

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
from resnet_studio.nn.checkpoint import load_checkpoint
from resnet_studio.training import Finished
from resnet_studio.ui import MainWindow
from resnet_studio.ui.common.document import Part
from resnet_studio.ui.common.workspaces import Workspace
from resnet_studio.ui.train import comparisons
from resnet_studio.ui.train.train_view import HINT

TINY = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))


@pytest.fixture
def window(train_window):
    return train_window(TINY, train=640, val=128, batch=64)


def test_train_button_trains_and_the_plots_receive_data(window, qtbot, tmp_path):
    view = window.train_view
    view.setup.epochs.setValue(2)
    # The samples load off the UI thread; the first is pinned once they are in (as a user sees it).
    qtbot.waitUntil(lambda: view.pinned is not None, timeout=30_000)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    assert view.training and not view.train_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert (
        isinstance(view.controller.last_finished, Finished)
        and view.controller.last_finished.status == "completed"
    )
    view.redraw_all()
    x, y = view.runs[0].items["smooth"].getData()
    assert len(x) == 20 and y[-1] > 0  # 2 epochs of 10 steps, every step plotted
    assert list(view.runs[0].items["val_acc"].getData()[0]) == [10, 20]  # at the end of each epoch
    assert "Completed" in view.progress.format()
    # Gradient flow: one bar per block (stem, 1 block, head), all positive; no note over them.
    assert not view.plots.gradient_note.isVisible()
    heights = view.plots.gradient_bars[0].opts["height"]
    assert len(heights) == 3 and all(h > 0 for h in heights)
    assert not view.plots.fixed_label.isVisible()  # a convolutional stem trains
    assert window.findChild(object, "gradientView") is view.gradient_view
    assert view.train_button.isEnabled() and not view.pause_button.isEnabled()
    # Live activations of the pinned sample (the first one, pinned by default): stem and block.
    activations = window.findChild(object, "activationView")
    assert activations is view.activation_view and activations.shown_step == 20
    assert [name.text() for name in activations.findChildren(QLabel, "blockName")] == ["stem", "s1 b1"]
    pixmap = activations.findChildren(QLabel, "blockMaps")[1].pixmap()
    assert pixmap.width() > 4 * pixmap.height() > 0  # a strip of feature maps
    assert "after step 20" in activations.caption.text() and "network says" in activations.caption.text()
    # Hover read-out: the value of each curve at the step under the mouse.
    text = view.plots.readouts[0].show_at(10.2)
    assert "run 1 train" in text and "(step 10)" in text
    # Block contributions: the one residual block, measured from the untrained network to the end,
    # on the probe batch and on the pinned sample; the strip draws them.
    strip = window.findChild(object, "contributionView")
    assert strip is view.plots.contribution_view and strip.blocks == ("stage1.block1",)
    assert strip.steps[0] == 0 and strip.steps[-1] == 20 and len(strip.steps) >= 2
    assert strip.values().shape == (1, len(strip.steps)) and np.isfinite(strip.values()).all()
    assert strip.image.image.shape == (1, len(strip.steps)) and not strip.empty.isVisible()
    probe = strip.values()
    strip.source.setCurrentIndex(1)  # the pinned image's ratios, redrawn at once
    pinned = strip.values()
    assert np.isfinite(pinned).all() and not np.array_equal(pinned, probe)
    assert np.array_equal(strip.image.image, pinned)
    # Saved as numbers (every measurement, both sources) and as a picture; never through a link.
    strip.save(tmp_path / "contributions.csv")
    rows = (tmp_path / "contributions.csv").read_text().splitlines()
    assert rows[0] == "step,measured_on,stage1.block1" and rows[1].startswith("0,probe,")
    assert len(rows) == 1 + 2 * len(strip.steps) and rows[-1].startswith("20,pinned,")
    # The live embedding: the last epoch's PCA of the validation images (all 128: fewer than 500).
    live = window.findChild(object, "liveEmbedding")
    assert live is view.plots.embedding_view
    qtbot.waitUntil(lambda: live.frame is not None and live.frame.epoch == 2 and not live.busy, timeout=30000)
    live.redraw()
    assert live.cloud.points.shape == (128, 2) and np.isfinite(live.cloud.points).all()
    assert "Epoch 2: PCA of the same 128 validation images" in live.note.text() and live.frames >= 1
    assert live.share > 0 and not live.empty.isVisible()
    strip.save(tmp_path / "contributions.png")
    assert (tmp_path / "contributions.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(OSError, match="not a regular file"):
        strip.save(tmp_path / "link.csv")
    assert not (tmp_path / "elsewhere.csv").exists()


def test_pause_continue_and_stop_leave_a_resumable_checkpoint(window, qtbot):
    view = window.train_view
    view.setup.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 2, timeout=120_000)
    view.pause_button.click()
    assert view.controller.session.trainer.paused and view.pause_button.text() == "Continue"
    qtbot.wait(300)
    seen = len(view.runs[0].steps)
    qtbot.wait(600)
    assert len(view.runs[0].steps) <= seen + 1  # at most the step in flight when paused
    view.pause_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) > seen + 1, timeout=60_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.training, timeout=60_000)
    assert view.controller.last_finished.status == "stopped"
    state = load_checkpoint(f"{view.controller.last_run_dir}/checkpoints/last.pt")
    assert state["step"] == view.controller.last_finished.step  # 10 steps an epoch: where it resumes
    assert state["epoch"] * 10 + state["batch_in_epoch"] == state["step"]


def test_invalid_network_disables_training_with_the_reason(window):
    window.document.select(Part.stage(0))
    window.inspector.block.setCurrentIndex(1)
    window.inspector.channels.setValue(30)
    button = window.train_view.train_button
    assert not button.isEnabled() and "multiple of 4" in button.toolTip()


def test_closing_mid_training_stops_cleanly(window, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    view = window.train_view
    view.setup.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 1, timeout=120_000)
    thread = view.controller.session.worker_thread

    def answer():
        box = QApplication.activeModalWidget()
        assert box.objectName() == "stopTraining"
        box.button(box.StandardButton.Yes).click()

    QTimer.singleShot(50, answer)
    assert window.close()
    assert thread.isFinished()  # close() returned only after the training thread ended
    qtbot.waitUntil(lambda: view.controller.last_finished is not None)  # its last event, delivered after
    assert view.controller.last_finished.status == "stopped"
    assert (
        view.runs_root / view.controller.last_run_dir.split("/")[-1] / "checkpoints" / "last.pt"
    ).is_file()


def test_pinning_a_sample_or_a_dropped_image(window, qtbot, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    view = window.train_view
    qtbot.waitUntil(lambda: view.setup.sample_list.count() == 12, timeout=30_000)
    assert view.pinned is not None and "sample 1" in view.pinned[1]  # pinned by default
    samples = view.setup.sample_list
    rect = samples.visualItemRect(samples.item(3))
    qtbot.mouseClick(samples.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "sample 4" in view.pinned[1] and "sample 4" in view.activation_view.caption.text()

    path = tmp_path / "red.png"
    Image.new("RGB", (50, 40), (250, 10, 10)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    target = view.activation_view
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target.dropEvent(drop)
    qtbot.waitUntil(lambda: view.pinned[1] == "red.png", timeout=10_000)
    image = view.pinned[0]
    assert image.shape == (3, 32, 32) and image[0].min() > 200 and image[1].max() < 40


def test_schedule_preview_follows_the_settings(window):
    setup = window.train_view.setup
    setup.schedule.setCurrentText("step")
    setup.lr.setValue(0.2)
    _, ys = setup.schedule_plot.curve.getData()
    assert max(ys) == pytest.approx(0.2) and min(ys) == pytest.approx(0.002)
    setup.schedule.setCurrentText("constant")
    _, ys = setup.schedule_plot.curve.getData()
    assert set(ys) == {0.2}


def test_plain_vs_residual_trains_both_twins_and_overlays_their_gradients(window, qtbot):

    view = window.train_view
    view.setup.epochs.setValue(2)  # the comparison trains one epoch each unless asked otherwise
    labels = [w.findChild(object, "modelSource") for w in (window.classify_view, window.inspect_view)]
    assert all("shipped" in label.text() for label in labels)  # before any run of the user's
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    # While a run trains, Classify and Inspect name its network and say its weights answer.
    assert all("Model: Tiny, latest weights of the run training now" in label.text() for label in labels)
    qtbot.waitUntil(
        lambda: len(view.runs) == 2 and not view.training and not view.controller.queue, timeout=180_000
    )
    assert [run.name for run in view.runs] == ["residual", "plain"]
    # ...and afterwards the network that answers is the plain twin, trained last: they say so. Its
    # session is released (a trainer holds a model and a data set): its checkpoint answers.
    after = "Model: Tiny (plain), best checkpoint of run"
    assert all(label.text().startswith(after) for label in labels)
    assert view.controller.session is None and view.controller.trainer is None
    first = window.model_source.load()
    assert window.model_source.load() is first  # cached...
    best = Path(view.controller.last_run_dir) / "checkpoints" / "best.pt"
    replacement = best.with_name("new.pt")
    replacement.write_bytes(best.read_bytes())
    os.utime(replacement, (best.stat().st_mtime + 5,) * 2)
    os.replace(replacement, best)  # as the engine writes a better epoch's weights
    assert window.model_source.load() is not first  # ...until best.pt is replaced
    # The comparison ends with a paragraph of what it shows, with both runs' figures.
    summary = window.findChild(object, "compareSummary")
    residual_acc, plain_acc = view.runs[0].val_acc[-1], view.runs[1].val_acc[-1]
    assert summary.isVisible() and "residual Tiny reached" in summary.text()
    assert f"{residual_acc:.1f}%" in summary.text() and f"{plain_acc:.1f}%" in summary.text()
    assert all(run.val_acc for run in view.runs)
    folders = sorted((view.runs_root).iterdir())
    shortcuts = sorted(json.loads((f / "architecture.json").read_text())["shortcut"] for f in folders)
    assert shortcuts == ["none", "projection"]
    assert [json.loads((f / "config.json").read_text())["epochs"] for f in folders] == [1, 1]
    view.redraw_all()
    bars = [b for b in view.plots.gradient_bars if b.isVisible()]
    assert len(bars) == 2 and all(len(b.opts["height"]) == 3 for b in bars)
    legend = window.findChild(object, "plotLegend").text()
    assert "residual" in legend and "plain" in legend and view.runs[1].colour in legend


def test_runs_list_shows_a_stopped_run_and_resumes_it(window, qtbot):
    view = window.train_view
    view.setup.epochs.setValue(2)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 3, timeout=120_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.training, timeout=60_000)
    stopped_at = view.controller.last_finished.step
    view.left.setCurrentWidget(view.runs_panel)
    panel = view.runs_panel
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=10_000)
    assert panel.table.item(0, 2).text() == "stopped" and "\nTiny · " in panel.table.item(0, 0).text()
    panel.table.selectRow(0)
    assert panel.resume_button.isEnabled()
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            view.controller.last_finished is not None and view.controller.last_finished.status == "completed"
        ),
        timeout=120_000,
    )
    resumed = view.runs[-1]
    assert resumed.name == panel.summaries[0].path.name
    assert resumed.steps[:stopped_at] == list(range(1, stopped_at + 1))  # the history, then the rest
    assert resumed.steps[-1] == 20 and len(resumed.steps) == 20
    qtbot.waitUntil(lambda: panel.table.item(0, 2).text() == "completed", timeout=10_000)
    assert "Tiny · 2/2 epochs" in panel.table.item(0, 0).text()
    assert panel.table.item(0, 1).text().endswith("%")


def test_open_run_folder_follows_metrics_written_by_another_process(window, qtbot, tmp_path):

    run = tmp_path / "elsewhere"
    run.mkdir()
    (run / "architecture.json").write_text(json.dumps(TINY.to_dict()))
    (run / "config.json").write_text(json.dumps({"epochs": 3}))
    metrics = run / "metrics.jsonl"

    def write(*records):
        with open(metrics, "a") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")

    line = dict(kind="train", epoch=1, loss=2.0, accuracy=0.1, lr=0.1, images_per_s=500.0, time=1.0)
    write(*({**line, "step": s} for s in range(1, 6)))
    assert window.open_file(run)
    assert window.tabs.currentWidget() is window.train_view and window.document.spec.name == "Tiny"
    view = window.train_view
    qtbot.waitUntil(lambda: len(view.runs) == 1 and len(view.runs[0].steps) == 5, timeout=30_000)
    write({**line, "step": 6}, {**line, "kind": "val", "step": 6, "accuracy": 0.42})
    with open(metrics, "a") as handle:
        handle.write('{"kind": "train", "ste')  # a line still being written is not read yet
    qtbot.waitUntil(lambda: len(view.runs[0].val_acc) == 1, timeout=10_000)
    assert view.runs[0].steps == [1, 2, 3, 4, 5, 6] and view.runs[0].val_acc == [42.0]
    assert "epoch 1/3" in view.progress.format() and "best 42.0%" in view.progress.format()
    view.redraw_all()  # no gradient norms in a run from another process: the plot says why
    assert view.plots.gradient_note.isVisible()
    assert "runs from the command line" in view.plots.gradient_note.toPlainText()
    assert not window.open_file(tmp_path)  # not a run folder: a message, nothing else
    assert "not a run folder" in window.last_error


def _studio_run(folder: Path, epochs: int, resumed_to: int) -> Path:
    """A run trained as the studio trains (gradient norms on), then resumed for more epochs."""
    from resnet_studio.runs.rundir import RunDirectory
    from resnet_studio.training import TrainConfig, Trainer, run_training
    from resnet_studio.training.config import resumed_config

    run = folder / "resumed-run"
    config = TrainConfig(
        epochs=epochs, batch_size=32, limit_train=64, limit_val=32, threads=2, grad_norms=True
    )
    assert run_training(Trainer(TINY, config, run)).status == "completed"
    more = resumed_config(RunDirectory(run).read_config(), epochs=resumed_to)
    assert run_training(Trainer(None, more, resume=run)).status == "completed"
    return run


def test_a_resumed_studio_run_opened_later_shows_its_length_every_plot_and_its_gradients(qapp, tmp_path):
    """#27: `--screenshot --workspace train open RUN` of a run trained 1 epoch, then resumed to 2,
    read "epoch 2/1", and its gradient flow said runs from the command line have none."""
    from resnet_studio.cli import main

    run = _studio_run(tmp_path, 1, 2)
    shot = tmp_path / "train.png"
    assert (
        main(["--screenshot", str(shot), "--size", "1280x800", "--workspace", "train", "open", str(run)]) == 0
    )
    window = next(
        w
        for w in qapp.topLevelWidgets()
        if isinstance(w, MainWindow) and run.resolve() in w.train_view.followed
    )
    view = window.train_view
    curves = view.followed[run.resolve()]
    assert "resumed-run (completed): epoch 2/2" in view.progress.format()
    # Every plot drawn in the picture, not only the one the redraw timer reached first.
    assert len(curves.items["smooth"].getData()[0]) == 4 and len(curves.items["acc"].getData()[0]) == 4
    assert list(curves.items["val_acc"].getData()[0]) == [2, 4]
    assert len(curves.items["lr"].getData()[0]) == 4 and len(curves.items["speed"].getData()[0]) == 4
    # Its gradient flow: the norms saved with the run, one bar per part (stem, block, head).
    assert len(curves.grads) == 3 and all(g > 0 for g in curves.grads)
    assert not view.plots.gradient_note.isVisible()
    bars = view.plots.gradient_bars[0]
    assert bars.isVisible() and list(bars.opts["height"]) == pytest.approx(list(curves.grads))
    window.deleteLater()


def test_cifar_without_its_files_says_where_to_put_them(window, qtbot, tmp_path):
    setup = window.train_view.setup
    assert not setup.download_button.isEnabled()  # demo needs no download
    setup.data_path.setText(str(tmp_path / "empty"))
    setup.data_kind.setCurrentText("cifar10")
    assert setup.download_button.isEnabled() and setup.download.isEnabled()
    qtbot.waitUntil(lambda: setup.sample_error != "", timeout=30_000)
    assert "CIFAR-10 not found" in setup.sample_error and "--download" in setup.sample_error
    assert "No preview" in setup.sample_note.text()


def test_closing_right_after_a_stop_asks_nothing(window, qtbot):
    view = window.train_view
    view.setup.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 1, timeout=120_000)
    assert view.stop_and_wait()  # the thread has ended; its last events are still queued
    assert window.train_view.confirm_close()  # no prompt: nothing is training any more


def test_recipes_come_from_the_engine_and_fill_the_setup(window, qtbot):
    from resnet_studio.training.recipes import RECIPES

    setup = window.train_view.setup
    recipe = window.findChild(object, "recipe")
    assert recipe is setup.recipe
    assert [recipe.itemData(i) for i in range(recipe.count())] == list(RECIPES)
    recipe.setFocus()
    for _ in range(recipe.count()):  # as a user steps through the box, at most once round
        if recipe.currentData() == "article":
            break
        qtbot.keyClick(recipe, Qt.Key.Key_Down)
    config = setup.config()
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 1e-3, 64, 100)
    assert config.augment is False and config.val_fraction == 0.2 and config.budget is None
    for _ in range(recipe.count()):
        if recipe.currentData() == "cifar-10min":
            break
        qtbot.keyClick(recipe, Qt.Key.Key_Down)
    config = setup.config()
    assert config.budget == pytest.approx(RECIPES["cifar-10min"].settings["budget"], abs=3)
    assert setup.budget.text().endswith("min")
    # Values without a widget of their own travel with the recipe.
    assert (config.crop_padding, config.warmup_fraction, config.batch_size) == (2, 0.2, 128)
    assert (config.tta, config.tta_shift, config.crop_fill) == (True, 1, "reflect")
    assert setup.tta.text() == "Mirror and 1-px shifts"  # the extra is said in the box


def test_the_studio_trains_with_every_core_by_default(window):

    assert window.train_view.setup.config().threads == os.cpu_count()
    window.train_view.setup.threads.setValue(1)
    assert window.train_view.setup.config().threads == 1


def test_a_budget_in_setup_sets_the_run_length_and_the_progress_follows(window, qtbot):
    view = window.train_view
    view.setup.limit_train.setValue(3000)
    view.setup.epochs.setValue(1)
    budget = window.findChild(object, "budget")
    assert budget is view.setup.budget
    budget.setValue(0.1)  # 6 seconds
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    finished = view.controller.last_finished
    assert finished.status == "completed" and "within the budget" in finished.message
    assert view.progress.maximum() == finished.step  # the bar followed the planned total


def test_accuracy_is_plotted_per_step_from_the_first_steps(window, qtbot):
    """Train accuracy appears with the first logged steps, like the loss, long before the first
    epoch's evaluation."""
    view = window.train_view
    view.setup.limit_train.setValue(6400)  # 100 steps to the first evaluation
    view.setup.epochs.setValue(1)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(view.runs) and len(view.runs[0].steps) >= 3, timeout=120_000)
    view.pause_button.click()
    view.redraw_all()
    run = view.runs[0]
    x, y = run.items["acc_smooth"].getData()
    assert len(x) >= 3 and list(x[:3]) == [1, 2, 3] and all(0 <= v <= 100 for v in y)
    assert len(run.items["acc"].getData()[0]) == len(x)
    assert run.val_acc == []  # no evaluation yet: the per-step curve is all there is
    assert view.plots.accuracy_plot.getAxis("bottom").labelText == "step"
    assert "(step 2)" in view.plots.readouts[1].show_at(2.1)
    view.stop_and_wait()


def test_resume_of_a_run_another_process_trains_follows_it_instead(window, qtbot, tmp_path):
    import subprocess
    import sys

    run = tmp_path / "elsewhere"
    run.mkdir()
    (run / "architecture.json").write_text(json.dumps(TINY.to_dict()))
    (run / "config.json").write_text(json.dumps({"epochs": 3}))
    (run / "metrics.jsonl").write_text(
        json.dumps(
            {
                "kind": "train",
                "epoch": 1,
                "step": 1,
                "loss": 2.0,
                "accuracy": 0.1,
                "lr": 0.1,
                "images_per_s": 1.0,
                "time": 1.0,
            }
        )
        + "\n"
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from resnet_studio.runs.rundir import RunDirectory as R; "
            f"R({str(run)!r}).lock(); print('locked', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        view = window.train_view
        view.resume_run(str(run))
        assert not view.training  # nothing started: the other process owns the run
        assert f"process {holder.pid}" in view.message.text() and "following it" in view.message.text()
        qtbot.waitUntil(lambda: len(view.runs) == 1 and view.runs[0].steps == [1], timeout=10_000)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_first_visit_to_train_in_a_real_window_puts_the_plots_first(qtbot, size):
    """The path a real window takes: shown on Build, then the Train tab clicked."""
    w = MainWindow()
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.show_workspace(Workspace.TRAIN)
    qtbot.wait(50)
    view = w.train_view
    plots, activations = view.plots.width(), view.activation_view.width()
    assert activations <= max(240, view.splitter.width() // 3) + 10 and plots > 1.5 * activations
    assert view.plots.loss_plot.width() >= (280 if size[0] >= 1280 else 180)  # the two plot columns
    assert 300 <= view.left.width() <= 360
    setup = view.setup
    assert setup.widget().width() <= setup.viewport().width()  # Setup is not cut at its right edge
    w.close()
    w.deleteLater()


def test_plain_vs_residual_can_take_setups_full_length(window, qtbot):
    view = window.train_view
    view.setup.epochs.setValue(3)
    assert view.compare_short.isChecked()  # the default: one epoch each
    view.compare_full.trigger()
    assert view.compare_full.isChecked() and not view.compare_short.isChecked()
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    config = Path(view.controller.last_run_dir) / "config.json"
    qtbot.waitUntil(config.is_file, timeout=60_000)
    assert json.loads(config.read_text())["epochs"] == 3
    assert view.stop_and_wait()


def test_degradation_trains_two_depths_with_their_plain_twins_and_says_what_they_show(
    window, qtbot, monkeypatch
):
    # 40 steps a run instead of the experiment's 150: what is checked here is the four runs, their
    # networks and settings and the summary; what 150 steps show is README's figure.
    monkeypatch.setattr(comparisons, "DEGRADATION_STEPS", 40)
    view = window.train_view
    window.document.replace(dataclasses.replace(TINY, name="Tiny-4"), None)  # 4 layers: 1 block of 2
    menu = view.compare_button.menu()
    action = next(a for a in menu.actions() if a.objectName() == "degradationAction")
    assert "3× as deep" in action.text()
    action.trigger()  # the menu's entry, as a click on it does
    qtbot.waitUntil(
        lambda: len(view.runs) == 4 and not view.training and not view.controller.queue, timeout=300_000
    )
    assert [run.name for run in view.runs] == ["Tiny-4", "Tiny-4 (plain)", "Tiny-8", "Tiny-8 (plain)"]
    folders = sorted(view.runs_root.iterdir(), key=lambda f: f.stat().st_mtime)
    specs = [json.loads((f / "architecture.json").read_text()) for f in folders]
    assert [s["stages"][0]["count"] for s in specs] == [1, 1, 3, 3]  # three times as deep
    assert [s["shortcut"] for s in specs] == ["projection", "none", "projection", "none"]
    configs = [json.loads((f / "config.json").read_text()) for f in folders]
    assert [(c["steps"], c["lr"]) for c in configs] == [(40, 0.03)] * 4  # Setup's 0.1, capped
    summary = window.findChild(object, "compareSummary")
    assert summary.isVisible() and "same data, settings and number of steps" in summary.text()
    assert all(f"{name} training loss" in summary.text() for name in ("Tiny-4", "Tiny-8 (plain)"))
    view.redraw_all()
    bars = [b for b in view.plots.gradient_bars if b.isVisible()]
    assert len(bars) == 2 and all(len(b.opts["height"]) == 5 for b in bars)  # the deep pair: 3 blocks


def test_the_plot_legend_shows_a_network_name_as_text_and_wraps_between_runs(window):
    plots = window.train_view.plots
    legend = window.findChild(object, "plotLegend")
    assert not legend.isVisible()  # no runs yet: no empty band above the plots
    assert window.train_view.message.text() == HINT  # ...but what the buttons do, until a run
    plots.add_run("<b>Net</b> two")  # a network's name is the user's text
    assert legend.isVisible()
    assert "&lt;b&gt;Net&lt;/b&gt;&nbsp;two" in legend.text() and "<b>Net" not in legend.text()
    assert legend.wordWrap()  # four runs and the key take two lines at 1280 px, never cut off


def test_a_folder_with_three_classes_trains_a_three_class_network(window, qtbot, tmp_path):
    """The canvas's network says 10 classes; the data has 3: the run's output layer follows the
    data, the message says so, and its checkpoint has 3 outputs."""
    from PIL import Image

    for split, count in (("train", 8), ("val", 2)):
        for c, colour in enumerate([(230, 30, 30), (30, 200, 40), (40, 60, 230)]):
            folder = tmp_path / "photos" / split / f"kind{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (16, 16), colour).save(folder / f"{i}.png")
    view = window.train_view
    view.setup.data_kind.setCurrentText("folder")
    view.setup.data_path.setText(str(tmp_path / "photos"))
    view.setup.epochs.setValue(1)
    view.setup.batch_size.setValue(8)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert view.controller.last_finished.status == "completed", view.message.text()
    note = "output layer: 3 classes, as in the data (the architecture said 10)"
    assert note in view.message.text() and note in view.message.toolTip()
    (run,) = (tmp_path / "runs").iterdir()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["model"]["head.fc.weight"].shape[0] == 3


def test_start_from_shipped_weights_takes_their_network_and_fine_tunes(window, qtbot):
    """Setup's "Start from": the shipped CIFAR-10 weights put ResNet-20 on the canvas (one undoable
    edit), and the run starts from them; the demo shapes are other classes, so a new output layer."""
    from resnet_studio.nn.shipped import shipped_weights

    view, document = window.train_view, window.document
    choice = window.findChild(object, "initWeights")
    assert choice is view.setup.init and choice.currentText() == "Random weights"
    assert view.setup.config().init is None
    names = [choice.itemText(i) for i in range(choice.count())]
    assert names[0] == "Random weights" and names[-1] == "Checkpoint…"
    assert "resnet20-cifar10 (shipped)" in names
    index = names.index("resnet20-cifar10 (shipped)")
    choice.setCurrentIndex(index)
    choice.activated.emit(index)  # what a click on the item sends
    qtbot.waitUntil(lambda: document.spec.name == "ResNet-20", timeout=10_000)
    assert document.undo_stack.undoText() == "Use the network of resnet20-cifar10"
    assert "The canvas now shows ResNet-20" in view.message.text()
    assert view.setup.config().init == "resnet20-cifar10"

    view.setup.epochs.setValue(1)
    view.setup.limit_train.setValue(128)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert view.controller.last_finished.status == "completed", view.message.text()
    assert "a new output layer for the data's 10 classes" in view.message.toolTip()
    (run,) = (view.runs_root).iterdir()
    start = load_checkpoint(run / "checkpoints" / "init.pt")["model"]
    shipped = load_checkpoint(shipped_weights()["resnet20-cifar10"].path)["model"]
    convs = [k for k in shipped if k.endswith("conv1.weight")]
    assert convs and all(np.array_equal(start[k].numpy(), shipped[k].numpy()) for k in convs)
    assert not np.array_equal(start["head.fc.weight"].numpy(), shipped["head.fc.weight"].numpy())

    document.undo_stack.undo()  # the user's own network comes back
    assert document.spec == TINY
    view.setup.init.set_value("/somewhere/last.pt")  # as a saved project gives it
    assert choice.currentText() == "last.pt" and view.setup.config().init == "/somewhere/last.pt"
    assert choice.itemText(choice.count() - 1) == "Checkpoint…"


def test_a_whitening_stem_is_marked_fixed_in_the_gradient_view(window, qtbot):
    """Its filters do not train: no bar, and the view says "fixed" rather than drawing a gradient
    that looks like it vanished."""
    view = window.train_view
    whiten = StemSpec(channels=24, kernel=2, kind="whiten")
    window.document.replace(dataclasses.replace(TINY, stem=whiten), None)
    view.setup.epochs.setValue(1)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    assert view.controller.last_finished.status == "completed", view.message.text()
    view.redraw_all()
    heights = view.plots.gradient_bars[0].opts["height"]
    assert heights[0] == 0 and all(h > 0 for h in heights[1:])
    assert view.plots.fixed_label.isVisible() and view.plots.fixed_label.toPlainText() == "fixed"
    assert math.isnan(view.runs[0].grads[0])


def test_weights_chosen_then_changed_leave_the_canvas_alone(window, qtbot):
    """The weights' network is read off the UI thread: when the user has chosen something else by
    the time it arrives, the canvas does not take it."""
    from resnet_studio.ui.common.background import wait_for_background

    choice = window.train_view.setup.init
    index = choice.findData("resnet20-cifar10")
    choice.setCurrentIndex(index)
    choice.activated.emit(index)
    choice.setCurrentIndex(0)  # back to random weights before the read has reported
    choice.activated.emit(0)
    wait_for_background(20_000)
    qtbot.wait(50)  # the queued result reaches the UI thread
    assert window.document.spec == TINY and window.document.undo_stack.count() == 0


def test_closing_while_a_stopped_run_winds_up_asks_nothing(window, qtbot):
    """Quit asked "A network is training" for seconds after Stop, when the bar already read
    "Stopped": a stopped run's thread only writes its last checkpoint, so closing just waits."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    view = window.train_view
    view.setup.epochs.setValue(200)
    view.train_button.click()
    qtbot.waitUntil(lambda: len(view.runs[0].steps) >= 1, timeout=120_000)
    view.stop_button.click()
    assert view.controller.session is not None  # its end not yet handled: the bar may say Stopping
    asked = []

    def refuse():
        box = QApplication.activeModalWidget()
        if box is not None:
            asked.append(box.objectName())
            box.reject()

    QTimer.singleShot(100, refuse)
    assert view.confirm_close() and not asked
    assert not view.controller.thread_running


def test_the_augment_switch_names_the_augmentation_the_networks_input_size_gets(window, qtbot):
    augment = window.train_view.setup.augment
    assert augment.text() == "Pad, crop and flip"  # 32 px: He et al.'s CIFAR augmentation
    large = dataclasses.replace(TINY, input=InputSpec(3, 64))
    window.document.replace(large, None)
    qtbot.waitUntil(lambda: augment.text() == "Random resized crop and flip", timeout=5_000)
