"""Saving a view's figure or numbers: a file dialog, then the view's own writer; a write that fails
(a link, a folder or a device named, a full disk) is said, never raised."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFileDialog, QWidget


def save_with_dialog(
    parent: QWidget, suggested: str, save: Callable[[str], None], say: Callable[[str], None]
) -> None:
    """Ask where to save `suggested` (its suffix picks the filter), then `save(path)`; a failure
    goes to `say` with the path and the reason."""
    kind = suggested.rsplit(".", 1)[-1]
    path, _ = QFileDialog.getSaveFileName(parent, "Save", suggested, f"{kind.upper()} (*.{kind})")
    if not path:
        return
    try:
        save(path)
    except OSError as exc:
        say(f"Not saved: {path}: {exc.strerror or exc}")
