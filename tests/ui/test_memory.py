"""Freed memory goes back to the system after a large batch (glibc keeps it otherwise)."""

import sys

import numpy as np
import pytest

from resnet_studio.ui.common.memory import give_back_freed_memory


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux's")
def test_memory_freed_by_many_small_buffers_is_given_back():
    # 20 KB buffers come from malloc's heap (large ones are mapped and returned at once); keeping
    # every 50th leaves the heap fragmented, so glibc holds on to the ~300 MB freed around them.
    buffers = [np.ones(5_000, np.float32) for _ in range(15_000)]
    kept = buffers[::50]
    del buffers
    before = resident_mb()
    assert give_back_freed_memory(wait=True)
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert all(float(b[0]) == 1.0 for b in kept)  # what is still used is untouched
