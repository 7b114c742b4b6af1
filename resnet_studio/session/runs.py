"""The runs of the session and the comparisons made of them, as records of what the engine
reported: each run's validation results, its smoothed training loss and its latest gradient
norms. A comparison's verdict is computed from these records, never from what a plot holds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from resnet_studio.session.compare import TwinResult, summarize, summarize_degradation

if TYPE_CHECKING:
    from resnet_studio.runs.metrics import MetricsRecord

ComparisonKind = Literal["twins", "degradation"]
Origin = Literal["trained", "followed"]


@dataclass(frozen=True)
class Evaluation:
    epoch: int
    step: int
    loss: float
    accuracy: float  # a fraction


@dataclass(eq=False)
class RunRecord:
    """One run of the session: trained here, or followed on disk while another process writes it."""

    name: str  # its label: the plots' legend, a comparison's paragraph
    run_dir: Path | None = None
    origin: Origin = "trained"
    classes: int | None = None  # of the data it trains on, once the run has started
    step: int = 0  # the last step reported
    smoothed_loss: float | None = None  # training loss smoothed as the loss plot smooths it
    grads: tuple[float, ...] = ()  # the latest per-block gradient norms, stem to head
    evaluations: list[Evaluation] = field(default_factory=list)

    def add_step(self, step: int, loss: float, grads: tuple[float, ...] = ()) -> None:
        self.step = step
        self.smoothed_loss = smoothed(self.smoothed_loss, loss)
        if grads:
            self.grads = tuple(grads)

    def add_evaluation(self, epoch: int, step: int, loss: float, accuracy: float) -> None:
        self.evaluations.append(Evaluation(epoch, step, loss, accuracy))

    def add_record(self, record: MetricsRecord) -> None:
        """One line of a run's metrics.jsonl (a run followed from disk, a resumed run's past)."""
        if record.kind == "train":
            self.add_step(record.step, record.loss, record.grad_norms)
        else:
            epoch = record.epoch or len(self.evaluations) + 1
            self.add_evaluation(epoch, record.step, record.loss, record.accuracy)

    @property
    def accuracy(self) -> float | None:
        """The last validation accuracy, a fraction."""
        return self.evaluations[-1].accuracy if self.evaluations else None

    def result(self) -> TwinResult:
        return TwinResult(self.accuracy, self.smoothed_loss, self.grads)


def smoothed(previous: float | None, value: float) -> float | None:
    """The next point of a loss smoothed like TensorBoard's (0.9 of the last, 0.1 of the new); a
    non-finite value leaves it as it was."""
    if not math.isfinite(value):
        return previous
    return value if previous is None else 0.9 * previous + 0.1 * value


@dataclass(eq=False)
class Comparison:
    """Plain vs residual ("twins": the network, then its plain twin) or the degradation experiment
    (the network, its plain twin, the network three times as deep, its plain twin)."""

    kind: ComparisonKind
    network: str
    classes: int  # of the network's output, where its runs do not say what their data has
    runs: list[RunRecord] = field(default_factory=list)
    verdict: str | None = None  # once every run completed: what they show, in a paragraph

    @property
    def size(self) -> int:
        return 2 if self.kind == "twins" else 4

    def conclude(self) -> str:
        """The verdict from the runs' records (all `size` of them completed)."""
        results = [run.result() for run in self.runs]
        if self.kind == "twins":
            verdict = summarize(self.network, results[0], results[1])
        else:
            classes = next((run.classes for run in self.runs if run.classes), self.classes)
            verdict = summarize_degradation([run.name for run in self.runs], results, classes)
        self.verdict = verdict
        return verdict
