"""Training faults: divergence (NaN or a huge finite loss) is caught, never saved over a good
checkpoint, and every metrics line stays valid JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from resnet_studio.cli import main
from resnet_studio.errors import UserError
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.runs.runinfo import summarize_run
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.training.divergence import DivergenceGuard

SMALL = dict(batch_size=32, threads=2, limit_train=256, limit_val=64, log_every=1)
CLI_SMALL = ["--batch-size", "32", "--limit-train", "256", "--limit-val", "64"]  # the same, as options


def arch_file(spec, folder):
    path = folder / "tiny.resnet.json"
    path.write_text(json.dumps(spec.to_dict()))
    return str(path)


def strict_lines(path):
    """Every line parsed as strict JSON: NaN or Infinity would raise."""

    def refuse(token):
        raise ValueError(f"non-JSON number {token}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def test_the_guard_names_nan_and_a_huge_finite_loss():
    guard = DivergenceGuard()
    assert guard.check_loss(2.3) is None and guard.check_loss(40.0) is None
    assert "rose to 5e+27" in guard.check_loss(5e27)
    assert "became nan" in guard.check_loss(float("nan"))
    assert DivergenceGuard(first=0.01).check_loss(19.0) is None  # compared with at least 1


def test_a_huge_learning_rate_fails_clearly_and_writes_no_checkpoint(tiny_spec, tmp_path, capsys):
    arch = arch_file(tiny_spec, tmp_path)
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--arch",
            str(arch),
            "--lr",
            "1e6",
            "--epochs",
            "2",
            *CLI_SMALL,
            "--out",
            str(run),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "training diverged" in err and "no checkpoint was written" in err
    assert "Try a lower learning rate" in err
    assert not (run / "checkpoints" / "last.pt").exists()
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "diverged" in status["message"]
    strict_lines(run / "metrics.jsonl")  # no bare NaN


def test_resuming_with_a_ruinous_rate_keeps_the_good_checkpoint(tiny_spec, tmp_path):
    run = tmp_path / "run"
    finished = run_training(Trainer(tiny_spec, TrainConfig(epochs=1, **SMALL), run))
    assert finished.status == "completed"
    good = (run / "checkpoints" / "last.pt").read_bytes()
    ruinous = TrainConfig(epochs=3, lr=1e6, **SMALL)
    finished = run_training(Trainer(None, ruinous, resume=run))
    assert finished.status == "failed" and "diverged" in finished.message
    assert "the last good checkpoint is kept" in finished.message
    assert (run / "checkpoints" / "last.pt").read_bytes() == good  # never overwritten
    for record in strict_lines(run / "metrics.jsonl"):
        assert record["loss"] is None or record["loss"] == record["loss"]  # null, never NaN


def test_one_writer_per_run_folder(tiny_spec, tmp_path, capsys):
    """A second process is refused with the holder named; the lock goes with its holder."""
    run = RunDirectory(tmp_path / "run")
    run.lock()
    assert f"process {os.getpid()}" in run.writer()
    second = ["train", "--preset", "resnet20", "--limit-train", "64", "--out", str(run.path)]
    code = subprocess.run(
        [sys.executable, "-m", "resnet_studio", *second],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 2 and "another process is writing this run" in code.stderr
    assert f"process {os.getpid()}" in code.stderr and "Traceback" not in code.stderr
    run.unlock()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from resnet_studio.runs.rundir import RunDirectory as R; "
            f"R({str(run.path)!r}).lock(); print('locked', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "locked"
    assert f"process {child.pid}" in RunDirectory(run.path).writer()
    with pytest.raises(UserError, match=f"process {child.pid}"):
        run_training(Trainer(tiny_spec, TrainConfig(epochs=1, **SMALL), run.path))
    child.kill()  # kill -9: the OS drops the lock with the process
    child.wait()
    assert RunDirectory(run.path).writer() is None
    assert run_training(Trainer(tiny_spec, TrainConfig(epochs=1, **SMALL), run.path)).status == "completed"


def test_resume_after_a_crash_drops_the_metrics_past_the_checkpoint(tiny_spec, tmp_path):
    run = tmp_path / "run"
    run_training(Trainer(tiny_spec, TrainConfig(epochs=1, **SMALL), run))  # checkpoint at step 8
    with open(run / "metrics.jsonl", "a") as metrics:  # what a kill -9 at step 11 leaves
        for step in (9, 10, 11):
            metrics.write(json.dumps({"kind": "train", "epoch": 2, "step": step, "loss": 1.0}) + "\n")
        metrics.write('{"kind": "train", "ep')
    run_training(Trainer(None, TrainConfig(epochs=2, **SMALL), resume=run))
    steps = [r["step"] for r in strict_lines(run / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == list(range(1, 17))  # each step once, in order


def test_sigterm_stops_like_ctrl_c_with_a_checkpoint(tiny_spec, tmp_path):
    arch = arch_file(tiny_spec, tmp_path)
    run = tmp_path / "run"
    args = [
        "--arch",
        str(arch),
        "--epochs",
        "50",
        *CLI_SMALL,
        "--out",
        str(run),
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "resnet_studio", "train", *args], stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "checkpoints" / "last.pt").is_file():
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert "stopping after this step" in err and "Traceback" not in err
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"
    assert summarize_run(run).status == "stopped" and summarize_run(run).resumable


def _file_size_limit(limit: int):
    """In the child: writes past `limit` bytes fail (EFBIG), as writes onto a full disk do."""

    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_failing_write_ends_the_run_with_one_line_and_the_last_checkpoint_intact(tiny_spec, tmp_path):
    arch = arch_file(tiny_spec, tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--arch", str(arch), "--epochs", "1", *CLI_SMALL, "--out", str(run)]) == 0
    good = (run / "checkpoints" / "last.pt").read_bytes()
    limit = len(good) - 1  # the next checkpoint cannot be written; small files still can
    done = subprocess.run(
        [sys.executable, "-m", "resnet_studio", "train", "--resume", str(run), "--epochs", "3"],
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(limit),
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "last.pt: cannot write the checkpoint: file too large" in done.stderr
    assert "the previous checkpoint is intact" in done.stderr
    assert (run / "checkpoints" / "last.pt").read_bytes() == good
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "cannot write the checkpoint" in status["message"]


def test_an_epochs_train_loss_after_a_resume_covers_the_whole_epoch(tiny_spec, tmp_path):
    from resnet_studio.training import Evaluated, Step

    def epoch_losses(trainer, stop_at=None):
        losses = []
        for event in trainer.events():
            if isinstance(event, Step) and event.step == stop_at:
                trainer.stop()
            if isinstance(event, Evaluated):
                losses.append(event.train_loss)
        return losses

    config = TrainConfig(epochs=1, **SMALL)
    straight = epoch_losses(Trainer(tiny_spec, config, tmp_path / "a"))
    assert epoch_losses(Trainer(tiny_spec, config, tmp_path / "b"), stop_at=3) == []
    resumed = epoch_losses(Trainer(None, config, resume=tmp_path / "b"))
    assert resumed == pytest.approx(straight, rel=1e-5)  # not the mean of steps 4-8 alone
