"""What happens around each optimizer step, as small hooks: pause and stop, the time budget, the
metrics log and the probes. The loop (`loop.py`) runs them in that order; each reads and changes
the run's one state (`RunState`) and may yield events. A hook that ends the run (a stop, a
diverged loss) sets the status, and the hooks after it do not run for that step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import Tensor

from resnet_studio.runs.metrics import MetricsRecord
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.training.budget import BudgetPlanner
from resnet_studio.training.divergence import diverged_message
from resnet_studio.training.events import Event, Planned, Status, Step
from resnet_studio.training.optim import grad_norms
from resnet_studio.training.probes import Probes
from resnet_studio.training.state import Controls, RunState, Sums

Save = Callable[[list[Path]], Iterator[Event]]  # the loop's checkpoint writer


class StepHook:
    """Does nothing around a step; a hook overrides what it needs."""

    def before_step(self, run: RunState) -> Iterator[Event]:
        yield from ()

    def after_step(self, run: RunState, logits: Tensor, loss: Tensor, labels: Tensor) -> Iterator[Event]:
        yield from ()


class Hooks:
    """The hooks of a run, run in order until one ends the run."""

    def __init__(self, *hooks: StepHook) -> None:
        self.hooks = hooks

    def before_step(self, run: RunState) -> Iterator[Event]:
        for hook in self.hooks:
            yield from hook.before_step(run)
            if not run.running:
                return

    def after_step(self, run: RunState, logits: Tensor, loss: Tensor, labels: Tensor) -> Iterator[Event]:
        for hook in self.hooks:
            yield from hook.after_step(run, logits, loss, labels)
            if not run.running:
                return


class PauseAndStop(StepHook):
    """Before a step: wait while paused (a newly pinned image is still shown), and on a stop save
    a checkpoint to resume from and end the run."""

    def __init__(
        self,
        controls: Controls,
        probes: Probes | None,
        planner: BudgetPlanner | None,
        save: Save,
        last: Path | None,  # the checkpoint a stop writes
    ) -> None:
        self.controls, self.probes, self.planner, self.save, self.last = controls, probes, planner, save, last

    def before_step(self, run: RunState) -> Iterator[Event]:
        if not self.controls.running.is_set():
            yield from self.wait_while_paused(run)
        if run.step >= run.total_steps:
            return  # a budget or a step count ends the run inside this epoch: no stop to save
        if self.controls.stop.is_set():
            run.stop()
            yield from self.save([self.last] if self.last else [])

    def wait_while_paused(self, run: RunState) -> Iterator[Event]:
        paused_at = time.perf_counter()
        while not self.controls.running.wait(0.2):
            if self.probes is not None and self.probes.pinned_changed():
                yield from self.probes.run(run.step)  # a newly pinned image, shown while paused
        run.tick = time.perf_counter()  # a pause is not training time
        if self.planner is not None:
            self.planner.paused(run.tick - paused_at)


class FollowBudget(StepHook):
    """With a time budget: after the first steps (and again after the first epoch's evaluation)
    set the number of steps from the measured speed (`BudgetPlanner`)."""

    def __init__(self, planner: BudgetPlanner) -> None:
        self.planner = planner

    def after_step(self, run: RunState, logits: Tensor, loss: Tensor, labels: Tensor) -> Iterator[Event]:
        planner, now = self.planner, time.perf_counter()
        if run.epoch_ended_at is not None:
            planner.observe_epoch_gap(now - run.epoch_ended_at, run.step, now, run.epoch_evaluated)
            run.epoch_ended_at = None
        if planner.observe_step(run.step, now):
            planned = planner.plan(run.step, now)
            if planned != run.total_steps:
                run.total_steps = planned
                run.message = f"finished {planned} steps within the budget"
                yield Planned(run.epochs, planned, planner.budget, planner.elapsed(now))


class LogMetrics(StepHook):
    """After a step: add its loss and correct answers up on the device; every `log_every` steps
    and at an epoch's end, a Step event and its metrics record (the only host sync of the loop).
    A diverged loss ends the run instead."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        writer: RunDirectory | None,
        grad_groups: list[list[torch.nn.Parameter]],
        grad_norm_interval: float,  # seconds
        world: int,
        last: Path | None,
    ) -> None:
        self.optimizer, self.writer, self.world, self.last = optimizer, writer, world, last
        self.grad_groups, self.grad_norm_interval = grad_groups, grad_norm_interval

    def after_step(self, run: RunState, logits: Tensor, loss: Tensor, labels: Tensor) -> Iterator[Event]:
        n = len(labels)
        correct = (logits.argmax(1) == labels).sum()
        summed = loss.detach() * n
        run.since_log.add(summed, correct, n)
        run.epoch_sums.add(summed, correct, n)
        if not run.log_due:
            return
        yield from self.log(run)
        run.since_log = Sums(run.since_log.loss.device)
        run.tick = time.perf_counter()  # a snapshot's cost counts in the next speed

    def log(self, run: RunState) -> Iterator[Event]:
        sums = run.since_log
        mean_loss, accuracy = sums.means()
        now = time.perf_counter()
        why = run.guard.check_loss(mean_loss)
        if why is not None:
            run.end(Status.FAILED, diverged_message(why, run.epoch, run.step, self.last))
            return
        norms: tuple[float, ...] = ()
        if self.grad_groups and (now - run.grads_at >= self.grad_norm_interval or run.last_of_epoch):
            norms, run.grads_at = grad_norms(self.grad_groups), now  # a view, not a log
        lr = self.optimizer.param_groups[0]["lr"]
        speed = sums.seen * self.world / max(now - run.tick, 1e-9)
        time_s, progress = now - run.started_at, run.step / run.total_steps
        event = Step(run.epoch + 1, run.step, mean_loss, accuracy, lr, speed, time_s, progress, norms)
        if self.writer is not None:
            self.writer.append_metrics(
                # norms saved with the run: opened later, it shows its gradient flow
                MetricsRecord("train", event.epoch, run.step, mean_loss, accuracy, lr, speed, time_s, norms)
            )
        yield event


class WatchProbes(StepHook):
    """After a logged step: the pinned image's feature maps and the block contributions, when
    their intervals have passed (`Probes`)."""

    def __init__(self, probes: Probes) -> None:
        self.probes = probes

    def after_step(self, run: RunState, logits: Tensor, loss: Tensor, labels: Tensor) -> Iterator[Event]:
        if run.log_due:
            yield from self.probes.run(run.step)
