"""One training run in one process, from set-up to its last event; `Trainer` (engine.py) drives it.

The inner step (`TrainingLoop.step`) reads like the loops of airbench or nanoGPT: schedule,
augment, forward, loss, backward, update. Around it, `train_epoch` adds pause and stop, the time
budget and logging; `end_epoch` checks, evaluates and checkpoints; `run` ties them together.
Losses and accuracies add up on the device: the host waits for them only when a step is logged.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.data.sources import DataSet, DataSplits, load_data
from resnet_studio.data.transforms import batches, epoch_order, normalize, random_crop_flip
from resnet_studio.errors import UserError, WriteError
from resnet_studio.nn.checkpoint import load_weights, save_checkpoint
from resnet_studio.training import distributed as dist_helpers
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.device import DeviceSettings
from resnet_studio.training.divergence import DivergenceGuard, diverged_message, weights_finite
from resnet_studio.training.events import (
    CheckpointSaved,
    Evaluated,
    Event,
    Finished,
    Planned,
    Step,
    counted,
)
from resnet_studio.training.metrics import MetricsRecord
from resnet_studio.training.optim import grad_norms, make_optimizer, set_lr
from resnet_studio.training.probes import Probes
from resnet_studio.training.rng import augment_generator, restore_rng, rng_state
from resnet_studio.training.rundir import RunDirectory
from resnet_studio.training.setup import (
    budget_planner,
    claim_process_state,
    fit_outputs,
    inference_state,
    open_run_folder,
    prepared_model,
    refuse_lone_images,
    refuse_unrunnable,
    started_event,
    validate,
)
from resnet_studio.training.state import Controls, Position, Sums


class TrainingLoop:
    """Set up in the constructor (data, model, optimizer, a resumed state); `run()` trains."""

    def __init__(
        self,
        spec: ArchitectureSpec,
        cfg: TrainConfig,
        run: RunDirectory | None,
        controls: Controls,
        resume_state: dict[str, Any] | None,
        data: DataSplits | None,
        settings_for_rank: Callable[[int], DeviceSettings],
        extra_budget: bool = False,  # resuming: the budget is time from now, not the run's own
    ) -> None:
        budget_start = time.perf_counter()  # a budget counts the data loading too
        self.spec, self.cfg, self.folder, self.controls = spec, cfg, run, controls
        self.extra_budget = extra_budget
        self.rank, self.world = dist_helpers.rank_and_world(cfg.distributed)
        self.writer = run if self.rank == 0 else None
        self.settings: DeviceSettings = settings_for_rank(self.rank)
        claim_process_state(self.settings, cfg.seed + self.rank)
        refuse_unrunnable(spec, cfg, self.settings)
        self.data = data or load_data(
            cfg.data,
            image_size=spec.input.size,
            channels=spec.input.channels,
            limit_train=cfg.limit_train,
            limit_val=cfg.limit_val,
            seed=cfg.seed,
            download=cfg.download,
            val_fraction=cfg.val_fraction,
        )
        # The output layer follows the data's classes: `self.spec` is what the run folder records.
        spec, fitted = fit_outputs(spec, list(self.data.classes), resume_state)
        if fitted:  # a larger output layer is checked as the network was, before it is built
            refuse_unrunnable(spec, cfg, self.settings)
        refuse_lone_images(analyze(spec), cfg.batch_size, len(self.data.train) // self.world)
        self.device = device = self.settings.device
        model, initialized = prepared_model(spec, cfg, self.data, self.settings, fresh=resume_state is None)
        self.spec, self.model, self.notes = spec, model, fitted + initialized
        self.net = dist_helpers.wrap(model, cfg, device) if self.world > 1 else model
        self.optimizer = make_optimizer(cfg, model)
        self.scaler = torch.amp.GradScaler(device.type) if self.settings.needs_grad_scaler else None
        # Gradient flow: one group of parameters per block, stem first and head last.
        parts = [model.stem, *(block for _, block in model.named_blocks()), model.head]
        self.grad_groups = [list(part.parameters()) for part in parts] if cfg.grad_norms else []
        self.steps_per_epoch = max(1, len(self.data.train) // (cfg.batch_size * self.world))  # full batches
        self.total_steps = cfg.steps or self.steps_per_epoch * cfg.epochs
        self.pos = Position()
        self.carried: list | None = None  # an interrupted epoch's sums
        self.augment_state: Tensor | None = None  # and its augmentation generator
        self.resumed = resume_state is not None
        self.first_loss = None
        if resume_state is not None:
            self._restore(resume_state)
        self.planner = budget_planner(
            cfg,
            budget_start - (0.0 if extra_budget else self.pos.elapsed),
            self.steps_per_epoch,
            cfg.batch_size * self.world,
            len(self.data.val),
        )
        if self.planner is not None and (extra_budget or not self.resumed):  # long enough to be timed
            self.total_steps = self.planner.provisional_total(self.pos.step, self.total_steps)
        self.epochs = -(-self.total_steps // self.steps_per_epoch)  # ceil: a last epoch may be partial
        self.train_set = DataSet(self.data.train.images.to(device), self.data.train.labels.to(device))
        self.log_every = cfg.log_every or (1 if device.type == "cpu" else 25)
        amp = self.settings.amp_dtype
        self.autocast = torch.autocast(device.type, dtype=amp) if amp else nullcontext()
        self.status, self.message = "completed", f"finished {counted(self.epochs, 'epoch')}"
        self.epoch_sums = Sums(device)
        self.probes = Probes(model, self.data, cfg, self.settings, controls) if self.rank == 0 else None
        self.grads_at = -math.inf  # when gradient norms were last measured
        self.gap_from: float | None = None  # when the last epoch's last step ended (for the budget)
        self.gap_evaluated = False  # whether that epoch's end evaluated the weights

    def _restore(self, state: dict[str, Any]) -> None:
        load_weights(self.model, state["model"], state["path"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise UserError(
                f"{state['path']}: its optimizer state does not fit this run ({exc}); "
                "an optimizer other than the run's cannot continue it"
            ) from None
        self.pos.restore(state)
        restore_rng(state["rng"], self.device)
        if self.pos.batch_in_epoch:
            self.augment_state = state["rng"].get("augment")
            self.carried = state.get("epoch_sums")
        if self.cfg.budget is not None and not self.extra_budget:  # the run's own budget, continued
            self.total_steps = int(state.get("schedule", {}).get("total", self.total_steps))
        self.first_loss = state.get("first_loss")

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Iterator[Event]:
        if self.writer is not None:
            initial = None if self.resumed else inference_state(self.spec, self.cfg, self.data, self.model)
            open_run_folder(self.writer, self.spec, self.cfg, self.settings, initial, self.pos)
        total = self.total_steps
        yield started_event(
            self.writer,
            self.settings,
            self.data,
            self.model,
            self.steps_per_epoch,
            total,
            self.pos.step,
            notes=self.notes,
        )
        self.run_start = time.perf_counter() - self.pos.elapsed
        # Distributed ranks see different local losses: there only a non-finite one counts (the
        # weights, the same on every rank, are checked each epoch), so that all ranks stop together.
        self.guard = DivergenceGuard(factor=math.inf if self.world > 1 else 20.0, first=self.first_loss)
        pos = self.pos
        try:
            yield from self.probe()  # the untrained network's view of the pinned image
            while pos.epoch < self.epochs and pos.step < self.total_steps and self.status == "completed":
                yield from self.train_epoch()
                if self.status != "completed":
                    break
                yield from self.end_epoch()
            if self.status != "failed":
                yield from self.probe(force=True)  # the final weights' view, whatever the throttle
        except GeneratorExit:
            self.status, self.message = "stopped", f"stopped at epoch {pos.epoch + 1}, step {pos.step}"
            raise
        except WriteError as exc:  # a full disk: the run ends here, with what was already saved
            kept = (
                self.folder.last_checkpoint if self.folder and self.folder.last_checkpoint.is_file() else None
            )
            self.status = "failed"
            self.message = f"{exc}; " + (
                f"the previous checkpoint is intact ({kept})" if kept else "no checkpoint was written"
            )
        except BaseException as exc:
            self.status, self.message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
                # On a full disk this fails too: the lock, gone with this process, says "interrupted".
                with contextlib.suppress(WriteError):
                    self.writer.write_status(self.status, pos.epoch, pos.step, self.message)
        elapsed = time.perf_counter() - self.run_start
        yield Finished(self.status, self.message, pos.epoch, pos.step, pos.best, elapsed)

    # -- one epoch -----------------------------------------------------------------------------

    def step(self, images: Tensor, labels: Tensor, aug: torch.Generator) -> tuple[Tensor, Tensor]:
        """One optimizer step on a batch of uint8 images: (logits, loss)."""
        cfg, settings = self.cfg, self.settings
        set_lr(self.optimizer, cfg, self.pos.step, self.total_steps)
        if cfg.augment:
            images = random_crop_flip(images, aug, pad=cfg.crop_padding, fill=cfg.crop_fill)
        x = normalize(
            images,
            self.data.mean,
            self.data.std,
            size=self.spec.input.size,
            channels_last=settings.channels_last,
        )
        with self.autocast:
            logits = self.net(x)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.pos.step += 1
        self.pos.batch_in_epoch += 1
        return logits, loss

    def train_epoch(self) -> Iterator[Event]:
        cfg, pos, controls = self.cfg, self.pos, self.controls
        order = dist_helpers.shard(
            epoch_order(len(self.train_set), cfg.seed, pos.epoch),
            self.rank,
            self.world,
            self.steps_per_epoch * cfg.batch_size,
        )
        aug = augment_generator(cfg.seed, pos.epoch, self.rank, self.augment_state)
        self.augment_state = None
        self.net.train()
        since_log = Sums(self.device)  # what the next Step event reports
        self.epoch_sums = Sums(self.device, self.carried)
        self.carried = None
        self.tick = time.perf_counter()
        for images, labels in batches(
            self.train_set, cfg.batch_size, order.to(self.device), True, start=pos.batch_in_epoch
        ):
            if not controls.running.is_set():
                yield from self._wait_while_paused()
            if pos.step >= self.total_steps:
                break  # a budget or a step count ends the run inside this epoch
            if controls.stop.is_set():
                self.status, self.message = "stopped", f"stopped at epoch {pos.epoch + 1}, step {pos.step}"
                yield from self.save([self.folder.last_checkpoint] if self.folder else [], aug)
                break
            logits, loss = self.step(images, labels, aug)
            yield from self._follow_budget()
            n = len(labels)
            correct = (logits.argmax(1) == labels).sum()
            summed = loss.detach() * n
            since_log.add(summed, correct, n)
            self.epoch_sums.add(summed, correct, n)
            last_of_epoch = pos.batch_in_epoch == self.steps_per_epoch or pos.step == self.total_steps
            if pos.step % self.log_every == 0 or last_of_epoch:
                yield from self._log(since_log, last_of_epoch)
                if self.status != "completed":
                    break
                since_log = Sums(self.device)
                self.tick = time.perf_counter()  # a snapshot's cost counts in the next speed
                yield from self.probe()

    def _wait_while_paused(self) -> Iterator[Event]:
        paused_at = time.perf_counter()
        while not self.controls.running.wait(0.2):
            if self.probes is not None and self.probes.pinned_changed():
                yield from self.probe()  # a newly pinned image, shown while paused
        self.tick = time.perf_counter()  # a pause is not training time
        if self.planner is not None:
            self.planner.paused(self.tick - paused_at)

    def _follow_budget(self) -> Iterator[Event]:
        """With a time budget: after the first steps (and again after the first epoch's
        evaluation) set the number of steps from the measured speed."""
        planner, pos = self.planner, self.pos
        if planner is None:
            return
        now = time.perf_counter()
        if self.gap_from is not None:
            planner.observe_epoch_gap(now - self.gap_from, pos.step, now, self.gap_evaluated)
            self.gap_from = None
        if planner.observe_step(pos.step, now):
            planned = planner.plan(pos.step, now)
            if planned != self.total_steps:
                self.total_steps = planned
                self.epochs = -(-planned // self.steps_per_epoch)
                self.message = f"finished {planned} steps within the budget"
                yield Planned(self.epochs, planned, planner.budget, planner.elapsed(now))

    def _log(self, sums: Sums, last_of_epoch: bool) -> Iterator[Event]:
        """A Step event and its metrics record; a diverged loss ends the run instead."""
        mean_loss, accuracy = sums.means()  # the only host sync of the loop
        now = time.perf_counter()
        why = self.guard.check_loss(mean_loss)
        if why is not None:
            self.status, self.message = "failed", self._diverged(why)
            return
        norms: tuple[float, ...] = ()
        if self.grad_groups and (now - self.grads_at >= self.cfg.grad_norm_interval or last_of_epoch):
            norms, self.grads_at = grad_norms(self.grad_groups), now  # a view, not a log
        lr = self.optimizer.param_groups[0]["lr"]
        event = Step(
            self.pos.epoch + 1,
            self.pos.step,
            mean_loss,
            accuracy,
            lr,
            sums.seen * self.world / max(now - self.tick, 1e-9),
            now - self.run_start,
            self.pos.step / self.total_steps,
            norms,
        )
        if self.writer is not None:
            self.writer.append_metrics(
                MetricsRecord(
                    "train",
                    event.epoch,
                    event.step,
                    event.loss,
                    event.accuracy,
                    lr,
                    event.images_per_s,
                    event.time,
                )
            )
        yield event

    # -- between epochs ------------------------------------------------------------------------

    def end_epoch(self) -> Iterator[Event]:
        """Check the weights, evaluate them (rank 0, every `val_every` epochs and after the last)
        and checkpoint them."""
        pos, data, every = self.pos, self.data, self.cfg.val_every
        self.gap_from = time.perf_counter()
        pos.epoch += 1
        pos.batch_in_epoch = 0
        if not weights_finite(self.model):  # every rank holds the same weights: all stop together
            self.status, self.message = "failed", self._diverged("the weights hold NaN or infinite values")
            return
        last = pos.epoch >= self.epochs or pos.step >= self.total_steps
        self.gap_evaluated = last or (every > 0 and pos.epoch % every == 0)
        if self.rank != 0:
            return  # rank 0 evaluates the weights its checkpoint holds; the rest train on
        if not self.gap_evaluated:  # saved to resume from; "best" waits for an evaluation
            if self.folder is not None:
                yield from self.save([self.folder.last_checkpoint])
            return
        result = validate(self.model, data, self.spec, self.cfg, self.settings)
        why = self.guard.check_loss(result.loss, "the validation loss") if self.world == 1 else None
        if why is not None:  # nothing is saved: the last good checkpoint stays as it was
            self.status, self.message = "failed", self._diverged(why)
            return
        improved = pos.best is None or result.accuracy > pos.best
        pos.best = result.accuracy if improved else pos.best
        train_loss, train_accuracy = self.epoch_sums.means()
        now = time.perf_counter() - self.run_start
        event = Evaluated(
            pos.epoch, pos.step, result.loss, result.accuracy, train_loss, train_accuracy, now, improved
        )
        if self.writer is not None:
            lr = self.optimizer.param_groups[0]["lr"]
            self.writer.append_metrics(
                MetricsRecord("val", pos.epoch, pos.step, result.loss, result.accuracy, lr, 0.0, now)
            )
        yield event
        if self.folder is not None:
            targets = [self.folder.last_checkpoint] + ([self.folder.best_checkpoint] if improved else [])
            yield from self.save(targets)

    def _diverged(self, why: str) -> str:
        checkpoint = self.folder.last_checkpoint if self.folder else None
        return diverged_message(why, self.pos.epoch, self.pos.step, checkpoint)

    # -- checkpoints and the pinned image -----------------------------------------------------

    def checkpoint_state(self, aug: torch.Generator | None) -> dict[str, Any]:
        """Everything an exact resume needs, and everything inference needs (resources/FORMATS.md)."""
        cfg, pos = self.cfg, self.pos
        return {
            **inference_state(self.spec, self.cfg, self.data, self.model),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"name": cfg.schedule, "step": pos.step, "total": self.total_steps},
            "epoch": pos.epoch,
            "step": pos.step,
            "batch_in_epoch": pos.batch_in_epoch,
            # The epoch's sums so far: its train loss after a resume covers the whole epoch.
            "epoch_sums": self.epoch_sums.saved(),
            "best_accuracy": pos.best,
            "first_loss": self.guard.first,
            "time": time.perf_counter() - self.run_start,
            "rng": rng_state(self.device, aug),
        }

    def save(self, paths: list[Path], aug: torch.Generator | None = None) -> Iterator[Event]:
        if self.writer is None:
            return
        state = self.checkpoint_state(aug)
        for path in paths:
            save_checkpoint(path, state, within=self.writer.path)
            yield CheckpointSaved(str(path), self.pos.epoch, self.pos.step)

    def probe(self, force: bool = False) -> Iterator[Event]:
        """The pinned image's feature maps and the block contributions, when due (`Probes`)."""
        if self.probes is not None:
            yield from self.probes.run(self.pos.step, force)
