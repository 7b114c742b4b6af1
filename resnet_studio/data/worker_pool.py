"""The pools that decode images, for the in-memory load and the on-disk cache alike.

From `PROCESS_MIN` files on, decoding runs in worker processes: PIL's JPEG reader spends most of its
time in Python (header parsing), so threads hold each other up on the GIL (CIFAR-10's training
JPEGs on 2 cores: README, What to expect on a 2-core CPU, the row on worker processes). Below it,
starting the processes costs more than it saves (~1 s: `spawn`, safe beside Qt's and torch's
threads; they import PIL only).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

PROCESS_MIN = 4000


def worker_count() -> int:
    return os.cpu_count() or 2


def decoding_pool(files: int, initializer: Callable[[], None] | None = None) -> Executor:
    """Processes for `files` of `PROCESS_MIN` or more on a machine of several cores, else threads."""
    workers = worker_count()
    if files >= PROCESS_MIN and workers > 1:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(workers, mp_context=context, initializer=initializer)
    return ThreadPoolExecutor(max_workers=workers)


def end_workers(pool: Executor) -> None:
    """End a pool's worker processes now. CPython starts `spawn` workers one per submitted task, so
    one started while the pool was breaking is never told to stop: it waits on the task queue
    forever, and shutting the pool down waits on it (seen: a worker killed in its first
    milliseconds hung the load). A chunk of the cache cut short has no marker: it is decoded again."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def broke(pool: Executor, exc: BaseException) -> bool:
    """Whether `exc` comes from a process pool that broke (a worker died). A worker that dies while
    the pool still starts others breaks it twice over: the pool closes its pipes, and starting the
    next worker then fails with "handle is closed" (OSError) or "bad value(s) in fds_to_keep"
    (ValueError) instead of BrokenProcessPool; CPython marks the pool broken before it closes them."""
    return isinstance(exc, BrokenProcessPool) or bool(getattr(pool, "_broken", False))
