"""Recipes (one table for the command line and the studio), a step count, a held-out validation split
and a time budget that ends the run on time with its schedule completed."""

import json

import pytest
import torch

from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec, save_spec
from resnet_studio.cli import main
from resnet_studio.data.sources import load_data
from resnet_studio.errors import UserError
from resnet_studio.training import Evaluated, Finished, Planned, Started, Step, TrainConfig, Trainer
from resnet_studio.training.budget import BudgetPlanner
from resnet_studio.training.config import parse_duration
from resnet_studio.training.recipes import RECIPES, get_recipe


def test_the_recipes_the_issue_names_with_their_sources_values():
    assert {"quick", "article", "he2015", "cifar-10min"} <= set(RECIPES)
    article = get_recipe("article").config()
    assert (article.optimizer, article.lr, article.batch_size, article.augment) == ("adam", 1e-3, 64, False)
    assert (article.epochs, article.val_fraction, article.schedule) == (100, 0.2, "constant")
    he = get_recipe("he2015").config()
    assert (he.optimizer, he.lr, he.momentum, he.weight_decay, he.batch_size) == ("sgd", 0.1, 0.9, 1e-4, 128)
    assert he.steps == 64_000 and he.schedule == "step" and he.val_fraction == 0.1
    # /10 at 32k and 48k iterations of 64k.
    from resnet_studio.training.config import lr_factor

    factors = [lr_factor("step", s, 64_000) for s in (31_999, 32_000, 47_999, 48_000)]
    assert factors == [1.0, 0.1, 0.1, 0.01]
    fast = get_recipe("cifar-10min").config()
    assert fast.budget is not None and fast.crop_padding == 2
    assert get_recipe("cifar-10min").preset == "cifar-fast"
    with pytest.raises(UserError, match="crop_padding: must be an integer from 0 to 64"):
        TrainConfig(crop_padding=-1)
    assert get_recipe("article").preset == "article"
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        get_recipe("nope")


def test_explicit_options_override_a_recipe(tmp_path, capsys):
    arch = tmp_path / "tiny.resnet.json"
    save_spec(ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 8, 2),)), arch)
    out = tmp_path / "run"
    code = main(
        ["train", "--recipe", "article", "--arch", str(arch), "--epochs", "1", "--lr", "0.002"]
        + ["--limit-train", "160", "--crop-padding", "3", "--crop-fill", "reflect", "--val-every", "0"]
        + ["--tta-shift", "1", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config["lr"] == 0.002 and config["epochs"] == 1 and config["crop_padding"] == 3  # given
    assert config["optimizer"] == "adam" and config["batch_size"] == 64  # from the recipe
    assert config["augment"] is False and config["val_fraction"] == 0.2
    assert config["crop_fill"] == "reflect" and config["val_every"] == 0
    assert config["tta_shift"] == 1 and config["tta"] is True  # a shift implies the mirror
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2]  # 128 of 160 train: 2 steps


def test_recipes_command_lists_the_same_table(capsys):
    assert main(["recipes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(RECIPES)


def test_held_out_validation_split_is_balanced_disjoint_and_seeded():
    data = load_data("demo", limit_train=2000, val_fraction=0.1)
    assert len(data.val) == 200 and len(data.train) == 1800
    assert data.val.labels.bincount().tolist() == [20] * 10
    again = load_data("demo", limit_train=2000, val_fraction=0.1)
    assert torch.equal(again.val.images, data.val.images)
    train_rows = {bytes(x.numpy()) for x in data.train.images}
    assert not any(bytes(x.numpy()) in train_rows for x in data.val.images)


def test_steps_decide_the_run_length(tiny_spec, small_demo):
    config = TrainConfig(epochs=50, steps=11, batch_size=64, threads=2)  # 8 steps an epoch
    events = list(Trainer(tiny_spec, config, data=small_demo).events())
    started = events[0]
    assert isinstance(started, Started) and started.total_steps == 11 and started.epochs == 2
    assert [e.step for e in events if isinstance(e, Step)][-1] == 11
    assert [e.epoch for e in events if isinstance(e, Evaluated)] == [1, 2]  # the partial epoch too


def test_validation_every_few_epochs_or_only_at_the_end(tiny_spec, small_demo, tmp_path):
    from resnet_studio.runs.rundir import RunDirectory

    config = TrainConfig(epochs=5, batch_size=64, threads=2, val_every=2)  # 8 steps an epoch
    events = list(Trainer(tiny_spec, config, data=small_demo).events())
    assert [e.epoch for e in events if isinstance(e, Evaluated)] == [2, 4, 5]  # and after the last
    config = TrainConfig(epochs=3, batch_size=64, threads=2, val_every=0)
    run = RunDirectory(tmp_path / "run")
    seen = []
    for event in Trainer(tiny_spec, config, tmp_path / "run", data=small_demo).events():
        if isinstance(event, Started | Evaluated):
            seen.append((type(event).__name__, run.last_checkpoint.is_file()))
        elif isinstance(event, Step) and event.step == 17:  # the third epoch: two epochs are saved
            seen.append(("step 17", run.last_checkpoint.is_file()))
    assert seen == [("Started", False), ("step 17", True), ("Evaluated", True)]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "val"] == [3]
    with pytest.raises(UserError, match="^val_every: must be a whole number of epochs"):
        TrainConfig(val_every=-1)
    too_wide = TrainConfig(crop_padding=32, crop_fill="reflect")  # the tiny network's input is 32 px
    with pytest.raises(UserError, match="^crop_padding: 32 px of reflected border needs images larger"):
        list(Trainer(tiny_spec, too_wide, data=small_demo).events())


def test_the_budget_counts_only_the_evaluations_that_happen():
    planner = BudgetPlanner(budget=100.0, start=0.0, steps_per_epoch=10, batch_size=100, val_images=1000)
    assert [planner.evaluations(0, end) for end in (10, 35, 40)] == [1, 4, 4]
    planner.val_every = 2
    assert [planner.evaluations(0, end) for end in (10, 20, 35, 40, 41)] == [1, 1, 2, 2, 3]
    assert planner.evaluations(20, 40) == 1
    planner.val_every = 0
    assert [planner.evaluations(0, end) for end in (10, 35, 40)] == [1, 1, 1]
    planner.step_seconds, planner.epoch_overhead = 1.0, 5.0
    assert planner.plan(0, 10.0) == 84  # 89 s left: 84 steps and the one final evaluation
    # Before an evaluation is measured its cost is estimated, test-time views included.
    planner.epoch_overhead, planner.val_images = None, 2500
    assert planner.plan(0, 10.0) == 78  # 2500 images at 1/2.5 of a step each 100: 10.5 s
    planner.eval_passes = 6  # mirror and shifted views: six forward passes an image
    assert planner.plan(0, 10.0) == 28  # 60.5 s
    with pytest.raises(UserError, match="^tta_shift: must be an integer from 0 to 8"):
        TrainConfig(tta_shift=9)


def test_a_budget_with_distributed_training_is_refused_naming_the_field():
    with pytest.raises(UserError, match="^budget: not available with --distributed"):
        TrainConfig(budget=60.0, distributed=True)


def test_parse_duration():
    assert [parse_duration(t) for t in ("10m", "90s", "1h30m", "45", "2m30s")] == [600, 90, 5400, 45, 150]
    for bad in ("", "ten", "10q", "0s"):
        with pytest.raises(UserError):
            parse_duration(bad)


def test_planner_fits_steps_and_evaluations_into_the_budget():
    planner = BudgetPlanner(budget=100.0, start=0.0, steps_per_epoch=10, batch_size=100, val_images=1000)
    planner.step_seconds, planner.epoch_overhead = 1.0, 5.0
    # At t=10 s with no step done, 89 s are left (1 s reserve); n steps cost n s and 5 s for each
    # evaluation, one per epoch begun: 59 steps and 6 evaluations take 89 s, 60 and 6 take 90 s.
    assert planner.plan(0, 10.0) == 59
    # With 30 steps done at t=45 s, 54 s are left: 34 more steps and 4 evaluations (after steps 40,
    # 50, 60 and the partial epoch ending at 64) take exactly 54 s.
    assert planner.plan(30, 45.0) == 64


def test_a_budget_ends_the_run_on_time_with_the_schedule_completed(tiny_spec):
    """What holds on any machine, however busy: the run plans its steps from its measured speed and
    ends with them done and the schedule run down. How close it ends to the budget is a speed
    figure: `resnet-studio bench` measures it (the README's budget row), no test times it (on a
    machine with two busy loops beside the suite, only 12 steps fitted and 1.4x was missed)."""
    budget = 4.0
    config = TrainConfig(budget=budget, epochs=1, batch_size=32, threads=2, limit_train=4000, limit_val=300)
    data = load_data("demo", limit_train=4000, limit_val=300)
    events = list(Trainer(tiny_spec, config, data=data).events())
    planned = [e for e in events if isinstance(e, Planned)]
    steps = [e for e in events if isinstance(e, Step)]
    total = planned[-1].total_steps
    assert planned and total == steps[-1].step
    assert steps[-1].progress == 1.0
    # one-cycle ran down to its last step's rate, about peak / (steps after the warm-up): complete
    assert steps[-1].lr <= 1.05 * config.lr / ((1 - config.warmup_fraction) * total)
    assert max(step.lr for step in steps) > 5 * steps[-1].lr or total < 6
    assert isinstance(events[-1], Finished) and events[-1].status == "completed"
    assert all(p.budget == budget for p in planned)


def test_the_log_has_a_line_for_every_epoch_validated_or_not(tiny_spec, small_demo):
    import io

    from resnet_studio.cli.progress import ProgressView

    stream = io.StringIO()  # not a terminal: plain lines, as in a log file
    view = ProgressView(stream)
    config = TrainConfig(epochs=3, batch_size=64, threads=2, val_every=2)
    for event in Trainer(tiny_spec, config, data=small_demo).events():
        for kind, show in ((Started, view.started), (Step, view.step), (Evaluated, view.evaluated)):
            if isinstance(event, kind):
                show(event)
    epochs = [line for line in stream.getvalue().splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "val" not in epochs[0] and "train loss" in epochs[0]
    assert all("val loss" in line for line in epochs[1:])
    loss = float(epochs[0].split("train loss ")[1].split()[0])
    assert 0.5 < loss < 5  # the epoch's mean loss, not a sum of its steps
