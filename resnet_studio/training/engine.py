"""The training engine: a Qt-free generator of events that the command line and the studio consume.

    trainer = Trainer(spec, TrainConfig(epochs=3), run_dir="runs/demo")
    for event in trainer.events():
        print(event)

`pause()`, `resume()` and `stop()` may be called from any thread; they take effect between steps.
Stopping writes a checkpoint from which `Trainer(..., resume=run_dir)` continues exactly.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.cost import too_big
from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.data.sources import DataSet, DataSplits, load_data
from resnet_studio.data.transforms import batches, epoch_order, normalize, random_crop_flip
from resnet_studio.errors import SpecError, UserError, WriteError
from resnet_studio.inspection.activations import feature_maps
from resnet_studio.inspection.evaluate import evaluate
from resnet_studio.nn.model import build_model
from resnet_studio.training import distributed as dist_helpers
from resnet_studio.training.budget import BudgetPlanner
from resnet_studio.training.checkpoint import LoadedModel, load_checkpoint, load_weights, save_checkpoint
from resnet_studio.training.config import TrainConfig, lr_factor
from resnet_studio.training.device import DeviceSettings, choose_device, device_memory, settings_for
from resnet_studio.training.divergence import DivergenceGuard, weights_finite
from resnet_studio.training.events import (
    Activations,
    CheckpointSaved,
    Evaluated,
    Event,
    Finished,
    Planned,
    Started,
    Step,
)
from resnet_studio.training.rundir import RunDirectory


class Trainer:
    def __init__(
        self,
        spec: ArchitectureSpec | None,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        *,
        resume: str | Path | None = None,
        data: DataSplits | None = None,
    ) -> None:
        """`spec` may be None when resuming (the run's architecture is used)."""
        self.config = config
        self._resume_state: dict[str, Any] | None = None
        if resume is not None:
            run = RunDirectory(resume)
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
            run_dir = resume
        if spec is None:
            raise UserError("no architecture given (use --preset, --arch or --resume)")
        self.spec = spec
        self.run = RunDirectory(run_dir) if run_dir is not None else None
        self._data = data
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._pinned: np.ndarray | None = None
        self._pinned_version = 0
        self.model: torch.nn.Module | None = None  # set when training starts
        self.data: DataSplits | None = None

    # -- control, from any thread ----------------------------------------------------------

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run wakes up to stop

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
        self._pinned = image  # one reference swap: safe from any thread
        self._pinned_version += 1

    def snapshot(self) -> LoadedModel | None:
        """A CPU copy of the weights as they are now, ready for inference while training goes on
        (a step may be half applied: fine for a look, not for a checkpoint). None before start."""
        model, data = self.model, self.data
        if model is None or data is None:
            return None
        copy = build_model(self.spec)
        copy.load_state_dict({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
        return LoadedModel(
            copy.eval(),
            self.spec,
            list(data.classes),
            list(data.mean),
            list(data.std),
            "the latest weights of the training run",
            self.config.to_dict(),
        )

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the loop ----------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """The run, as events. The run folder is locked for its writer (rank 0) from the first
        event to the last: a second process writing it is refused with a `UserError`."""
        rank, _ = dist_helpers.rank_and_world(self.config.distributed)
        writer = self.run if rank == 0 else None
        if writer is not None:
            writer.lock()
        try:
            yield from self._events()
        finally:
            if writer is not None:
                writer.unlock()

    def _events(self) -> Iterator[Event]:
        cfg = self.config
        budget_start = time.perf_counter()  # a budget counts the data loading too
        rank, world = dist_helpers.rank_and_world(cfg.distributed)
        writer = self.run if rank == 0 else None
        settings = self._settings(rank)
        torch.set_num_threads(settings.threads)
        _seed_everything(cfg.seed + rank)
        # Refused before anything is built: a small file can name a network no machine can hold.
        problem = too_big(analyze(self.spec), cfg.batch_size, device_memory(settings.device))
        if problem is not None:
            raise UserError(f"{problem}; lower the batch size, the input size or the widths")

        data = self._data or load_data(
            cfg.data,
            image_size=self.spec.input.size,
            channels=self.spec.input.channels,
            limit_train=cfg.limit_train,
            limit_val=cfg.limit_val,
            seed=cfg.seed,
            download=cfg.download,
            val_fraction=cfg.val_fraction,
        )
        self.data = data
        device = settings.device
        model = build_model(self.spec, cfg.zero_init_residual).to(device)
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model  # the weights as they train (read-only for others: inspection, tests)
        net = dist_helpers.wrap(model, cfg, device) if world > 1 else model
        optimizer = _make_optimizer(cfg, model)
        scaler = torch.amp.GradScaler(device.type) if settings.needs_grad_scaler else None

        # Gradient flow: one group of parameters per block, stem first and head last.
        parts = [model.stem, *(block for _, block in model.named_blocks()), model.head]
        grad_groups = [list(part.parameters()) for part in parts] if cfg.grad_norms else []
        steps_per_epoch = _steps_per_epoch(len(data.train), cfg.batch_size, world)
        total_steps = cfg.steps or steps_per_epoch * cfg.epochs
        epoch, step, batch_in_epoch, best, elapsed = 0, 0, 0, None, 0.0
        carried: list | None = None  # an interrupted epoch's sums, from the checkpoint
        augment_state = None
        if self._resume_state is not None:
            state = self._resume_state
            load_weights(model, state["model"], state["path"])
            try:
                optimizer.load_state_dict(state["optimizer"])
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise UserError(
                    f"{state['path']}: its optimizer state does not fit this run ({exc}); "
                    "an optimizer other than the run's cannot continue it"
                ) from None
            epoch, step = int(state["epoch"]), int(state["step"])
            batch_in_epoch = int(state.get("batch_in_epoch", 0))
            best, elapsed = state.get("best_accuracy"), float(state.get("time", 0.0))
            _restore_rng(state["rng"], device)
            augment_state = state["rng"].get("augment") if batch_in_epoch else None
            carried = state.get("epoch_sums") if batch_in_epoch else None
            if cfg.budget is not None:
                total_steps = int(state.get("schedule", {}).get("total", total_steps))
        planner = (
            BudgetPlanner(
                cfg.budget, budget_start - elapsed, steps_per_epoch, cfg.batch_size * world, len(data.val)
            )
            if cfg.budget is not None
            else None
        )
        epochs = -(-total_steps // steps_per_epoch)  # ceil: a last epoch may be partial

        if writer is not None:
            if self._resume_state is None:
                writer.create(self.spec.to_dict(), cfg.to_dict(), settings.describe())
            else:
                writer.path.mkdir(parents=True, exist_ok=True)
                # After a crash the metrics may run past the checkpoint: those steps come again.
                writer.truncate_metrics(step)
            if cfg.tensorboard:
                writer.enable_tensorboard()
            writer.write_status("running", epoch, step)
        notes = (f"skipped {data.skipped} unreadable image files",) if data.skipped else ()
        if data.empty_classes:
            notes += (f"left out class folders without images: {', '.join(data.empty_classes)}",)
        yield Started(
            str(writer.path) if writer else None,
            settings.describe(),
            epochs,
            steps_per_epoch,
            total_steps,
            step,
            sum(p.numel() for p in model.parameters()),
            tuple(data.classes),
            len(data.train),
            len(data.val),
            notes,
        )

        train_set = DataSet(data.train.images.to(device), data.train.labels.to(device))
        log_every = cfg.log_every or (1 if device.type == "cpu" else 25)
        autocast = (
            torch.autocast(device.type, dtype=settings.amp_dtype) if settings.amp_dtype else nullcontext()
        )
        size = self.spec.input.size
        probe_at, probed_version = 0.0, -1
        grads_at = -math.inf  # when gradient norms were last measured

        def probe(force: bool = False) -> Iterator[Event]:
            """Feature maps of the pinned image, throttled; a no-grad pass in eval mode."""
            nonlocal probe_at, probed_version
            image, version = self._pinned, self._pinned_version
            now = time.perf_counter()
            if image is None or rank != 0:
                return
            if not force and version == probed_version and now - probe_at < cfg.activation_interval:
                return
            probe_at, probed_version = now, version
            x = normalize(
                torch.from_numpy(image)[None].to(device),
                data.mean,
                data.std,
                size=size,
                channels_last=settings.channels_last,
            )
            maps, logits = feature_maps(model, x, max_channels=16)
            yield Activations(step, maps, tuple(torch.softmax(logits[0], 0).tolist()))

        run_start = time.perf_counter() - elapsed
        status, message = "completed", f"finished {epochs} epochs"
        # Distributed ranks see different local losses: there only a non-finite one counts (the
        # weights, the same on every rank, are checked each epoch), so that all ranks stop together.
        guard = DivergenceGuard(
            factor=math.inf if world > 1 else 20.0, first=(self._resume_state or {}).get("first_loss")
        )

        def diverged(why: str) -> str:
            where = f"training diverged at epoch {epoch + 1}, step {step}: {why}. Try a lower learning rate"
            if self.run is not None and self.run.last_checkpoint.is_file():
                return f"{where}; the last good checkpoint is kept ({self.run.last_checkpoint})"
            return f"{where}; no checkpoint was written (it diverged before its first epoch ended)"

        def checkpoint_state(aug: torch.Generator | None) -> dict[str, Any]:
            return {
                "architecture": self.spec.to_dict(),
                "classes": list(data.classes),
                "normalization": {"mean": data.mean, "std": data.std},
                "input_size": size,
                "config": cfg.to_dict(),
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "schedule": {"name": cfg.schedule, "step": step, "total": total_steps},
                "epoch": epoch,
                "step": step,
                "batch_in_epoch": batch_in_epoch,
                # The epoch's sums so far: its train loss after a resume covers the whole epoch.
                "epoch_sums": [float(epoch_loss), int(epoch_correct), epoch_seen],
                "best_accuracy": best,
                "first_loss": guard.first,
                "time": time.perf_counter() - run_start,
                "rng": _rng_state(device, aug),
            }

        def save(which: list[Path], aug: torch.Generator | None = None) -> Iterator[Event]:
            if writer is None:
                return
            state = checkpoint_state(aug)
            for path in which:
                save_checkpoint(path, state)
                yield CheckpointSaved(str(path), epoch, step)

        try:
            yield from probe()  # the untrained network's view of the pinned image
            gap_from: float | None = None  # when the last epoch's last step ended
            while epoch < epochs and step < total_steps and status == "completed":
                order = dist_helpers.shard(
                    epoch_order(len(train_set), cfg.seed, epoch),
                    rank,
                    world,
                    steps_per_epoch * cfg.batch_size,
                )
                aug = torch.Generator().manual_seed(cfg.seed * 7_919 + epoch * 31 + rank)
                if augment_state is not None:
                    aug.set_state(augment_state)
                    augment_state = None
                net.train()
                loss_sum = torch.zeros((), device=device)
                correct = torch.zeros((), device=device, dtype=torch.int64)
                epoch_loss = torch.zeros((), device=device)
                epoch_correct = torch.zeros((), device=device, dtype=torch.int64)
                seen = epoch_seen = 0
                if carried is not None:  # resumed inside this epoch
                    epoch_loss += float(carried[0])
                    epoch_correct += int(carried[1])
                    epoch_seen = int(carried[2])
                    carried = None
                tick = time.perf_counter()
                for images, labels in batches(
                    train_set, cfg.batch_size, order.to(device), True, start=batch_in_epoch
                ):
                    if not self._running.is_set():
                        paused_at = time.perf_counter()
                        while not self._running.wait(0.2):
                            if self._pinned_version != probed_version:
                                yield from probe()  # a newly pinned image, shown while paused
                        tick = time.perf_counter()  # a pause is not training time
                        if planner is not None:
                            planner.paused(tick - paused_at)
                    if step >= total_steps:
                        break  # a budget or a step count ends the run inside this epoch
                    if self._stop.is_set():
                        status, message = "stopped", f"stopped at epoch {epoch + 1}, step {step}"
                        yield from save([self.run.last_checkpoint] if self.run else [], aug)
                        break
                    for group in optimizer.param_groups:
                        group["lr"] = cfg.lr * lr_factor(cfg.schedule, step, total_steps, cfg.warmup_fraction)
                    if cfg.augment:
                        images = random_crop_flip(images, aug)
                    x = normalize(
                        images, data.mean, data.std, size=size, channels_last=settings.channels_last
                    )
                    with autocast:
                        logits = net(x)
                        loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
                    optimizer.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        loss.backward()
                        optimizer.step()
                    step += 1
                    batch_in_epoch += 1
                    if planner is not None:
                        now = time.perf_counter()
                        if gap_from is not None:
                            planner.observe_epoch_gap(now - gap_from, step, now)
                            gap_from = None
                        if planner.observe_step(step, now):
                            planned = planner.plan(step, now)
                            if planned != total_steps:
                                total_steps = planned
                                epochs = -(-total_steps // steps_per_epoch)
                                message = f"finished {total_steps} steps within the budget"
                                yield Planned(epochs, total_steps, cfg.budget, planner.elapsed(now))
                    n = len(labels)
                    batch_correct = (logits.argmax(1) == labels).sum()
                    loss_sum += loss.detach() * n
                    correct += batch_correct
                    epoch_loss += loss.detach() * n
                    epoch_correct += batch_correct
                    seen += n
                    epoch_seen += n
                    last_of_epoch = batch_in_epoch == steps_per_epoch or step == total_steps
                    if step % log_every == 0 or last_of_epoch:
                        mean_loss = float(loss_sum) / seen  # the only host sync of the loop
                        now = time.perf_counter()
                        why = guard.check_loss(mean_loss)
                        if why is not None:
                            status, message = "failed", diverged(why)
                            break
                        norms: tuple[float, ...] = ()
                        if grad_groups and (now - grads_at >= cfg.grad_norm_interval or last_of_epoch):
                            norms, grads_at = _grad_norms(grad_groups), now  # a view, not a log
                        event = Step(
                            epoch + 1,
                            step,
                            mean_loss,
                            float(correct) / seen,
                            optimizer.param_groups[0]["lr"],
                            seen * world / max(now - tick, 1e-9),
                            now - run_start,
                            step / total_steps,
                            norms,
                        )
                        if writer is not None:
                            writer.append_metrics(_metrics_record("train", event))
                        yield event
                        loss_sum.zero_()
                        correct.zero_()
                        seen = 0
                        tick = time.perf_counter()  # a snapshot's cost counts in the next speed
                        yield from probe()
                if status != "completed":
                    break
                gap_from = time.perf_counter()
                epoch += 1
                batch_in_epoch = 0
                if not weights_finite(model):  # every rank holds the same weights: all stop together
                    status, message = "failed", diverged("the weights hold NaN or infinite values")
                    break
                if rank != 0:
                    continue  # rank 0 evaluates the weights its checkpoint holds; the rest train on
                result = evaluate(
                    model,
                    data.val,
                    data.classes,
                    data.mean,
                    data.std,
                    size=size,
                    device=device,
                    channels_last=settings.channels_last,
                    amp_dtype=settings.amp_dtype,
                    tta=cfg.tta,
                )
                why = guard.check_loss(result.loss, "the validation loss") if world == 1 else None
                if why is not None:  # nothing is saved: the last good checkpoint stays as it was
                    status, message = "failed", diverged(why)
                    break
                improved = best is None or result.accuracy > best
                best = result.accuracy if improved else best
                total = max(1, epoch_seen)
                event = Evaluated(
                    epoch,
                    step,
                    result.loss,
                    result.accuracy,
                    float(epoch_loss) / total,
                    float(epoch_correct) / total,
                    time.perf_counter() - run_start,
                    improved,
                )
                if writer is not None:
                    writer.append_metrics(
                        {
                            "kind": "val",
                            "epoch": epoch,
                            "step": step,
                            "loss": result.loss,
                            "accuracy": result.accuracy,
                            "lr": optimizer.param_groups[0]["lr"],
                            "images_per_s": 0.0,
                            "time": event.time,
                        }
                    )
                yield event
                if self.run is not None:
                    targets = [self.run.last_checkpoint] + ([self.run.best_checkpoint] if improved else [])
                    yield from save(targets)
            if status != "failed":
                yield from probe(force=True)  # the final weights' view, whatever the throttle
        except GeneratorExit:
            status, message = "stopped", f"stopped at epoch {epoch + 1}, step {step}"
            raise
        except WriteError as exc:  # a full disk: the run ends here, with what was already saved
            status = "failed"
            kept = self.run.last_checkpoint if self.run and self.run.last_checkpoint.is_file() else None
            message = f"{exc}; " + (
                f"the previous checkpoint is intact ({kept})" if kept else "no checkpoint was written"
            )
        except BaseException as exc:
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if writer is not None:
                writer.close()
                # On a full disk this fails too: the lock, gone with this process, says "interrupted".
                with contextlib.suppress(WriteError):
                    writer.write_status(status, epoch, step, message)
        yield Finished(status, message, epoch, step, best, time.perf_counter() - run_start)

    def _settings(self, rank: int) -> DeviceSettings:
        cfg = self.config
        device = choose_device(cfg.device)
        if cfg.distributed and device.type == "cuda":
            device = torch.device("cuda", dist_helpers.local_rank())
            torch.cuda.set_device(device)
        threads = cfg.threads
        if threads is None and cfg.distributed:
            # Processes on one machine share its cores: more threads than cores slows all of them.
            threads = max(1, (os.cpu_count() or 1) // dist_helpers.local_world_size())
        return settings_for(device, cfg.channels_last, cfg.amp, threads)


def run_training(trainer: Trainer) -> Finished:
    """Consume all events and return the last one (tests and scripts)."""
    last = None
    for event in trainer.events():
        last = event
    assert isinstance(last, Finished)
    return last


def _steps_per_epoch(n: int, batch_size: int, world: int) -> int:
    """Full batches only (a tiny last batch would disturb BatchNorm), but at least one."""
    return max(1, n // (batch_size * world))


def _grad_norms(groups: list[list[torch.nn.Parameter]]) -> tuple[float, ...]:
    """L2 norm of each group's gradients, with one host sync for all of them."""
    norms = []
    for group in groups:
        grads = [p.grad.detach().float().norm() for p in group if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack(grads)) if grads else torch.zeros(()))
    device = norms[0].device
    return tuple(torch.stack([n.to(device) for n in norms]).cpu().tolist())


def _make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    betas = (cfg.momentum, 0.999)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)


def _metrics_record(kind: str, event: Step) -> dict[str, Any]:
    return {
        "kind": kind,
        "epoch": event.epoch,
        "step": event.step,
        "loss": event.loss,
        "accuracy": event.accuracy,
        "lr": event.lr,
        "images_per_s": event.images_per_s,
        "time": event.time,
    }


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(device: torch.device, augment: torch.Generator | None) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if augment is not None:
        state["augment"] = augment.get_state()
    return state


def _restore_rng(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    python = state.get("python")
    if python is not None:
        random.setstate((python[0], tuple(python[1]), python[2]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
