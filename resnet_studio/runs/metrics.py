"""One line of a run's `metrics.jsonl`, typed: the engine writes it, the run folder reads it back,
the studio plots it and the CSV export tabulates it. Qt-free and torch-free.

A `train` record is written every logged step (the loss and accuracy since the previous one), a
`val` record after every epoch (the held-out data's loss and accuracy). Non-finite numbers are
written as JSON null, so every line stays readable, and read back as NaN. A `train` record of a
run that measures gradient norms (the studio's) carries them when they were measured, so that the
run opened later shows its gradient flow.
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
    # train: each block's gradient L2 norm, stem to head, when measured at this step (NaN: a part
    # without trainable weights); () otherwise, and in runs that do not measure them
    grad_norms: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object, non-finite numbers as null; `grad_norms` only when there
        are some, to 6 significant digits (a bar's height, not a log of the gradients)."""
        data: dict[str, Any] = {
            f.name: _finite_or_none(value)
            for f, value in zip(fields(self), astuple(self), strict=True)
            if f.name != "grad_norms"
        }
        if self.grad_norms:
            data["grad_norms"] = [_finite_or_none(float(f"{g:.6g}")) for g in self.grad_norms]
        return data

    @classmethod
    def from_json(cls, data: Any) -> MetricsRecord | None:
        """A record from one parsed line; None when the line is not one (a foreign or broken line
        is skipped, never fatal). `lr`, `images_per_s`, `time` and `grad_norms` may be missing
        (older runs); `grad_norms` that are not a list of numbers are left out, the record kept."""
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
                _norms(data.get("grad_norms")),
            )
        except (KeyError, TypeError):
            return None


MAX_BLOCKS = 100_000  # gradient norms a record may carry: far more blocks than any network has


def _finite_or_none(value: Any) -> Any:
    """A float to 7 significant digits (the precision of the float32 tensors it comes from, so that
    a line never reads 0.5538000000000001 or 0.5537999868), None when not finite."""
    if not isinstance(value, float):
        return value
    return float(f"{value:.7g}") if math.isfinite(value) else None


def _norms(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) > MAX_BLOCKS:
        return ()
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value):
        return ()
    return tuple(math.nan if v is None else float(v) for v in value)


# The CSV export's columns: one number each (gradient norms, one per block, are not among them).
KEYS: tuple[str, ...] = tuple(f.name for f in fields(MetricsRecord) if f.name != "grad_norms")
