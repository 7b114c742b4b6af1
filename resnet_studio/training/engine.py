"""The training engine: a Qt-free generator of events that the command line and the studio consume.

    trainer = Trainer(spec, TrainConfig(epochs=3), run_dir="runs/demo")
    for event in trainer.events():
        print(event)

`pause()`, `resume()` and `stop()` may be called from any thread; they take effect between steps.
Stopping writes a checkpoint from which `Trainer(..., resume=run_dir)` continues exactly. The loop
itself lives in `loop.py`: `events()` calls `TrainingLoop.run`, which calls `step`, which calls
`loss.backward()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

import resnet_studio.training.distributed as dist_helpers
from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.data.sources import DataSplits
from resnet_studio.errors import SpecError, UserError
from resnet_studio.nn.checkpoint import LoadedModel, load_checkpoint
from resnet_studio.nn.model import build_unfilled
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.device import DeviceSettings, choose_device, settings_for
from resnet_studio.training.events import Event, Finished
from resnet_studio.training.loop import TrainingLoop
from resnet_studio.training.setup import refuse_reached_target
from resnet_studio.training.state import Controls
from resnet_studio.training.transfer import check_transfer
from resnet_studio.training.transfer_probe import ProbeLoop


class Trainer:
    def __init__(
        self,
        spec: ArchitectureSpec | None,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        *,
        resume: str | Path | None = None,
        data: DataSplits | None = None,
        extra_budget: bool = False,
    ) -> None:
        """`spec` may be None when resuming (the run's architecture is used). A new run's folder
        must not exist or be empty; `resume` continues a run folder. Resuming, the config's budget
        is the run's own (the rest of it) unless `extra_budget`: then it is time to train from
        now on (`train --resume RUN --budget 20s`)."""
        self.config = config
        self.extra_budget = extra_budget and config.budget is not None
        self._resume_state: dict[str, Any] | None = None
        check_transfer(config, resuming=resume is not None)  # a transfer recipe needs weights
        if resume is not None:
            run = RunDirectory(resume)
            run.check_for_writing()  # before anything is read: no links, pipes or devices in it
            if not run.last_checkpoint.is_file():
                raise UserError(f"{resume}: nothing to resume (no checkpoints/last.pt)")
            self._resume_state = load_checkpoint(run.last_checkpoint)
            lacking = [k for k in ("optimizer", "epoch", "step", "rng") if k not in self._resume_state]
            if lacking:
                raise UserError(
                    f"{run.last_checkpoint}: cannot resume from it: it lacks {', '.join(lacking)} "
                    "(a slim checkpoint keeps only what inference needs)"
                )
            try:
                spec = spec_from_dict(self._resume_state["architecture"])
            except SpecError as exc:
                raise UserError(f"{run.last_checkpoint}: invalid architecture: {exc}") from None
            refuse_reached_target(self._resume_state, config, self.extra_budget)
            run_dir = resume
        elif run_dir is not None and dist_helpers.first_rank(config.distributed):
            RunDirectory(run_dir).check_new()  # refused now, before the data loads; claimed later
        if spec is None:
            raise UserError("no architecture given (use --preset, --arch or --resume)")
        self.spec = spec
        self.run = RunDirectory(run_dir) if run_dir is not None else None
        self._data = data
        self.controls = Controls()
        # What training works on, published once it starts, as one tuple: other threads read it
        # in one go, so a snapshot never pairs a model with a spec (or classes) of another size.
        self._live: tuple[torch.nn.Module, ArchitectureSpec, DataSplits] | None = None

    @property
    def model(self) -> torch.nn.Module | None:
        """The weights as they train (read-only for others); None before training starts."""
        return self._live[0] if self._live is not None else None

    @property
    def data(self) -> DataSplits | None:
        return self._live[2] if self._live is not None else None

    # -- control, from any thread ----------------------------------------------------------

    def pause(self) -> None:
        self.controls.running.clear()

    def resume(self) -> None:
        self.controls.running.set()

    def stop(self) -> None:
        self.controls.stop.set()
        self.controls.running.set()  # a paused run wakes up to stop

    def pin_image(self, image: np.ndarray | None) -> None:
        """Watch this uint8 (C, H, W) image: `Activations` events show every block's feature maps
        for it, at most every `activation_interval` seconds. None stops the snapshots."""
        if image is not None:
            image = np.ascontiguousarray(image, dtype=np.uint8)
            if image.ndim != 3 or image.shape[0] != self.spec.input.channels:
                raise UserError(
                    f"pinned image: expected {self.spec.input.channels} channels (C, H, W), "
                    f"got shape {tuple(image.shape)}"
                )
        self.controls.pinned = image  # one reference swap: safe from any thread
        self.controls.pinned_version += 1

    def snapshot(self) -> LoadedModel | None:
        """A CPU copy of the weights as they are now, ready for inference while training goes on
        (a step may be half applied: fine for a look, not for a checkpoint). None before start."""
        live = self._live  # one read: the model, its spec and its data belong together
        if live is None:
            return None
        model, spec, data = live
        copy = build_unfilled(spec)  # draws nothing from the generator the training thread uses
        copy.load_state_dict({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
        return LoadedModel(
            copy.eval(),
            spec,
            list(data.classes),
            list(data.mean),
            list(data.std),
            "the latest weights of the training run",
            self.config.checkpoint_dict(),
        )

    @property
    def paused(self) -> bool:
        return not self.controls.running.is_set()

    # -- the loop ----------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """The run, as events: `TrainingLoop.run` (whose `step` calls `loss.backward()`). The run
        folder is locked for its writer (rank 0) from the first event to the last: a second
        process writing it is refused with a `UserError`."""
        rank, _ = dist_helpers.rank_and_world(self.config.distributed)
        writer = self.run if rank == 0 else None
        if writer is not None:
            writer.lock(new=self._resume_state is None)
        try:
            loop = (ProbeLoop if self.config.transfer == "probe" else TrainingLoop)(
                self.spec,
                self.config,
                self.run,
                self.controls,
                self._resume_state,
                self._data,
                self._settings,
                self.extra_budget,
            )
            self.spec = loop.spec  # its output layer follows the data's classes
            self._live = (loop.model, loop.spec, loop.data)
            yield from loop.run()
        finally:
            if writer is not None:
                writer.unlock()

    def _settings(self, rank: int) -> DeviceSettings:
        """The device settings of this process (`rank`), from the machine's part of the config."""
        machine = self.config.machine
        device = choose_device(machine.device)
        if machine.distributed and device.type == "cuda":
            device = torch.device("cuda", dist_helpers.local_rank())
            torch.cuda.set_device(device)
        threads = machine.threads
        if threads is None and machine.distributed:
            # Processes on one machine share its cores: more threads than cores slows all of them.
            threads = max(1, (os.cpu_count() or 1) // dist_helpers.local_world_size())
        return settings_for(device, machine.channels_last, machine.amp, threads)


def run_training(trainer: Trainer) -> Finished:
    """Consume all events and return the last one (tests and scripts)."""
    last = None
    for event in trainer.events():
        last = event
    assert isinstance(last, Finished)
    return last
