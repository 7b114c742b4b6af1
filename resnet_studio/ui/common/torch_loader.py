"""torch and torchvision are imported by one thread at a time.

The studio opens before torch is loaded (it takes seconds), so several threads may reach for it
first: the start-up preload, a background job, a click on Train. Two threads importing torch at
once can deadlock or see a half-initialised module; this lock makes the first import happen
once, and every later call returns at once.
"""

from __future__ import annotations

import importlib
import sys
import threading

_lock = threading.Lock()


def load_torch() -> None:
    if "torchvision" in sys.modules and "torch" in sys.modules:
        return
    with _lock:
        importlib.import_module("torch")
        importlib.import_module("torchvision")
