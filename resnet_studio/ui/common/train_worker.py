"""Training off the UI thread: the engine's generator runs in a QThread and its events cross to the
UI thread as queued signals. Pause, continue and stop go straight to the engine (thread-safe).

One word a concept: *continue* is un-pausing (the Pause button reads Continue while paused; the
engine's method is still `Trainer.resume`), *Resume* is continuing a saved run (Runs > Resume,
`--resume RUN`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from resnet_studio.errors import UserError

if TYPE_CHECKING:
    from resnet_studio.training.engine import Trainer


def studio_threads() -> int:
    """Torch threads for training inside the studio by default: every core, as the command line.
    Measured on 2 cores with live activations and gradient flow: the UI thread stays within its
    targets (it mostly waits, and torch's kernels release the GIL); Setup's CPU threads lowers it."""
    return max(1, os.cpu_count() or 1)


class _Worker(QObject):
    engine_event = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.trainer = trainer

    @Slot()
    def run(self) -> None:
        try:
            for event in self.trainer.events():
                self.engine_event.emit(event)
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a failed run must never take the window down
            self.failed.emit(f"training failed: {type(exc).__name__}: {exc}")
        finally:
            self.done.emit()


class TrainingSession(QObject):
    """One training run on its own thread; `engine_event`, `failed` and `finished` arrive on the UI
    thread."""

    engine_event = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, trainer: Trainer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trainer = trainer
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("training")
        self.worker = _Worker(trainer)
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.run)
        self.worker.engine_event.connect(self.engine_event)
        self.worker.failed.connect(self.failed)
        # Direct: quit() is thread-safe, and a queued call would wait for a UI thread that may be
        # blocked in wait() (closing the window) - a deadlock.
        self.worker.done.connect(self.worker_thread.quit, Qt.ConnectionType.DirectConnection)
        self.worker_thread.finished.connect(self.finished)
        # Stop asked, or the run's Finished event seen: what runs now is the thread winding up
        # (the last checkpoint, closing the data workers), not training.
        self.winding_up = False

    def start(self) -> None:
        self.worker_thread.start()

    @property
    def running(self) -> bool:
        return self.worker_thread.isRunning()

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        """Continue after a pause (not Resume, which continues a saved run)."""
        self.trainer.resume()

    def stop(self, wait_ms: int = 0) -> bool:
        """Ask the engine to stop after the current step (it writes a checkpoint); optionally wait."""
        self.winding_up = True
        self.trainer.stop()
        return self.worker_thread.wait(wait_ms) if wait_ms else True
