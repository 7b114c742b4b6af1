"""Training faults: divergence (NaN or a huge finite loss) is caught, never saved over a good
checkpoint, and every metrics line stays valid JSON."""

from __future__ import annotations

import json

from resnet_studio.cli import main
from resnet_studio.training import TrainConfig, Trainer, run_training
from resnet_studio.training.divergence import DivergenceGuard

SMALL = dict(batch_size=32, threads=2, limit_train=256, limit_val=64, log_every=1)


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
    arch = tmp_path / "tiny.resnet.json"
    arch.write_text(json.dumps(tiny_spec.to_dict()))
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
            "--batch-size",
            "32",
            "--limit-train",
            "256",
            "--limit-val",
            "64",
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
