"""The session model's observer mechanism, as small as it can be: an `Event` that calls its
observers, in the order they connected, with what changed (napari's and ndv's events, without Qt)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Observer = Callable[..., object]


class Event:
    """Observers connect; the model emits; each observer is called at once, in this thread."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def connect(self, observer: Observer) -> None:
        if observer not in self._observers:
            self._observers.append(observer)

    def disconnect(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def emit(self, *args: Any) -> None:
        for observer in list(self._observers):  # one may disconnect itself meanwhile
            observer(*args)

    def __len__(self) -> int:
        return len(self._observers)
