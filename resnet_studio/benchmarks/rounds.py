"""How `bench` turns timed rounds into figures it can stand behind.

On a shared machine one round can run at a seventh of another's speed (819 images/s, then 110):
trusting the best round, or a single one, lets such a disturbance decide a ratio. So the loops run
in alternating order (forwards in odd rounds, backwards in even ones, so that a drift in the
machine's load falls on every loop alike), each figure is the median of its rounds, its spread
((max - min) / median) is reported beside it, and a figure whose spread is above
`UNRELIABLE_SPREAD` is named unreliable, in the text and in `--json`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

UNRELIABLE_SPREAD = 0.10  # a figure whose rounds differ by more than 10% of their median


@dataclass(frozen=True)
class Measured:
    rates: tuple[float, ...]  # images/s of each round, in the order they ran

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def spread(self) -> float:
        """(max - min) / median of the rounds: 0 for one round or identical rounds."""
        median = self.median
        return (max(self.rates) - min(self.rates)) / median if median > 0 else 0.0

    @property
    def unreliable(self) -> bool:
        return self.spread > UNRELIABLE_SPREAD


def round_order(names: list[str], round_index: int) -> list[str]:
    """The loops of one round: forwards in the first, third... round, backwards in the others."""
    return names if round_index % 2 == 0 else names[::-1]


def timed_rounds(
    loops: Mapping[str, Callable[[], float]],
    rounds: int,
    log: Callable[[str], None] | None = None,
) -> dict[str, Measured]:
    """Every loop run `rounds` times in alternating order; each loop returns its images/s."""
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name in round_order(list(loops), r):
            rate = loops[name]()
            rates[name].append(rate)
            if log:
                log(f"round {r + 1}/{rounds}  {name:<11} {rate:8.1f} images/s")
    return {name: Measured(tuple(values)) for name, values in rates.items()}


def spread_figures(measured: Mapping[str, Measured]) -> dict[str, object]:
    """`<name>_spread` for every loop, and `unreliable`: the loops whose spread is too wide
    (empty when every figure holds)."""
    figures: dict[str, object] = {f"{name}_spread": round(m.spread, 3) for name, m in measured.items()}
    figures["unreliable"] = [name for name, m in measured.items() if m.unreliable]
    return figures


def unreliable_lines(measured: Mapping[str, Measured]) -> list[str]:
    """One line for each figure that cannot be trusted, naming its rounds."""
    return [
        f"unreliable: {name} varied by {m.spread:.0%} across rounds "
        f"({', '.join(f'{r:.0f}' for r in m.rates)} images/s; above {UNRELIABLE_SPREAD:.0%}): "
        "rerun on a quiet machine, or with more --rounds"
        for name, m in measured.items()
        if m.unreliable
    ]
