"""Real training on tiny data: events, run folder, checkpoints, exact resume, pause/stop, divergence."""

import dataclasses
import json
import math
import threading
import time

import numpy as np
import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec, get_preset
from resnet_studio.errors import UserError
from resnet_studio.nn.checkpoint import load_checkpoint, model_from_checkpoint
from resnet_studio.runs.metrics import KEYS, MetricsRecord
from resnet_studio.runs.metrics_file import MetricsReader, read_metrics
from resnet_studio.runs.runinfo import list_runs, metrics_to_csv, summarize_run
from resnet_studio.training import (
    Activations,
    CheckpointSaved,
    Evaluated,
    Finished,
    Started,
    Step,
    TrainConfig,
    Trainer,
    run_training,
)
from resnet_studio.training.config import lr_factor
from resnet_studio.training.events import counted


def config(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=64, lr=0.05, threads=2, schedule="cosine")
    return TrainConfig(**{**base, **kw})


def test_events_run_folder_and_metrics(tiny_spec, small_demo, tmp_path):
    run = tmp_path / "run"
    events = list(Trainer(tiny_spec, config(), run, data=small_demo).events())
    started = events[0]
    assert isinstance(started, Started) and started.steps_per_epoch == 8 and started.total_steps == 16
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.step for s in steps] == list(range(1, 17))
    assert all(s.images_per_s > 0 and math.isfinite(s.loss) for s in steps)
    assert steps[-1].progress == 1.0
    evals = [e for e in events if isinstance(e, Evaluated)]
    assert [e.epoch for e in evals] == [1, 2]
    saved = [e.path for e in events if isinstance(e, CheckpointSaved)]
    assert str(run / "checkpoints" / "last.pt") in saved
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"

    assert json.loads((run / "architecture.json").read_text())["name"] == "Tiny"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"] == "demo" and cfg["seed"] == 0 and "torch" in cfg["versions"]
    records = read_metrics(run)
    assert [r.kind for r in records].count("val") == 2
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(set(KEYS) == set(line) for line in lines)
    assert records[-1].accuracy == evals[-1].accuracy


def test_training_learns_the_demo_data(demo_slice):
    data = demo_slice(6000, 500)
    spec = ArchitectureSpec(
        name="Small",
        stem=StemSpec(16),
        stages=(
            StageSpec("basic", 1, 16, 1),
            StageSpec("basic", 1, 32, 2),
            StageSpec("basic", 1, 64, 2),
        ),
    )
    events = list(
        Trainer(spec, config(epochs=3, batch_size=64, lr=0.1, schedule="onecycle"), data=data).events()
    )
    evals = [e for e in events if isinstance(e, Evaluated)]
    assert evals[-1].train_loss < evals[0].train_loss - 0.1
    assert events[-1].best_accuracy > 0.2  # chance is 0.10


# slow (about 40% of CI's time when it ran there: ResNet-20 on 60,000 images): deselected in CI.
# That the engine learns is checked there by test_training_learns_the_demo_data above (with the
# optimiser step broken it fails: loss flat, chance accuracy), and that trained ResNet-20 weights
# name new image files by test_the_demo_weights_classify_new_demo_images (tests/inspection). What
# only this run shows is that the default recipe reaches 90% in three epochs: run it with -m slow
# after changing the recipe's defaults.
@pytest.mark.slow
def test_resnet20_reaches_90_percent_on_demo_in_three_epochs(demo_splits, tmp_path):
    """The acceptance run of the engine issue (about two minutes on a 2-core CPU), then the trained
    network classifies image files it never saw, drawn with another seed, to their true classes."""
    from PIL import Image

    from resnet_studio.data import demo
    from resnet_studio.inspection.classify import classify_files

    finished = run_training(
        Trainer(get_preset("resnet20"), TrainConfig(epochs=3), tmp_path / "run", data=demo_splits)
    )
    assert finished.status == "completed" and finished.best_accuracy >= 0.90
    images, labels = demo.generate(40, seed=12345)
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        paths.append(tmp_path / f"{i}-{demo.CLASSES[label]}.png")
        Image.fromarray(image.transpose(1, 2, 0)).save(paths[-1])
    results = classify_files(model_from_checkpoint(tmp_path / "run"), paths, top_k=1)
    right = [r.top[0][0] == demo.CLASSES[label] for r, label in zip(results, labels, strict=True)]
    assert sum(right) >= 34, [(r.path, r.top) for r in results]  # 90% of 40, less a little luck


def test_checkpoint_is_complete_and_loads_with_weights_only(tiny_spec, small_demo, tmp_path):
    run_training(Trainer(tiny_spec, config(epochs=1), tmp_path / "r", data=small_demo))
    path = tmp_path / "r" / "checkpoints" / "last.pt"
    raw = torch.load(path, weights_only=True)  # the safe loader accepts it as it is
    for key in (
        "model",
        "optimizer",
        "schedule",
        "epoch",
        "step",
        "rng",
        "architecture",
        "classes",
        "normalization",
        "input_size",
    ):
        assert key in raw, key
    loaded = model_from_checkpoint(tmp_path / "r")  # a run folder resolves to best.pt
    assert loaded.classes[0] == "circle" and not loaded.model.training
    assert loaded.input_size == 32 and len(loaded.mean) == 3


def test_resume_continues_exactly_like_an_uninterrupted_run(tiny_spec, small_demo, tmp_path):
    straight = list(Trainer(tiny_spec, config(epochs=3), tmp_path / "a", data=small_demo).events())
    first = Trainer(tiny_spec, config(epochs=3), tmp_path / "b", data=small_demo)
    for event in first.events():
        if isinstance(event, Evaluated):
            first.stop()  # takes effect before the first step of epoch 2
    assert event.status == "stopped"
    resumed = list(Trainer(None, config(epochs=3), resume=tmp_path / "b", data=small_demo).events())
    assert resumed[0].start_step == 8
    losses_a = [e.loss for e in straight if isinstance(e, Step) and e.step > 8]
    losses_b = [e.loss for e in resumed if isinstance(e, Step)]
    assert losses_a == losses_b
    evals_a = [e.accuracy for e in straight if isinstance(e, Evaluated)][1:]
    assert evals_a == [e.accuracy for e in resumed if isinstance(e, Evaluated)]


def test_stop_mid_epoch_leaves_a_checkpoint_that_resumes_exactly(tiny_spec, small_demo, tmp_path):
    straight = [
        e.loss
        for e in Trainer(tiny_spec, config(), tmp_path / "a", data=small_demo).events()
        if isinstance(e, Step)
    ]
    trainer = Trainer(tiny_spec, config(), tmp_path / "b", data=small_demo)
    for event in trainer.events():
        if isinstance(event, Step) and event.step == 11:
            trainer.stop()
        last = event
    assert last.status == "stopped" and last.step == 11
    summaries = {run.path.name: run for run in list_runs(tmp_path)}
    assert summaries["a"].status == "completed" and summaries["a"].epochs_done == 2
    assert summaries["a"].best_accuracy == max(
        r.accuracy for r in read_metrics(tmp_path / "a") if r.kind == "val"
    )
    assert summaries["b"].status == "stopped" and summaries["b"].resumable and summaries["b"].epochs_done == 1
    assert summaries["b"].architecture == "Tiny" and summaries["b"].epochs_planned == 2
    state = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    assert (state["epoch"], state["step"], state["batch_in_epoch"]) == (1, 11, 3)
    resumed = [
        e.loss
        for e in Trainer(None, config(), resume=tmp_path / "b", data=small_demo).events()
        if isinstance(e, Step)
    ]
    assert resumed == straight[11:]


def test_pause_and_stop_from_another_thread(tiny_spec, small_demo):
    trainer = Trainer(tiny_spec, config(epochs=50), data=small_demo)
    seen: list[int] = []
    paused_at: list[int] = []

    def consume():
        for event in trainer.events():
            if isinstance(event, Step):
                seen.append(event.step)
                if event.step == 3:
                    trainer.pause()
                    paused_at.append(event.step)

    thread = threading.Thread(target=consume)
    thread.start()
    thread.join(timeout=2)
    assert thread.is_alive() and trainer.paused and seen[-1] == 3  # paused within one step
    trainer.resume()
    deadline = time.monotonic() + 120
    while len(seen) < 6 and time.monotonic() < deadline:
        thread.join(timeout=0.05)
    assert len(seen) >= 6, "training did not go on after resume()"
    trainer.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert 6 <= len(seen) < 50 * 8


def test_divergence_stops_with_a_message_and_keeps_the_good_checkpoint(tiny_spec, small_demo, tmp_path):
    run_training(Trainer(tiny_spec, config(epochs=1), tmp_path / "r", data=small_demo))
    good = (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes()
    wild = config(epochs=3, lr=1e6, optimizer="sgd", schedule="constant", momentum=0.0)
    finished = run_training(Trainer(None, wild, resume=tmp_path / "r", data=small_demo))
    assert finished.status == "failed" and summarize_run(tmp_path / "r").status == "failed"
    assert "training diverged" in finished.message and "last good checkpoint is kept" in finished.message
    assert (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes() == good


def test_resume_without_a_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nothing to resume"):
        Trainer(None, config(), resume=tmp_path)


def test_metrics_reader_follows_a_growing_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    reader = MetricsReader(path)
    assert reader.read_new() == []
    path.write_text('{"kind": "train", "step": 1}\n{"kind": "tr')
    assert [r.step for r in reader.read_new()] == [1]
    with open(path, "a") as f:
        f.write('ain", "step": 2}\nnot json\n')
    assert [r.step for r in reader.read_new()] == [2] and reader.bad_lines == 1
    assert reader.read_new() == []


def test_schedules():
    assert lr_factor("constant", 50, 100) == 1.0
    assert [lr_factor("step", s, 100) for s in (0, 49, 50, 75, 99)] == [1.0, 1.0, 0.1, 0.01, 0.01]
    assert lr_factor("cosine", 0, 100) == 1.0 and lr_factor("cosine", 100, 100) < 1e-9
    onecycle = [lr_factor("onecycle", s, 100, 0.2) for s in range(101)]
    assert onecycle[0] == pytest.approx(0.1) and max(onecycle) == pytest.approx(1.0)
    assert onecycle.index(max(onecycle)) == 20 and onecycle[-1] == 0.0


def test_bad_config_values_name_the_field():
    with pytest.raises(UserError, match="epochs: must be a positive integer, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(UserError, match="optimizer: must be one of sgd, adam, adamw"):
        TrainConfig(optimizer="rmsprop")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="lr: must be a finite number"):
        TrainConfig(lr=float("nan"))


def test_gradient_norms_per_block_when_asked(tiny_spec, small_demo):
    steps = [
        e
        for e in Trainer(
            tiny_spec, config(epochs=1, grad_norms=True, grad_norm_interval=0), data=small_demo
        ).events()
        if isinstance(e, Step)
    ]
    assert all(len(s.grad_norms) == 4 for s in steps)  # stem, two blocks, head
    assert all(g > 0 and math.isfinite(g) for g in steps[-1].grad_norms)
    # Throttled by time, as a view needs them: the first step and the epoch's last have them.
    slow = [
        e.grad_norms
        for e in Trainer(
            tiny_spec, config(epochs=1, grad_norms=True, grad_norm_interval=3600), data=small_demo
        ).events()
        if isinstance(e, Step)
    ]
    assert len(slow[0]) == 4 and len(slow[-1]) == 4 and all(g == () for g in slow[1:-1])
    plain = [e for e in Trainer(tiny_spec, config(epochs=1), data=small_demo).events() if isinstance(e, Step)]
    assert plain[0].grad_norms == ()  # off by default: the headless loop pays nothing for it
    # A whitening stem's filters are fixed: no gradient at all, NaN, not a vanished 0.
    whiten = dataclasses.replace(tiny_spec, stem=StemSpec(channels=24, kernel=2, kind="whiten"))
    cfg = config(epochs=1, grad_norms=True, grad_norm_interval=0)
    last = [e for e in Trainer(whiten, cfg, data=small_demo).events() if isinstance(e, Step)][-1]
    assert math.isnan(last.grad_norms[0]) and all(g > 0 for g in last.grad_norms[1:])
    assert counted(1, "epoch") == "1 epoch" and counted(1200, "step") == "1,200 steps"


def test_gradient_norms_are_saved_with_the_run_and_read_back(tiny_spec, small_demo, tmp_path):
    """#27: a studio run's gradient norms were not saved, so opened later it showed no gradient
    flow. They go into the train records they were measured at; older lines still load."""
    whiten = dataclasses.replace(tiny_spec, stem=StemSpec(channels=24, kernel=2, kind="whiten"))
    cfg = config(epochs=1, grad_norms=True, grad_norm_interval=3600)
    events = list(Trainer(whiten, cfg, tmp_path / "run", data=small_demo).events())
    measured = [e.grad_norms for e in events if isinstance(e, Step)]
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [line for line in lines if line["kind"] == "train"]
    assert [len(line.get("grad_norms", ())) for line in train] == [len(g) for g in measured]
    assert train[0]["grad_norms"][0] is None  # the fixed whitening stem: null in JSON, NaN in memory
    records = [r for r in read_metrics(tmp_path / "run") if r.kind == "train"]
    assert math.isnan(records[-1].grad_norms[0])
    assert records[-1].grad_norms[1:] == pytest.approx(measured[-1][1:], rel=1e-5)
    assert all(r.grad_norms == () for r in records[1:-1])  # only where measured: a view, not a log
    # Older lines (none) and odd ones (not a list of numbers) load, without the norms.
    line = {"kind": "train", "epoch": 1, "step": 1, "loss": 2.0, "accuracy": 0.1}
    assert MetricsRecord.from_json(line).grad_norms == ()
    assert MetricsRecord.from_json({**line, "grad_norms": ["x", 1]}).grad_norms == ()
    assert MetricsRecord.from_json({**line, "grad_norms": 3}).step == 1
    # The CSV export keeps its columns, one number each.
    assert "grad_norms" not in KEYS
    assert metrics_to_csv(tmp_path / "run", tmp_path / "m.csv") == len(lines)
    assert (tmp_path / "m.csv").read_text().splitlines()[0] == ",".join(KEYS)


def test_pinned_image_gives_throttled_feature_maps_without_touching_training(tiny_spec, small_demo, tmp_path):
    """Activations come from a separate eval-mode pass: the losses equal a run without a pin."""
    image = small_demo.val.images[0].numpy()
    plain = [
        e.loss for e in Trainer(tiny_spec, config(epochs=1), data=small_demo).events() if isinstance(e, Step)
    ]
    trainer = Trainer(tiny_spec, config(epochs=1, activation_interval=0.0), data=small_demo)
    trainer.pin_image(image)
    events = list(trainer.events())
    assert [e.loss for e in events if isinstance(e, Step)] == plain
    snapshots = [e for e in events if isinstance(e, Activations)]
    assert snapshots[0].step == 0 and len(snapshots) == 10  # before, after every step, at the end
    names = [name for name, _ in snapshots[0].maps]
    assert names == ["stem", "stage1.block1", "stage2.block1"]
    shapes = [m.shape for _, m in snapshots[-1].maps]
    assert shapes == [(8, 32, 32), (8, 16, 16), (16, 8, 8)]
    assert all(m.dtype == np.float32 for _, m in snapshots[-1].maps)
    assert abs(sum(snapshots[-1].probabilities) - 1) < 1e-4
    assert not np.array_equal(snapshots[0].maps[1][1], snapshots[-1].maps[1][1])  # the filters learned


def test_activation_snapshots_are_throttled_and_checked(tiny_spec, small_demo):
    trainer = Trainer(tiny_spec, config(epochs=1, activation_interval=3600.0), data=small_demo)
    trainer.pin_image(small_demo.val.images[0].numpy())
    assert [e.step for e in trainer.events() if isinstance(e, Activations)] == [0, 8]  # first, last
    with pytest.raises(UserError, match="pinned image: expected 3 channels"):
        trainer.pin_image(np.zeros((1, 32, 32), np.uint8))
