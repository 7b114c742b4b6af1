"""Views observe the session model (`resnet_studio.session`) for as long as they live: an
observer connected here is disconnected when its widget is destroyed, so that the model never
calls into a deleted widget."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from resnet_studio.session import Event


def observe(owner: QObject, event: Event, observer: Callable[..., object]) -> None:
    """Call `observer` on each `event` until `owner` is destroyed."""
    event.connect(observer)
    owner.destroyed.connect(lambda *_: event.disconnect(observer))
