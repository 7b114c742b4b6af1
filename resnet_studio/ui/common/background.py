"""Run a function off the UI thread and get its result (or its error) back on the UI thread.

Anything that may take over ~50 ms (decoding images, reading run folders, inference) goes through
`run_in_background`, so the window never freezes. Results for a receiver that has been deleted
meanwhile are dropped.

No error is dropped silently: a job's error that its caller does not handle, and an error raised
by the caller's own `on_done` or `on_error`, is logged with its traceback and announced by
`unhandled_errors().raised` (the main window shows it in its status bar).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from resnet_studio.errors import error_text
from resnet_studio.ui.common.torch_loader import load_torch

log = logging.getLogger(__name__)


class UnhandledErrors(QObject):
    """Errors of background work that nobody handled, for the window to show."""

    raised = Signal(str)  # what the user reads

    def report(self, exc: BaseException) -> None:
        log.error("background job failed: %s", error_text(exc), exc_info=(type(exc), exc, exc.__traceback__))
        self.raised.emit(error_text(exc))


_unhandled: UnhandledErrors | None = None


def unhandled_errors() -> UnhandledErrors:
    """The one hub, made on first use (on the UI thread, where every relay reports)."""
    global _unhandled
    if _unhandled is None:
        _unhandled = UnhandledErrors()
    return _unhandled


class _Relay(QObject):
    """Lives on the UI thread: the task's signals reach its slots there, queued."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(
        self, on_done: Callable[[Any], object], on_error: Callable[[Exception], None] | None
    ) -> None:
        super().__init__()
        self.on_done = on_done
        self.on_error = on_error
        self.done.connect(self._report_done)
        self.failed.connect(self._report_failed)

    @Slot(object)
    def _report_done(self, result: Any) -> None:
        self._finish()
        try:
            self.on_done(result)
        except Exception as exc:  # noqa: BLE001 - a slot's error would otherwise only reach stderr
            unhandled_errors().report(exc)

    @Slot(object)
    def _report_failed(self, exc: Exception) -> None:
        self._finish()
        if self.on_error is None:
            unhandled_errors().report(exc)
            return
        try:
            self.on_error(exc)
        except Exception as error:  # noqa: BLE001 - as above
            unhandled_errors().report(error)

    def _finish(self) -> None:
        _pending.discard(self)
        self.deleteLater()


class _Task(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.function = function
        self.relay = relay

    def run(self) -> None:
        try:
            load_torch()  # jobs use torch; its first import must not race another thread's
            result = self.function()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's error slot
            signal, value = self.relay.failed, exc
        else:
            signal, value = self.relay.done, result
        try:
            signal.emit(value)
        except RuntimeError:  # the receiver, and its relay with it, was deleted meanwhile
            _pending.discard(self.relay)


_pending: set[_Relay] = set()  # keeps relays alive until their task reports


def run_in_background(
    function: Callable[[], Any],
    receiver: QObject,
    on_done: Callable[[Any], object],
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Call `function()` on the thread pool; `on_done(result)` or `on_error(exc)` run on the UI
    thread, and not at all once `receiver` is gone. Without `on_error`, an error is logged and
    shown as unexpected: give one wherever the job's caller shows that something is under way."""
    unhandled_errors()  # made here, on the UI thread, if not yet
    relay = _Relay(on_done, on_error)
    relay.setParent(receiver)  # deleted with the receiver: then nothing is called
    _pending.add(relay)
    QThreadPool.globalInstance().start(_Task(function, relay))


def wait_for_background(timeout_ms: int = 30_000) -> bool:
    """Block until queued background work is done (closing the window, tests)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
