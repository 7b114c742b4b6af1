"""One training run in one process, from set-up to its last event; `Trainer` (engine.py) drives it.

`TrainingLoop.run` is the whole run in one screen: epochs of batches, each batch one `step`
(schedule, augment, forward, loss, backward, update, as in airbench or nanoGPT) between the step
hooks (`hooks.py`: pause and stop, the time budget, the metrics log, the probes), and `end_epoch`
(check, evaluate, checkpoint) after each epoch. Everything that changes as the run trains lives
in one `RunState`, made in the constructor with the rest of the set-up. Losses and accuracies
add up on the device: the host waits for them only when a step is logged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

import resnet_studio.training.distributed as dist_helpers
from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.data.sources import DataSet, DataSplits, load_data
from resnet_studio.data.transforms import batches, epoch_order, normalize
from resnet_studio.errors import UserError, WriteError
from resnet_studio.inspection.evaluate import Evaluation
from resnet_studio.nn.checkpoint import load_weights, save_checkpoint
from resnet_studio.nn.model import ResNet
from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.training.augmentation import augment_batch, resolved_config, run_preparation, train_margin
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.device import DeviceSettings
from resnet_studio.training.divergence import diverged_message, weights_finite
from resnet_studio.training.events import CheckpointSaved, Evaluated, Event, Finished, Status, counted
from resnet_studio.training.hooks import FollowBudget, Hooks, LogMetrics, PauseAndStop, WatchProbes
from resnet_studio.training.optim import make_optimizer, set_lr
from resnet_studio.training.precision import settle_precision
from resnet_studio.training.probes import Probes
from resnet_studio.training.rng import augment_generator, restore_rng, rng_state
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
from resnet_studio.training.state import Controls, RunState, Sums
from resnet_studio.training.transfer import network_to_train, prepare_transfer


class TrainingLoop:
    """Set up in the constructor (data, model, optimizer, the run's state and its hooks), which
    is the only place that sets an attribute; `run()` trains, changing only `self.state`."""

    def __init__(
        self,
        spec: ArchitectureSpec,
        cfg: TrainConfig,
        folder: RunDirectory | None,
        controls: Controls,
        resume_state: dict[str, Any] | None,
        data: DataSplits | None,
        settings_for_rank: Callable[[int], DeviceSettings],
        extra_budget: bool = False,  # resuming: the budget is time from now, not the run's own
    ) -> None:
        budget_start = time.perf_counter()  # a budget counts the data loading too
        cfg = resolved_config(cfg, spec, resume_state)  # "auto" augmentation made concrete
        self.folder, self.controls, self.extra_budget = folder, controls, extra_budget
        self.rank, self.world = dist_helpers.rank_and_world(cfg.distributed)
        self.writer = folder if self.rank == 0 else None
        settings = settings_for_rank(self.rank)
        claim_process_state(settings, cfg.seed + self.rank)
        self.data, self.spec, model, notes = self._prepare(spec, cfg, settings, resume_state, data)
        self.model: ResNet = model
        self.device = device = settings.device
        net = network_to_train(model, cfg)
        self.net = dist_helpers.wrap(net, cfg, device) if self.world > 1 else net
        self.optimizer = make_optimizer(cfg, model)
        self.scaler = torch.amp.GradScaler(device.type) if settings.needs_grad_scaler else None
        steps_per_epoch = max(1, len(self.data.train) // (cfg.batch_size * self.world))  # full batches
        log_every = cfg.log_every or (1 if device.type == "cpu" else 25)
        total_steps = cfg.steps or steps_per_epoch * cfg.epochs
        self.state = run = RunState.new(device, steps_per_epoch, total_steps, log_every, self.world)
        self.resumed = resume_state is not None
        if resume_state is not None:
            self._restore(resume_state, cfg)
        self.planner = budget_planner(
            cfg,
            budget_start - (0.0 if extra_budget else run.elapsed),
            steps_per_epoch,
            cfg.batch_size * self.world,
            len(self.data.val),
        )
        if self.planner is not None and (extra_budget or not self.resumed):  # long enough to be timed
            run.total_steps = self.planner.provisional_total(run.step, run.total_steps)
        self.train_set = DataSet(self.data.train.images.to(device), self.data.train.labels.to(device))
        self.settings, self.precision = settle_precision(
            cfg, settings, model, self.spec, run.total_steps, self.world, resume_state
        )
        if self.precision is not None:  # config.json records the choice: a resume keeps it
            cfg = replace(cfg, precision=self.precision.precision)
            notes += (self.precision.note(),)
        self.cfg, self.notes = cfg, notes
        amp = self.settings.amp_dtype
        self.autocast = torch.autocast(device.type, dtype=amp) if amp else nullcontext()
        run.message = f"finished {counted(run.epochs, 'epoch')}"
        watching = self.rank == 0  # the studio watches rank 0 alone
        self.probes = Probes(model, self.data, cfg.probes, self.settings, controls) if watching else None
        self.hooks, self.pausing = self._hooks(model, cfg)

    def _prepare(
        self,
        spec: ArchitectureSpec,
        cfg: TrainConfig,
        settings: DeviceSettings,
        resume_state: dict[str, Any] | None,
        data: DataSplits | None,
    ) -> tuple[DataSplits, ArchitectureSpec, ResNet, tuple[str, ...]]:
        """The data, the network fitted to its classes, the model on its device with its first
        weights, and notes on what set-up decided; refused early where it cannot train."""
        refuse_unrunnable(spec, cfg, settings)
        data = data or load_data(
            cfg.data,
            image_size=run_preparation(cfg, spec, resume_state),
            channels=spec.input.channels,
            limit_train=cfg.limit_train,
            limit_val=cfg.limit_val,
            seed=cfg.seed,
            download=cfg.download,
            val_fraction=cfg.val_fraction,
            train_margin=train_margin(cfg),
            data_memory=cfg.data_memory,
            progress=self.controls.preparing,
            prepares=self.rank == 0,  # one on-disk cache for all ranks: the others wait for it
        )
        # The output layer follows the data's classes: the spec returned is what the folder records.
        spec, fitted = fit_outputs(spec, list(data.classes), resume_state)
        if fitted:  # a larger output layer is checked as the network was, before it is built
            refuse_unrunnable(spec, cfg, settings)
        refuse_lone_images(analyze(spec), cfg.batch_size, len(data.train) // self.world)
        model, initialized = prepared_model(spec, cfg, data, settings, fresh=resume_state is None)
        data, transferred = prepare_transfer(model, cfg, data, resume_state)  # its frozen part
        return data, spec, model, fitted + initialized + transferred

    def _hooks(self, model: ResNet, cfg: TrainConfig) -> tuple[Hooks, PauseAndStop]:
        """The step hooks, in the order they run: pause and stop, budget, metrics, probes."""
        last = self.folder.last_checkpoint if self.folder else None
        pausing = PauseAndStop(self.controls, self.probes, self.planner, self.save, last)
        # Gradient flow: one group of parameters per block, stem first and head last.
        parts = [model.stem, *(block for _, block in model.named_blocks()), model.head]
        groups = [list(part.parameters()) for part in parts] if cfg.grad_norms else []
        log = LogMetrics(self.optimizer, self.writer, groups, cfg.grad_norm_interval, self.world, last)
        budget = [FollowBudget(self.planner)] if self.planner is not None else []
        probes = [WatchProbes(self.probes)] if self.probes is not None else []
        return Hooks(pausing, *budget, log, *probes), pausing

    def _restore(self, saved: dict[str, Any], cfg: TrainConfig) -> None:
        load_weights(self.model, saved["model"], saved["path"])
        try:
            self.optimizer.load_state_dict(saved["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise UserError(
                f"{saved['path']}: its optimizer state does not fit this run ({exc}); "
                "an optimizer other than the run's cannot continue it"
            ) from None
        self.state.restore(saved, cfg.seed, self.rank)
        restore_rng(saved["rng"], self.device)
        if cfg.budget is not None and not self.extra_budget:  # the run's own budget, continued
            self.state.total_steps = int(saved.get("schedule", {}).get("total", self.state.total_steps))

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Iterator[Event]:
        """The run, as events: the README's skeleton, with the endings a run can have."""
        run = self.state
        yield from self.start()
        try:
            yield from self.probe()  # the untrained network's view of the pinned image
            while run.training:
                yield from self.before_epoch()
                for images, labels, aug in self.epoch_batches():
                    yield from self.hooks.before_step(run)  # pause, stop
                    if not run.may_step:
                        break
                    logits, loss = self.step(images, labels, aug)
                    yield from self.hooks.after_step(run, logits, loss, labels)  # budget, log, probes
                    if not run.running:
                        break
                if not run.running:
                    break
                yield from self.end_epoch()
            run.complete()  # unless a stop or a failure ended it first
            if run.status is not Status.FAILED:
                yield from self.probe(force=True)  # the final weights' view, whatever the throttle
        except GeneratorExit:
            if run.running:  # closed while training; once complete, it stays so
                run.stop()
            raise
        except WriteError as exc:  # a full disk: the run ends here, with what was already saved
            last = self.folder.last_checkpoint if self.folder else None
            kept = last is not None and last.is_file()
            why = f"the previous checkpoint is intact ({last})" if kept else "no checkpoint was written"
            run.end(Status.FAILED, f"{exc}; {why}")
        except BaseException as exc:
            run.end(Status.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
                # On a full disk this fails too: the lock, gone with this process, says "interrupted".
                with contextlib.suppress(WriteError):
                    plan = (run.epochs, run.total_steps)  # a budget's, as planned by now
                    self.writer.write_status(run.status, run.epoch, run.step, run.message, plan)
        elapsed = time.perf_counter() - run.started_at
        yield Finished(run.status, run.message, run.epoch, run.step, run.best, elapsed)

    def start(self) -> Iterator[Event]:
        """The run folder opened (rank 0), the Started event, and the run's clock started."""
        run = self.state
        if self.writer is not None:
            initial = None if self.resumed else inference_state(self.spec, self.cfg, self.data, self.model)
            trial = {"precision_trial": self.precision.to_dict()} if self.precision else {}
            plan = (run.epochs, run.total_steps)
            open_run_folder(
                self.writer, self.spec, self.cfg, self.settings, initial, run, trial, self.extra_budget, plan
            )
        yield started_event(
            self.writer,
            self.settings,
            self.data,
            self.model,
            run.steps_per_epoch,
            run.total_steps,
            run.step,
            notes=self.notes,
        )
        run.started_at = time.perf_counter() - run.elapsed

    def step(self, images: Tensor, labels: Tensor, aug: torch.Generator) -> tuple[Tensor, Tensor]:
        """One optimizer step on a batch of uint8 images: (logits, loss)."""
        cfg, run = self.cfg, self.state
        set_lr(self.optimizer, cfg, run.step, run.total_steps)
        images = augment_batch(images, aug, cfg, self.spec.input.size)
        size, channels_last = self.spec.input.size, self.settings.channels_last
        x = normalize(images, self.data.mean, self.data.std, size=size, channels_last=channels_last)
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
        run.step += 1
        run.batch_in_epoch += 1
        return logits, loss

    # -- around the epochs ---------------------------------------------------------------------

    def before_epoch(self) -> Iterator[Event]:
        """What an epoch needs before its batches (nothing here; a transfer probe's feature pass)."""
        yield from ()

    def epoch_batches(self) -> Iterator[tuple[Tensor, Tensor, torch.Generator]]:
        """The epoch's batches from where it stands (a resumed epoch continues inside), each with
        the epoch's augmentation generator; the epoch's sums and clock start in the run's state."""
        cfg, run = self.cfg, self.state
        train_set = self.train_data()
        used = run.steps_per_epoch * cfg.batch_size
        order = epoch_order(len(train_set), cfg.seed, run.epoch)
        order = dist_helpers.shard(order, self.rank, self.world, used)
        if run.augment is None:  # a resumed epoch continues with its saved generator
            run.augment = augment_generator(cfg.seed, run.epoch, self.rank)
        aug = run.augment
        self.net.train()
        run.since_log = Sums(self.device)
        if run.batch_in_epoch == 0:  # a resumed epoch keeps its sums so far
            run.epoch_sums = Sums(self.device)
        run.tick = time.perf_counter()
        start = run.batch_in_epoch
        for images, labels in batches(train_set, cfg.batch_size, order.to(self.device), True, start=start):
            yield images, labels, aug

    def train_data(self) -> DataSet:
        """What the steps train on: the training images on the device."""
        return self.train_set

    def end_epoch(self) -> Iterator[Event]:
        """Check the weights, evaluate them (rank 0, every `val_every` epochs and after the last)
        and checkpoint them."""
        run, every = self.state, self.cfg.val_every
        run.epoch_ended_at = time.perf_counter()
        run.epoch += 1
        run.batch_in_epoch = 0
        run.augment = None  # the next epoch's generator follows from (seed, epoch, rank)
        if not self.weights_finite():  # every rank holds the same weights: all stop together
            run.end(Status.FAILED, self._diverged("the weights hold NaN or infinite values"))
            return
        last = run.epoch >= run.epochs or run.step >= run.total_steps
        run.epoch_evaluated = last or (every > 0 and run.epoch % every == 0)
        if self.rank != 0:
            return  # rank 0 evaluates the weights its checkpoint holds; the rest train on
        if not run.epoch_evaluated:  # saved to resume from; "best" waits for an evaluation
            if self.folder is not None:
                yield from self.save([self.folder.last_checkpoint])
            return
        result = self.evaluate_weights()
        why = run.guard.check_loss(result.loss, "the validation loss") if self.world == 1 else None
        if why is not None:  # nothing is saved: the last good checkpoint stays as it was
            run.end(Status.FAILED, self._diverged(why))
            return
        improved = run.best is None or result.accuracy > run.best
        run.best = result.accuracy if improved else run.best
        train_loss, train_accuracy = run.epoch_sums.means()
        now = time.perf_counter() - run.started_at
        yield Evaluated(
            run.epoch, run.step, result.loss, result.accuracy, train_loss, train_accuracy, now, improved
        )
        if self.writer is not None:
            lr = self.optimizer.param_groups[0]["lr"]
            record = MetricsRecord("val", run.epoch, run.step, result.loss, result.accuracy, lr, 0.0, now)
            self.writer.append_metrics(record)
        if self.folder is not None:
            targets = [self.folder.last_checkpoint] + ([self.folder.best_checkpoint] if improved else [])
            yield from self.save(targets)

    def weights_finite(self) -> bool:
        return weights_finite(self.model)

    def evaluate_weights(self) -> Evaluation:
        """The weights on the run's validation images."""
        return validate(self.model, self.data, self.spec, self.cfg, self.settings)

    def _diverged(self, why: str) -> str:
        checkpoint = self.folder.last_checkpoint if self.folder else None
        return diverged_message(why, self.state.epoch, self.state.step, checkpoint)

    # -- checkpoints and the pinned image -----------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything an exact resume needs, and everything inference needs (resources/FORMATS.md)."""
        cfg, run = self.cfg, self.state
        return {
            **inference_state(self.spec, cfg, self.data, self.model),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"name": cfg.schedule, "step": run.step, "total": run.total_steps},
            "epoch": run.epoch,
            "step": run.step,
            "batch_in_epoch": run.batch_in_epoch,
            # The epoch's sums so far: its train loss after a resume covers the whole epoch.
            "epoch_sums": run.epoch_sums.saved(),
            "best_accuracy": run.best,
            "first_loss": run.guard.first,
            "time": time.perf_counter() - run.started_at,
            "rng": rng_state(self.device, run.augment),  # the epoch's generator, when inside one
        }

    def save(self, paths: list[Path]) -> Iterator[Event]:
        if self.writer is None:
            return
        state = self.checkpoint_state()
        for path in paths:
            save_checkpoint(path, state, within=self.writer.path)
            yield CheckpointSaved(str(path), self.state.epoch, self.state.step)

    def probe(self, force: bool = False) -> Iterator[Event]:
        """The pinned image's feature maps and the block contributions, when due (`Probes`)."""
        if self.probes is not None:
            yield from self.probes.run(self.state.step, force)
