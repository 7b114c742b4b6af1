"""The one owner of Python's garbage collector in the studio's process (nothing else in the
package calls `gc`'s switches: tests/test_layering.py checks).

Two rules, both process-wide, and meant to be: the studio owns its process.

- Collection runs on the UI thread only. Python's cyclic collector runs in whichever thread
  happens to allocate. Were that a worker (decoding images, importing torch) while a cycle holds
  Qt objects, their C++ destructors would run on the wrong thread and can deadlock it against the
  UI thread (seen in tests: a worker stuck for good in the middle of an import). So automatic
  collection is switched off (`install`) and a timer on the UI thread collects each generation
  once it has as many new objects as the collector's own thresholds would allow.
- While a run trains, what was alive at its start is frozen (`run_started`): moved out of the
  collector's sight, so that a full collection on the UI thread (torch's and Qt's modules, mostly)
  no longer holds the window for ~0.4 s. The young generations are collected first (milliseconds),
  so that little garbage is frozen with the rest. `run_ended` unfreezes it: between runs the
  collector sees everything again, and a run's objects are not kept for the rest of the session.

`uninstall` gives the process back its automatic collection (a test, or the studio embedded).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 50  # between two looks at the collector's counts: each look costs microseconds


class GarbageCollection(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.collect_due)
        self.installed = False
        self.was_enabled = True  # the collector's state before `install`
        self.frozen = False

    def install(self) -> None:
        """Collect on the UI thread from now on (call it there; a second call changes nothing)."""
        if self.installed:
            return
        self.installed, self.was_enabled = True, gc.isenabled()
        gc.disable()
        app = QCoreApplication.instance()
        if app is not None and self.thread() is not app.thread():
            self.moveToThread(app.thread())
        self.timer.start()

    def uninstall(self) -> None:
        """Automatic collection as before `install`; a frozen run's objects are unfrozen."""
        self.run_ended()
        if not self.installed:
            return
        self.timer.stop()
        self.installed = False
        if self.was_enabled:
            gc.enable()

    def collect_due(self) -> None:
        """Each generation whose count is over the collector's threshold for it, youngest first:
        what automatic collection would have done, here on the UI thread."""
        thresholds, counts = gc.get_threshold(), gc.get_count()
        for generation in range(3):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                counts = gc.get_count()

    def run_started(self) -> None:
        if not self.frozen:
            gc.collect(1)
            gc.freeze()
            self.frozen = True

    def run_ended(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False


_policy: GarbageCollection | None = None


def garbage_collection() -> GarbageCollection:
    """The process's one policy (made on first use, on the UI thread)."""
    global _policy
    if _policy is None:
        _policy = GarbageCollection()
    return _policy
