"""The loop's shape: two hops from `Trainer` to `loss.backward()`, its state in one `RunState`
made up front, its status an enum, and its hooks run in order around each step."""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import torch

from resnet_studio.training import Activations, Finished, Planned, Step, TrainConfig, Trainer
from resnet_studio.training.device import settings_for
from resnet_studio.training.events import Event, Status
from resnet_studio.training.hooks import Hooks, StepHook
from resnet_studio.training.loop import TrainingLoop
from resnet_studio.training.state import Controls, RunState

README = Path(__file__).resolve().parents[2] / "README.md"


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 1, "batch_size": 64, "lr": 0.05, "threads": 2, **kw})


def test_two_hops_from_trainer_to_backward(tiny_spec, small_demo):
    """The Python frames under `loss.backward()` are `TrainingLoop.step`, `TrainingLoop.run` and
    `Trainer.events`, in that order: nothing in between."""
    trainer = Trainer(tiny_spec, config(), data=small_demo)
    frames: list[list[tuple[str, str]]] = []

    def seen(grad: torch.Tensor) -> None:
        if not frames:
            ours = [f for f in inspect.stack() if "resnet_studio" in f.filename]
            frames.append([(Path(f.filename).name, f.function) for f in ours])

    events = trainer.events()
    next(events)  # Started: the model exists
    assert trainer.model is not None
    handle = next(trainer.model.parameters()).register_hook(seen)  # runs inside loss.backward()
    try:
        assert isinstance(list(events)[-1], Finished)
    finally:
        handle.remove()
    assert frames[0][:3] == [("loop.py", "step"), ("loop.py", "run"), ("engine.py", "events")]


def code(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).strip()


def test_the_readme_skeleton_is_the_code():
    """Each line of the README's skeleton (ten lines at most) is a line of `TrainingLoop.run`,
    in the same order."""
    text = README.read_text(encoding="utf-8")
    block = text.split("**The loop in a minute.**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    lines = [code(line) for line in block.splitlines() if line.strip()]
    assert 5 <= len(lines) <= 10
    source = [code(line) for line in inspect.getsource(TrainingLoop.run).splitlines()]
    at = 0
    for line in lines:
        assert line in source[at:], f"README's loop line not in TrainingLoop.run (in order): {line}"
        at = source.index(line, at) + 1


def test_status_is_an_enum_that_reads_as_text(tiny_spec, small_demo, tmp_path):
    finished = list(Trainer(tiny_spec, config(), tmp_path / "run", data=small_demo).events())[-1]
    assert isinstance(finished, Finished) and finished.status is Status.COMPLETED
    assert finished.status == "completed" and f"{finished.status}" == "completed"
    saved = json.loads((tmp_path / "run" / "status.json").read_text())
    assert saved["status"] == "completed"

    trainer = Trainer(tiny_spec, config(epochs=2), tmp_path / "stopped", data=small_demo)
    for event in trainer.events():
        if isinstance(event, Step) and event.step == 3:
            trainer.stop()
        last = event
    assert isinstance(last, Finished) and last.status is Status.STOPPED and last.step == 3
    assert json.loads((tmp_path / "stopped" / "status.json").read_text())["status"] == "stopped"


class Recording(StepHook):
    def __init__(self, name: str, log: list[str], ends: Status | None = None) -> None:
        self.name, self.log, self.ends = name, log, ends

    def before_step(self, run: RunState):
        self.log.append(f"before {self.name}")
        if self.ends is not None:
            run.end(self.ends, f"ended by {self.name}")
        yield from ()

    def after_step(self, run: RunState, logits, loss, labels):
        self.log.append(f"after {self.name}")
        yield Planned(1, run.step, 1.0, 0.0)


def test_hooks_run_in_order_until_one_ends_the_run():
    log: list[str] = []
    run = RunState.new(torch.device("cpu"), steps_per_epoch=4, total_steps=8, log_every=1, world=1)
    hooks = Hooks(Recording("a", log), Recording("b", log), Recording("c", log))
    events = list(hooks.after_step(run, torch.zeros(2, 3), torch.zeros(()), torch.zeros(2)))
    assert log == ["after a", "after b", "after c"] and len(events) == 3
    log.clear()
    hooks = Hooks(Recording("a", log), Recording("b", log, ends=Status.STOPPED), Recording("c", log))
    list(hooks.before_step(run))
    assert log == ["before a", "before b"] and run.status is Status.STOPPED and not run.may_step


def test_events_of_a_step_follow_the_hooks_order(tiny_spec, small_demo):
    """Budget, then metrics, then probes: a step's Planned comes before its Step, and its
    Activations after it."""
    cfg = config(epochs=3, budget=4.0, activation_interval=0.0)
    trainer = Trainer(tiny_spec, cfg, data=small_demo)
    trainer.pin_image(np.asarray(small_demo.val.images[0]))
    events: list[Event] = list(trainer.events())
    steps = [i for i, e in enumerate(events) if isinstance(e, Step)]
    assert steps and all(isinstance(events[i + 1], Activations) for i in steps)
    planned = [i for i, e in enumerate(events) if isinstance(e, Planned)]
    assert planned  # the first plan, after the steps are timed, changes the provisional length
    assert all(isinstance(events[i + 1], Step) for i in planned)


def test_the_loop_changes_only_its_state_while_it_runs(tiny_spec, small_demo):
    """Every attribute is set in the constructor: running changes none of them but `state`'s
    content (the same `RunState`, now at the run's end)."""
    cpu = settings_for(torch.device("cpu"), None, None, 2)
    loop = TrainingLoop(tiny_spec, config(epochs=2), None, Controls(), None, small_demo, lambda rank: cpu)
    before = dict(vars(loop))
    assert isinstance(loop.state, RunState) and loop.state.step == 0 and loop.state.epochs == 2
    assert loop.state.status is Status.RUNNING and loop.state.running
    last = list(loop.run())[-1]
    assert isinstance(last, Finished) and last.step == 16
    assert vars(loop).keys() == before.keys()
    assert all(getattr(loop, name) is value for name, value in before.items())
    assert loop.state.step == 16 and loop.state.epoch == 2 and loop.state.status is Status.COMPLETED
