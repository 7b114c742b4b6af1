"""Two processes on this machine under torchrun (gloo): DDP trains, rank 0 alone writes the run."""

import json
import socket
import subprocess
import sys
import textwrap

import torch

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from resnet_studio.architecture import ArchitectureSpec, StageSpec, StemSpec
    from resnet_studio.training import Evaluated, Step, TrainConfig, Trainer
    from resnet_studio.training.distributed import finish

    spec = ArchitectureSpec(name="Tiny", stem=StemSpec(8), stages=(StageSpec("basic", 1, 16, 2),))
    config = TrainConfig(epochs=2, batch_size=32, limit_train=512, limit_val=128, distributed=True,
                         schedule="cosine", lr=0.05)
    trainer = Trainer(spec, config, sys.argv[1])
    events = list(trainer.events())
    rank = int(os.environ["RANK"])
    torch.save({k: v.detach() for k, v in trainer.model.named_parameters()}, f"rank{rank}.pt")
    steps = sum(isinstance(e, Step) for e in events)
    with open(f"rank{rank}.txt", "w") as out:
        out.write(f"{steps} {sum(isinstance(e, Evaluated) for e in events)}")
    finish()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_together_and_rank0_alone_writes(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    run = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(free_port()),
            "train.py",
            str(run),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # 512 images / (32 per step x 2 ranks) = 8 steps an epoch, on each rank; rank 0 alone evaluates.
    assert (tmp_path / "rank0.txt").read_text() == "16 2"
    assert (tmp_path / "rank1.txt").read_text() == "16 0"
    zero, one = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert zero.keys() == one.keys() and all(torch.equal(zero[k], one[k]) for k in zero)
    assert sorted(p.name for p in run.iterdir()) == [
        ".lock",  # rank 0's, the writer's
        "architecture.json",
        "checkpoints",
        "config.json",
        "metrics.jsonl",
        "status.json",
    ]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 17))  # one writer
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert json.loads((run / "config.json").read_text())["distributed"] is True
