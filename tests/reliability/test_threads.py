"""Threads: what runs on the studio's worker threads never disturbs a training run, and what one
job changes (hooks) is never seen by another job running at the same time."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading

import numpy as np
import pytest
import torch

from resnet_studio.architecture import HeadSpec
from resnet_studio.data.sources import DataSet, DataSplits
from resnet_studio.training import TrainConfig, Trainer
from resnet_studio.training.events import Step

SMALL = dict(epochs=1, batch_size=32, threads=1, log_every=1, seed=11)


def _train(spec, data, folder, snapshot_every_step: bool) -> dict[str, torch.Tensor]:
    trainer = Trainer(spec, TrainConfig(**SMALL), folder, data=data)
    taken = []
    for event in trainer.events():
        if snapshot_every_step and isinstance(event, Step):
            # Classify asks for the latest weights from a worker thread while the run trains.
            worker = threading.Thread(target=lambda: taken.append(trainer.snapshot()))
            worker.start()
            worker.join()
    assert not snapshot_every_step or (taken and all(s is not None for s in taken))
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_snapshots_taken_while_training_leave_the_run_bit_identical(tiny_spec, demo_slice, tmp_path):
    # Dropout draws from torch's global generator on the training thread: building a snapshot's
    # model there (random initial weights) shifted every later dropout mask.
    spec = dataclasses.replace(tiny_spec, head=HeadSpec(dropout=0.3))
    data = demo_slice(64, 16)
    quiet = _train(spec, data, tmp_path / "quiet", snapshot_every_step=False)
    watched = _train(spec, data, tmp_path / "watched", snapshot_every_step=True)
    assert quiet.keys() == watched.keys()
    assert all(torch.equal(quiet[k], watched[k]) for k in quiet)


def test_loading_a_checkpoint_draws_nothing_from_the_global_generator(tiny_spec, tmp_path):
    from resnet_studio.nn.checkpoint import model_from_checkpoint, save_checkpoint
    from resnet_studio.nn.model import build_model

    model = build_model(tiny_spec)
    path = tmp_path / "tiny.pt"
    save_checkpoint(
        path,
        {
            "architecture": tiny_spec.to_dict(),
            "model": model.state_dict(),
            "classes": [f"c{i}" for i in range(10)],
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        },
    )
    before = torch.get_rng_state()
    loaded = model_from_checkpoint(path)
    assert torch.equal(before, torch.get_rng_state())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.model.state_dict().items())


class _SnapshotOnEveryChange(Trainer):
    """Takes a snapshot right after each attribute the training thread sets: the moments another
    thread's snapshot may fall between."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if "snapshots" in self.__dict__ and not name.startswith("snapshots"):
            try:
                self.snapshots.append(self.snapshot())
            except Exception as exc:  # noqa: BLE001 - recorded: the test says which
                self.snapshots.append(exc)


def test_a_snapshot_never_pairs_the_model_with_a_spec_of_another_size(tiny_spec, demo_slice, tmp_path):
    # Ten outputs in the architecture, three classes in the data: the output layer follows the data.
    demo = demo_slice(96, 32)
    keep = demo.train.labels < 3
    train = DataSet(demo.train.images[keep], demo.train.labels[keep])
    keep_val = demo.val.labels < 3
    val = DataSet(demo.val.images[keep_val], demo.val.labels[keep_val])
    data = DataSplits("demo", demo.classes[:3], train, val, demo.mean, demo.std)
    trainer = _SnapshotOnEveryChange(
        tiny_spec, TrainConfig(**{**SMALL, "batch_size": 16}), tmp_path / "r", data=data
    )
    trainer.snapshots = []
    events = trainer.events()
    next(events)  # the run has started: what it trains is published
    events.close()
    taken = [s for s in trainer.snapshots if s is not None]
    assert taken, "no snapshot was possible after the start"
    for snapshot in taken:
        assert not isinstance(snapshot, Exception), snapshot
        assert snapshot.spec.classes == len(snapshot.classes) == 3
        assert snapshot.model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


# -- the studio's worker threads ---------------------------------------------------------------------


@pytest.fixture
def tiny_checkpoint(tiny_spec, tmp_path):
    """An untrained tiny network saved as a checkpoint: enough to classify and inspect with."""
    from resnet_studio.nn.checkpoint import save_checkpoint
    from resnet_studio.nn.model import build_model

    path = tmp_path / "tiny.pt"
    save_checkpoint(
        path,
        {
            "architecture": tiny_spec.to_dict(),
            "model": build_model(tiny_spec).eval().state_dict(),
            "classes": [f"class{i}" for i in range(10)],
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        },
    )
    return path


def test_inspects_hooks_never_reach_a_classify_job_running_at_the_same_time(qtbot, tiny_checkpoint, tmp_path):
    from resnet_studio.inspection.activations import feature_maps
    from resnet_studio.inspection.classify import classify_picture
    from resnet_studio.ui.common.background import wait_for_background
    from resnet_studio.ui.common.model_source import ModelSource
    from resnet_studio.ui.common.training_controller import TrainingController
    from resnet_studio.ui.inspect.explain import network_input
    from resnet_studio.ui.inspect.inspect_view import InspectView

    source = ModelSource(TrainingController(tmp_path / "runs"))
    source.use_checkpoint(str(tiny_checkpoint))
    shared = source.load()  # the cached network every Classify job runs
    image = np.random.default_rng(3).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    rgb = image.transpose(1, 2, 0).copy()
    alone_maps, _ = feature_maps(shared.model, network_input(shared, image))
    alone = classify_picture(shared, rgb, "alone", 5).top
    view = InspectView(source)
    qtbot.addWidget(view)

    ui_thread, inside, go = threading.get_ident(), threading.Event(), threading.Event()

    def hold_inspect(_module, _inputs):  # Inspect's job waits inside its forward pass...
        if threading.get_ident() != ui_thread and not inside.is_set():
            inside.set()
            go.wait(10)

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hold_inspect)
    try:
        view.set_image(image, "picture.png")
        assert inside.wait(10)
        # ...while Classify runs the shared network on another thread.
        hooked_meanwhile = [name for name, m in shared.model.named_modules() if m._forward_hooks]
        together = classify_picture(source.load(), rgb, "together", 5).top
    finally:
        go.set()
        handle.remove()
    qtbot.waitUntil(lambda: view.analysis is not None and view.busy == 0, timeout=20_000)
    assert wait_for_background()
    assert hooked_meanwhile == []
    assert together == alone
    assert view.analysis.maps.keys() == dict(alone_maps).keys()
    assert all(np.array_equal(view.analysis.maps[name], maps) for name, maps in alone_maps)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in shared.model.modules())


def test_a_job_that_decides_its_weights_on_the_ui_thread_outlives_the_session(
    qtbot, tiny_checkpoint, tmp_path
):
    # What to load is read when the job is asked for, on the UI thread: the job itself never
    # reads the controller (whose session the UI thread sets to None when a run ends).
    from resnet_studio.ui.common.model_source import ModelSource
    from resnet_studio.ui.common.training_controller import TrainingController

    source = ModelSource(TrainingController(tmp_path / "runs"))
    source.use_checkpoint(str(tiny_checkpoint))
    load, own = source.loader(), source.loader(own=True)
    source.use_checkpoint(str(tmp_path / "elsewhere.pt"))  # changed after the job was asked for
    source.training = None  # nothing of the controller is read by the job
    assert load().path == str(tiny_checkpoint)
    assert load().model is load().model  # the cached network, shared by jobs that only read it
    assert own().model is not load().model  # a hooking job's own copy...
    assert all(
        torch.equal(a, b)
        for a, b in zip(own().model.state_dict().values(), load().model.state_dict().values(), strict=True)
    )


def test_an_unhandled_job_error_is_logged_and_shown(qtbot, caplog):
    from PySide6.QtWidgets import QWidget

    from resnet_studio.ui.common.background import run_in_background, unhandled_errors

    def fail():
        raise RuntimeError("the disk said no")

    receiver = QWidget()
    qtbot.addWidget(receiver)
    shown: list[str] = []
    unhandled_errors().raised.connect(shown.append)
    try:
        with caplog.at_level(logging.ERROR):
            run_in_background(fail, receiver, lambda _: None)  # no error handler given
            run_in_background(lambda: 1, receiver, lambda _: 1 / 0)  # the handler itself fails
            qtbot.waitUntil(lambda: len(shown) == 2, timeout=10_000)
    finally:
        unhandled_errors().raised.disconnect(shown.append)
    assert sorted(shown) == ["RuntimeError: the disk said no", "ZeroDivisionError: division by zero"]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(logged) == 2 and any("the disk said no" in r.getMessage() for r in logged)


def test_the_window_shows_an_unhandled_job_error_in_its_status_bar(qtbot):
    from resnet_studio.ui import MainWindow
    from resnet_studio.ui.common.background import run_in_background

    window = MainWindow()
    qtbot.addWidget(window)

    def fail():
        raise OSError("no space left on device")

    run_in_background(fail, window, lambda _: None)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10_000)
    assert "no space left on device" in window.statusBar().currentMessage()


def test_resume_whose_metrics_cannot_be_read_says_so_instead_of_resuming_forever(qtbot, tmp_path):
    from resnet_studio.ui.common.training_controller import TrainingController

    run = tmp_path / "runs" / "stuck"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(TrainConfig(epochs=3).to_dict()))
    (run / "checkpoints" / "last.pt").write_bytes(b"not read before the metrics")
    (run / "metrics.jsonl").mkdir()  # reading it fails on the worker thread
    controller = TrainingController(tmp_path / "runs")
    said: list[str] = []
    controller.message.connect(said.append)
    controller.resume(str(run), TrainConfig(epochs=3))
    # Refused at once (the run's files are checked before a job is sent), or by the job's error
    # path: either way the last word is why, never "Resuming…" for ever.
    qtbot.waitUntil(lambda: said and not said[-1].startswith("Resuming"), timeout=10_000)
    assert "stuck" in said[-1] and "metrics.jsonl" in said[-1]
    assert not controller.training


def test_a_run_that_breaks_the_runs_list_never_leaves_it_reading(qtbot, tmp_path):
    from resnet_studio.ui.common.background import wait_for_background
    from resnet_studio.ui.train.runs_panel import RunsPanel

    root = tmp_path / "runs"
    (root / "infinite").mkdir(parents=True)
    (root / "infinite" / "config.json").write_text('{"epochs": Infinity}')
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_root(root)
    panel.refresh()
    assert panel.location.text().endswith("reading…")
    assert wait_for_background()
    qtbot.waitUntil(lambda: not panel.location.text().endswith("reading…"), timeout=10_000)
