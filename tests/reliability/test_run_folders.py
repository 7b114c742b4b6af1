"""Run folders under attack and after faults: a new run never writes over an existing folder, no
write inside a run goes through a link, run files that are pipes, devices or huge are refused
without hanging, saved configs are checked field by field, budgets and resume targets train what
they promise, and what a killed writer left is cleaned up."""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest

from resnet_studio.cli import main
from resnet_studio.errors import UserError, WriteError
from resnet_studio.fileio import atomic_write_text, unused_run_folder
from resnet_studio.nn.checkpoint import load_checkpoint, save_checkpoint
from resnet_studio.nn.model import build_model
from resnet_studio.runs.metrics_file import MAX_METRICS_BYTES
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.runs.runinfo import list_runs, metrics_to_csv, summarize_run
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.training.budget import BudgetPlanner

CLI_SMALL = ["--batch-size", "32", "--limit-train", "128", "--limit-val", "32", "--threads", "2"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def arch_file(spec, folder):
    path = folder / "tiny.resnet.json"
    path.write_text(json.dumps(spec.to_dict()))
    return path


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny run trained once (1 epoch of 4 steps, stopped as completed); tests copy it."""
    from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec

    spec = ArchitectureSpec(
        name="Tiny",
        input=InputSpec(3, 32),
        classes=10,
        stem=StemSpec(channels=8, kernel=3, stride=1),
        stages=(StageSpec("basic", 1, 8, 2),),
        shortcut="projection",
    )
    run = tmp_path_factory.mktemp("base") / "run"
    config = TrainConfig(epochs=1, batch_size=32, limit_train=128, limit_val=32, threads=2)
    assert run_training(Trainer(spec, config, run)).status == "completed"
    return run


@pytest.fixture
def run(trained_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, symlinks=True)
    return copy


def finishes(action, fifo=None, seconds=20):
    """Run `action` on a thread; False if it is still blocked after `seconds` (a hang: the pipe it
    waits on is then opened for writing, so that the thread can end)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive() and fifo is not None:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(10)
        return False, outcome
    return not thread.is_alive(), outcome


# -- 2: a new run is created new, or refused ---------------------------------------------------------


def test_train_out_into_an_existing_folder_refuses_and_overwrites_nothing(tiny_spec, tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "checkpoints").mkdir(parents=True)
    precious = {
        "config.json": "my config",
        "architecture.json": "my network",
        "status.json": "my status",
        ".lock": "my lock",
        "checkpoints/best.pt": "my weights",
    }
    for name, text in precious.items():
        (out / name).write_text(text)
    arch = arch_file(tiny_spec, tmp_path)
    code, _, err = run_cli(capsys, "train", "--arch", arch, "--steps", "1", *CLI_SMALL, "--out", out)
    assert code == 2 and f"{out}: exists already" in err and f"--resume {out}" in err, err
    assert "Traceback" not in err
    for name, text in precious.items():
        assert (out / name).read_text() == text, name
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.pt"]


@pytest.mark.parametrize("kind", ["a file", "a link to an empty folder", "a device"])
def test_train_out_that_is_not_a_folder_is_refused(kind, tiny_spec, tmp_path, capsys):
    out = tmp_path / "out"
    if kind == "a file":
        out.write_text("precious")
    elif kind == "a link to an empty folder":
        (tmp_path / "empty").mkdir()
        out.symlink_to(tmp_path / "empty")
    else:
        out = "/dev/null"
    arch = arch_file(tiny_spec, tmp_path)
    code, _, err = run_cli(capsys, "train", "--arch", arch, "--steps", "1", *CLI_SMALL, "--out", out)
    assert code == 2 and f"{out}: exists and is" in err and "not a folder" in err, err
    if kind == "a file":
        assert out.read_text() == "precious"
    if kind == "a link to an empty folder":
        assert not list((tmp_path / "empty").iterdir())


def test_the_engine_refuses_a_folder_that_is_not_new_and_the_studio_picks_new_names(tiny_spec, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists already"):
        Trainer(tiny_spec, TrainConfig(epochs=1), taken)
    first = unused_run_folder(tmp_path, "ResNet-20")
    first.mkdir()
    second = unused_run_folder(tmp_path, "ResNet-20")
    assert second != first and second.name.startswith(first.name) and not second.exists()
    # Two writers that both found the folder empty: the second is refused by the lock.
    empty = tmp_path / "empty"
    empty.mkdir()
    one, two = RunDirectory(empty), RunDirectory(empty)
    one.lock(new=True)
    try:
        with pytest.raises(UserError, match="another process is writing this run"):
            two.lock(new=True)
    finally:
        one.unlock()
    # Once the first has written, a later writer finds the folder taken, whoever holds the lock.
    (empty / "config.json").write_text("{}")
    with pytest.raises(UserError, match="exists already"):
        two.lock(new=True)


# -- 3: no write inside a run folder follows a link ------------------------------------------------


def test_resume_never_appends_to_a_linked_metrics_file(run, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(victim)
    code, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 2 and f"{run / 'metrics.jsonl'}: a symbolic link" in err, err
    assert victim.read_text() == "the user's file\n"


@pytest.mark.parametrize("name", ["status.json", "config.json", "checkpoints"])
def test_resume_refuses_links_among_the_run_files(name, run, tmp_path, capsys):
    outside = tmp_path / "outside"
    if name == "checkpoints":
        # A dangling link in place of the checkpoint folder: its target would be made outside.
        shutil.rmtree(run / "checkpoints")
        (run / "checkpoints").symlink_to(outside)
    else:
        shutil.copy(run / name, outside)
        (run / name).unlink()
        (run / name).symlink_to(outside)
    before = outside.read_bytes() if outside.exists() else None
    code, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 2 and f"{run / name}:" in err and "a symbolic link" in err, err
    assert (outside.read_bytes() if outside.exists() else None) == before


def test_checkpoints_and_status_are_never_written_through_a_linked_folder(run, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(elsewhere)
    folder = RunDirectory(run)
    with pytest.raises(WriteError, match="checkpoints: a symbolic link"):
        save_checkpoint(folder.last_checkpoint, {"step": 1}, within=folder.path)
    assert not list(elsewhere.iterdir())
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    (run / "status.json").unlink()
    (run / "status.json").symlink_to(victim)
    with pytest.raises(WriteError, match="status.json: .*symbolic link"):
        folder.write_status("running", 1, 4)
    assert victim.read_text() == "{}" and (run / "status.json").is_symlink()


def test_a_new_run_into_an_empty_folder_with_a_linked_checkpoints_folder_is_refused(tiny_spec, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "checkpoints").symlink_to(elsewhere)
    with pytest.raises(UserError, match="exists already"):  # not empty: a link is in it
        Trainer(tiny_spec, TrainConfig(epochs=1), out)
    assert not list(elsewhere.iterdir())


# -- 12: pipes, devices and huge files among the run files -----------------------------------------


def test_a_pipe_as_metrics_file_is_refused_without_hanging(run, tmp_path, capsys):
    fifo = run / "metrics.jsonl"
    fifo.unlink()
    os.mkfifo(fifo)
    done, outcome = finishes(lambda: metrics_to_csv(run, tmp_path / "m.csv"), fifo)
    assert done, "export --format csv hung on a pipe"
    assert isinstance(outcome.get("error"), UserError) and "a named pipe" in str(outcome["error"])
    assert str(fifo) in str(outcome["error"])
    done, outcome = finishes(lambda: summarize_run(run), fifo)
    assert done and outcome["value"].status == "broken" and "a named pipe" in outcome["value"].problem
    code, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 2 and f"{fifo}: a named pipe" in err, err


def test_a_huge_metrics_file_is_refused_by_its_size_unread(run):
    huge = run / "metrics.jsonl"
    with open(huge, "r+b") as handle:
        handle.truncate(MAX_METRICS_BYTES + 1)  # sparse: no disk used
    summary = summarize_run(run)
    assert summary.status == "broken" and "too large" in summary.problem and str(huge) in summary.problem
    with pytest.raises(UserError, match="too large"):
        metrics_to_csv(run, run.parent / "m.csv")


# -- 7 and 9: every saved config field checked on read, named ------------------------------------


@pytest.mark.parametrize("seed", ["-1", "200000000000000"])
def test_a_seed_out_of_range_is_refused_by_name(seed, tiny_spec, tmp_path, capsys):
    arch = arch_file(tiny_spec, tmp_path)
    code, _, err = run_cli(
        capsys, "train", "--arch", arch, "--seed", seed, "--steps", "1", *CLI_SMALL, "--out", tmp_path / "r"
    )
    assert code == 2 and f"seed: must be an integer from 0 to 2,147,483,647, got {seed}" in err, err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("data", 5, "data: must be text"),
        ("seed", "7", "seed: must be an integer"),
        ("epochs", float("inf"), "epochs: must be a positive integer, got inf"),
        ("epochs", 3_000_000_000, "epochs: must be at most 1,000,000"),
        ("augment", "yes", "augment: must be true or false"),
    ],
)
def test_a_wrongly_typed_run_config_is_named_on_resume_and_in_the_runs_list(
    field, value, expected, run, tmp_path, capsys
):
    config = json.loads((run / "config.json").read_text())
    config[field] = value
    (run / "config.json").write_text(json.dumps(config))  # Infinity, as Python writes it
    code, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "3")
    assert code == 2 and f"{run / 'config.json'}: {expected}" in err, err
    assert "Traceback" not in err
    good = tmp_path / "good"
    shutil.copytree(run, good / "run")
    (good / "run" / "config.json").write_text(json.dumps({**config, field: TrainConfig().to_dict()[field]}))
    shutil.move(str(run), good / "broken")
    summaries = {s.path.name: s for s in list_runs(good)}
    assert summaries["run"].status == "completed"
    assert summaries["broken"].status == "broken" and expected in summaries["broken"].problem


@pytest.fixture(scope="module")
def tiny_checkpoint_state():
    from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec

    spec = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 8, 2),))
    model = build_model(spec)
    return {
        "architecture": spec.to_dict(),
        "classes": [f"c{i}" for i in range(10)],
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        "input_size": 32,
        "config": TrainConfig().to_dict(),
        "model": model.state_dict(),
    }


@pytest.mark.parametrize(("field", "value"), [("data", 5), ("seed", "zero"), ("seed", -3), ("tta", "no")])
def test_a_checkpoint_with_a_wrongly_typed_config_is_refused_by_evaluate_and_lesion(
    field, value, tiny_checkpoint_state, tmp_path, capsys
):
    path = tmp_path / "crafted.pt"
    state = dict(tiny_checkpoint_state)
    state["config"] = {**state["config"], field: value}
    save_checkpoint(path, state)
    for command in ("evaluate", "lesion"):
        code, _, err = run_cli(capsys, command, path, "--limit-val", "10")
        assert code == 2 and f"{path}: config.{field}: must be" in err, (command, err)
        assert "Traceback" not in err and "TypeError" not in err


# -- 13: a budget holds with short epochs; a resume trains what it asks or says why ---------------


def test_the_budget_planner_times_epochs_of_a_few_steps():
    planner = BudgetPlanner(60.0, 0.0, steps_per_epoch=4, batch_size=32, val_images=32)
    now, step, planned = 0.0, 0, []
    for epoch in range(5):
        if epoch:
            now += 0.5  # evaluation and checkpoint between epochs
            planner.observe_epoch_gap(0.5, step, now)
        for _ in range(4):
            step, now = step + 1, now + 0.1
            if planner.observe_step(step, now):
                planned.append(planner.plan(step, now))
    assert planner.step_seconds == pytest.approx(0.1)
    assert planned and planned[0] > 100  # about 60 s of 0.1 s steps, evaluations between


def test_a_budget_trains_on_when_the_run_has_few_steps(tiny_spec, tmp_path):
    config = TrainConfig(epochs=1, budget=2.0, batch_size=8, limit_train=64, limit_val=16, threads=2)
    finished = run_training(Trainer(tiny_spec, config, tmp_path / "run"))  # 8 steps an epoch
    # Timed after 3 + 8 steps, then planned: never the 1 epoch of 8 steps asked for without one.
    assert finished.status == "completed" and finished.step >= 12
    # Its length is the plan's, recorded in status.json, not config.json's 1 epoch ("epoch 2/1").
    from resnet_studio.runs.following import RunFollower

    followed = RunFollower(tmp_path / "run").poll()
    assert followed is not None and followed.summary is not None
    for summary in (summarize_run(tmp_path / "run"), followed.summary):
        assert summary.epochs_planned == summary.epochs_done == -(-finished.step // 8) >= 2


def test_resume_to_a_step_count_already_passed_is_refused_with_the_step(run, capsys):
    code, _, err = run_cli(capsys, "train", "--resume", run, "--steps", "2")
    assert code == 2 and "already at step 4 (epoch 1)" in err and "nothing to train" in err, err
    code, _, err = run_cli(capsys, "train", "--resume", run)  # completed: its own target reached
    assert code == 2 and "already at step 4" in err, err


def test_resume_with_a_budget_trains_that_much_more(run, capsys):
    code, out, err = run_cli(capsys, "train", "--resume", run, "--budget", "1s")
    assert code == 0, err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] > 4


def test_a_resume_records_its_new_length_and_a_second_resume_goes_on_to_it(run, capsys):
    """#27: config.json kept the first leg's epochs, so a run resumed from 1 to 3 epochs read
    "epoch 3/1" when opened, and, stopped at epoch 2, could not be resumed without --epochs again."""
    from resnet_studio.training.config import resumed_config
    from resnet_studio.training.events import Evaluated

    longer = resumed_config(RunDirectory(run).read_config(), epochs=3)
    trainer = Trainer(None, longer, resume=run)
    for event in trainer.events():
        if isinstance(event, Evaluated):
            trainer.stop()  # after epoch 2 of 3
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    summary = summarize_run(run)
    assert (summary.epochs_done, summary.epochs_planned, summary.status) == (2, 3, "stopped")
    code, out, err = run_cli(capsys, "train", "--resume", run)  # no --epochs: the run's own 3
    assert code == 0, err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3
    assert summarize_run(run).epochs_planned == 3 and summarize_run(run).status == "completed"


def test_time_given_to_a_resume_is_recorded_as_the_runs_own_budget(run, capsys):
    trained = load_checkpoint(run / "checkpoints" / "last.pt")["time"]
    code, _, err = run_cli(capsys, "train", "--resume", run, "--budget", "1s")
    assert code == 0, err
    # Counted from the run's start: a later resume without --budget ends where this one would.
    assert json.loads((run / "config.json").read_text())["budget"] == pytest.approx(trained + 1, abs=0.01)


# -- 17: what a killed writer left; an --out that names a folder ----------------------------------


def test_resume_removes_stale_temporary_checkpoints_and_nothing_else(run, tmp_path, capsys):
    checkpoints = run / "checkpoints"
    stale = checkpoints / ".last.pt.ab12cd34.tmp"
    stale.write_bytes(b"\0" * 1000)
    keep = tmp_path / "keep.txt"
    keep.write_text("mine")
    (checkpoints / ".best.pt.zz99yy88.tmp").symlink_to(keep)  # our pattern, but a link: left alone
    (checkpoints / "notes.tmp").write_text("not ours")
    code, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "2")
    assert code == 0, err
    assert not stale.exists()
    assert (checkpoints / ".best.pt.zz99yy88.tmp").is_symlink() and keep.read_text() == "mine"
    assert (checkpoints / "notes.tmp").read_text() == "not ours"


def test_an_out_that_names_a_folder_never_becomes_a_file(run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "export", run, "--format", "csv", "--out", "newdir/")
    assert code == 2 and "newdir/" in err and "ends with a slash" in err, err
    assert not (tmp_path / "newdir").exists()
    with pytest.raises(OSError, match="ends with a slash"):
        atomic_write_text(f"{tmp_path}/other/", "x")
    assert not (tmp_path / "other").exists()
