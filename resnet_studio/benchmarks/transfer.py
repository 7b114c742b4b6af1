"""Transfer learning on a folder of photos, timed from the command to the trained checkpoint.

    figures = transfer_figures(make_photo_folder(root, 1000), work_dir)

Each row runs `resnet-studio train --recipe transfer-… --init NETWORK --data folder:PHOTOS` as its
own process and times it whole: the interpreter, importing torch, reading the starting weights,
decoding the photos, the feature pass or the epochs, the checkpoints. The starting weights are
torchvision's network with seeded random weights, imported as `resnet-studio import` does (no
download: the cost of a pass does not depend on what the weights learnt).

Where the time goes, from the run's metrics: `_setup_s` is everything before the run's clock
starts (interpreter, imports, weights, decoding), `_first_step_s` the time to the first step
(for a probe: the feature pass), `_train_s` the steps and evaluations after it. `photos_decode_s`
times decoding the folder alone, at the networks' size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from resnet_studio.nn.checkpoint import load_checkpoint, save_checkpoint
from resnet_studio.nn.torchvision_import import import_torchvision

SIZE = 224  # the photos' side as the networks see them


@dataclass(frozen=True)
class TransferCase:
    name: str  # the figures' prefix
    network: str  # torchvision's name
    recipe: str
    options: tuple[str, ...] = ()  # more `train` options
    target_s: float | None = None  # issue #26's target, command to checkpoint, at 224 px on 2 cores


CASES = (
    TransferCase("transfer_probe_resnet18", "resnet18", "transfer-probe", target_s=90),
    TransferCase("transfer_probe_resnet50", "resnet50", "transfer-probe", target_s=240),
    TransferCase("transfer_finetune_resnet18", "resnet18", "transfer-finetune", ("--epochs", "3"), 300),
)


def imported_network(network: str, folder: Path, size: int = SIZE, seed: int = 0) -> Path:
    """`folder/NETWORK-SIZE.pt`: torchvision's `network` with seeded random weights, imported;
    at `size` pixels instead of 224 where asked (the benchmark's own tests run it small)."""
    import torchvision  # only here: the rest of the package does without it

    out = folder / f"{network}-{size}.pt"
    if out.is_file():
        return out
    torch.manual_seed(seed)
    state_dict = folder / f"{network}.pth"
    torch.save(torchvision.models.get_model(network).state_dict(), state_dict)
    import_torchvision(f"torchvision:{network}", out, from_path=state_dict)
    state_dict.unlink()
    if size != SIZE:
        state = load_checkpoint(out)
        state.pop("path")
        state["architecture"]["input"]["size"] = size
        state["input_size"] = size
        prep = state["preprocessing"]
        prep["resize"], prep["crop"] = round(size * prep["resize"] / prep["crop"]), size
        save_checkpoint(out, state)
    return out


def time_transfer(
    photos: Path, init: Path, recipe: str, out: Path, options: Sequence[str] = ()
) -> dict[str, float]:
    """One `train` command, timed: its wall time, where it went, and the accuracy it reached.
    `RuntimeError` with the command's last words when it fails."""
    command = [sys.executable, "-m", "resnet_studio", "train", "--recipe", recipe, "--init", str(init)]
    command += ["--data", f"folder:{photos}", "--out", str(out), *options]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(command)}: exit status {done.returncode}: {last}")
    # metrics.jsonl (resources/FORMATS.md), read here: the benchmarks sit beside the engine
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line]
    train = [r for r in records if r["kind"] == "train"]
    val = [r for r in records if r["kind"] == "val"]
    run_s = max(r["time"] for r in records)
    return {
        "s": wall,
        "setup_s": wall - run_s,
        "first_step_s": train[0]["time"],
        "train_s": run_s - train[0]["time"],
        "val_accuracy": val[-1]["accuracy"],
        "steps": float(train[-1]["step"]),
    }


def decode_seconds(photos: Path, size: int = SIZE) -> float:
    """Decoding the folder into memory at `size` pixels, as a run does before its first step."""
    from resnet_studio.data.sources import load_data

    started = time.perf_counter()
    load_data(f"folder:{photos}", image_size=size)
    return time.perf_counter() - started


def transfer_figures(
    photos: Path,
    work: Path | None = None,
    cases: Sequence[TransferCase] = CASES,
    *,
    size: int = SIZE,
    options: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """The transfer rows of `bench --photos`: for each case, `NAME_s` (command to checkpoint),
    its parts (`_setup_s`, `_first_step_s`, `_train_s`), `_val_accuracy` and `_target_s`; and
    `photos_decode_s`. `work` holds the imported networks and the runs (default: a temporary
    folder, removed after); `options` go to every `train` command (e.g. `--threads 2`)."""
    if work is None:
        with tempfile.TemporaryDirectory(prefix="resnet-studio-transfer-") as folder:
            return transfer_figures(photos, Path(folder), cases, size=size, options=options, log=log)
    work.mkdir(parents=True, exist_ok=True)
    figures = {"photos_decode_s": decode_seconds(photos, size)}
    for case in cases:
        init = imported_network(case.network, work, size)
        out = work / f"{case.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        timed = time_transfer(photos, init, case.recipe, out, [*case.options, *options])
        figures.update({f"{case.name}_{key}": value for key, value in timed.items()})
        if case.target_s is not None and size == SIZE:
            figures[f"{case.name}_target_s"] = case.target_s
        if log is not None:
            log(f"{case.name}: {timed['s']:.1f} s (setup {timed['setup_s']:.1f}, first step "
                f"{timed['first_step_s']:.1f}, steps {timed['train_s']:.1f})")  # fmt: skip
    return figures
