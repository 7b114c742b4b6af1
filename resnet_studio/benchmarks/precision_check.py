"""bf16 against float32 at equal steps: the same run (network, data, seed, schedule, number of
steps) trained once in each, and the held-out accuracy of each. bf16 must not lose accuracy at
equal steps; at equal time it should gain, since it fits more steps (issue #29).

    python -m resnet_studio.benchmarks.precision_check [--preset resnet20] [--steps 300] [--json]

A short check on the demo data, for a machine alone: it trains twice.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.data.sources import DataSplits, load_data
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.engine import Trainer
from resnet_studio.training.events import Evaluated, Started


def equal_steps(
    spec: ArchitectureSpec, data: DataSplits, steps: int, batch_size: int = 64, seed: int = 0
) -> dict[str, Any]:
    """Train `spec` for `steps` steps in float32 and in bf16 from the same start; for each, the
    last held-out accuracy, the wall time, and the run's own note on its precision."""
    figures: dict[str, Any] = {"steps": steps, "batch_size": batch_size, "network": spec.name}
    for precision in ("fp32", "bf16"):
        cfg = TrainConfig(
            data=data.source, steps=steps, batch_size=batch_size, seed=seed, precision=precision, val_every=0
        )
        began = time.perf_counter()
        events = list(Trainer(spec, cfg, data=data).events())
        accuracy = [e.accuracy for e in events if isinstance(e, Evaluated)][-1]
        started = next(e for e in events if isinstance(e, Started))
        figures[f"{precision}_accuracy"] = round(accuracy, 4)
        figures[f"{precision}_seconds"] = round(time.perf_counter() - began, 1)
        figures[f"{precision}_note"] = next((n for n in started.notes if n.startswith("precision")), "")
    figures["bf16_minus_fp32"] = round(figures["bf16_accuracy"] - figures["fp32_accuracy"], 4)
    return figures


def main(argv: list[str] | None = None) -> int:
    from resnet_studio.architecture.presets import get_preset

    parser = argparse.ArgumentParser(prog="python -m resnet_studio.benchmarks.precision_check")
    parser.add_argument("--preset", default="resnet20")
    parser.add_argument("--data", default="demo")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-val", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = load_data(args.data, limit_val=args.limit_val)
    figures = equal_steps(get_preset(args.preset), data, args.steps, args.batch_size)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<18} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
