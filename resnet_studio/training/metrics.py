"""One line of a run's `metrics.jsonl`, typed: the engine writes it, the run folder reads it back,
the studio plots it and the CSV export tabulates it. Qt-free and torch-free.

A `train` record is written every logged step (the loss and accuracy since the previous one), a
`val` record after every epoch (the held-out data's loss and accuracy). Non-finite numbers are
written as JSON null, so every line stays readable, and read back as NaN.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from typing import Any, Literal

Kind = Literal["train", "val"]


@dataclass(frozen=True)
class MetricsRecord:
    kind: Kind
    epoch: int  # train: the epoch in progress (1-based); val: the epochs completed
    step: int  # optimizer steps done, over the whole run
    loss: float
    accuracy: float  # a fraction
    lr: float  # the learning rate at this step
    images_per_s: float  # train: speed since the previous record; val: 0
    time: float  # seconds of training since the run started

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object, non-finite numbers as null."""
        return {
            f.name: None if isinstance(value, float) and not math.isfinite(value) else value
            for f, value in zip(fields(self), astuple(self), strict=True)
        }

    @classmethod
    def from_json(cls, data: Any) -> MetricsRecord | None:
        """A record from one parsed line; None when the line is not one (a foreign or broken line
        is skipped, never fatal). `lr`, `images_per_s` and `time` may be missing (older runs)."""
        if not isinstance(data, dict) or data.get("kind") not in ("train", "val"):
            return None

        def number(key: str, default: float | None = None) -> float:
            value = data.get(key, default)
            if value is None:
                return math.nan  # null: a non-finite value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(key)
            return float(value)

        try:
            step = data["step"]
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                return None
            epoch = data.get("epoch", 0)
            epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else 0
            return cls(
                data["kind"],
                epoch,
                step,
                number("loss"),
                number("accuracy"),
                number("lr", 0.0),
                number("images_per_s", 0.0),
                number("time", 0.0),
            )
        except (KeyError, TypeError):
            return None


KEYS: tuple[str, ...] = tuple(f.name for f in fields(MetricsRecord))  # the CSV export's columns
