"""A time budget turned into a number of steps: `train --budget 10m`.

The engine reports each step and each pause between epochs (evaluation, checkpoints); the planner
measures the step time after a short warm-up and answers how many steps in all fit the budget,
evaluations included. It plans again at every epoch end and every tenth of the budget, so that the
learning-rate schedule, which follows the planned total, still completes when the time is up.
"""

from __future__ import annotations

from dataclasses import dataclass

WARMUP_STEPS = 3  # the first steps allocate and warm caches: slower than the rest
CALIBRATION_STEPS = 8  # steps timed after the warm-up before the first plan
FORWARD_SPEEDUP = 2.5  # an evaluation image costs about this much less than a training image
RESERVE_S = 1.0  # the final snapshot and the closing of the run folder


@dataclass
class BudgetPlanner:
    budget: float  # seconds, from `start`
    start: float  # time.perf_counter() when the budget began (before loading the data)
    steps_per_epoch: int
    batch_size: int
    val_images: int
    val_every: int = 1  # epochs between evaluations; 0: only after the last one
    eval_passes: int = 1  # forward passes per evaluated image (test-time augmentation's views)
    step_seconds: float | None = None  # measured seconds per training step
    epoch_overhead: float | None = None  # measured seconds between epochs (evaluation, saving)
    planned_at: float = 0.0
    _mark: tuple[int, float] | None = None  # (step, time) of the last step observed
    _timed: tuple[int, float] = (0, 0.0)  # steps and their seconds since the last measurement
    _warm: int = 0

    def elapsed(self, now: float) -> float:
        return now - self.start

    def observe_step(self, step: int, now: float) -> bool:
        """Record that `step` steps are done at `now`; True when it is time to plan (again). The
        step time adds up across epochs (their gaps left out): an epoch of a few steps still
        gets timed, and planned."""
        if self._warm < WARMUP_STEPS:
            self._warm += 1
            self._mark = (step, now)
            return False
        assert self._mark is not None
        steps = self._timed[0] + step - self._mark[0]
        seconds = self._timed[1] + now - self._mark[1]
        self._mark, self._timed = (step, now), (steps, seconds)
        if steps >= CALIBRATION_STEPS:
            self._timed = (0, 0.0)
            if self.step_seconds is None:
                self.step_seconds = seconds / steps
                return True
            # Follow drifts (another program starts, the machine warms up), smoothed.
            self.step_seconds = 0.7 * self.step_seconds + 0.3 * seconds / steps
        return self.step_seconds is not None and now - self.planned_at >= self.budget / 10

    def provisional_total(self, step: int, total: int) -> int:
        """The number of steps to run until the first plan: at least enough to time the steps
        (a short run of few steps an epoch would otherwise end before the budget is planned)."""
        return max(total, step + WARMUP_STEPS + CALIBRATION_STEPS + 1)

    def paused(self, seconds: float) -> None:
        """A pause is not spent budget: the budget's start and the timing move on by its length."""
        self.start += seconds
        if self._mark is not None:
            self._mark = (self._mark[0], self._mark[1] + seconds)

    def observe_epoch_gap(self, seconds: float, step: int, now: float, evaluated: bool = True) -> None:
        """The time from the last step of an epoch to the first of the next one could start.
        Only a gap with an evaluation in it is an evaluation's cost; the others (a checkpoint of
        a few megabytes) are small enough to leave to the step time's drift."""
        if evaluated:
            previous = self.epoch_overhead
            self.epoch_overhead = seconds if previous is None else 0.5 * (previous + seconds)
            self.planned_at = float("-inf")  # plan again with the measured gap
        self._mark = (step, now)  # the gap is not step time

    def evaluations(self, step: int, end: int) -> int:
        """How many evaluations the epochs ending after `step` up to `end` hold, the last one's included."""
        per = self.steps_per_epoch
        first, last = step // per, end // per  # epochs completed before and after
        every = self.val_every
        count = (last // every - first // every) if every else 0
        if end % per or not every or last % every:
            count += 1  # the run's last evaluation, after a partial or an unscheduled epoch
        return count

    def plan(self, step: int, now: float) -> int:
        """The total number of steps (done and to do) that ends the run within the budget."""
        self.planned_at = now
        step_s = self.step_seconds or 1.0
        overhead = self.epoch_overhead
        if overhead is None:
            passes = self.val_images * self.eval_passes
            overhead = passes / self.batch_size * step_s / FORWARD_SPEEDUP + 0.5
        left = self.budget - self.elapsed(now) - RESERVE_S

        def cost(n: int) -> float:
            return n * step_s + self.evaluations(step, step + n) * overhead

        low, high = 0, 1
        while cost(high) <= left and high < 1 << 40:
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if cost(middle) <= left else (low, middle)
        return step + max(1, low)
