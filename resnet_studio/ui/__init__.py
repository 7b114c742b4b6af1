"""Everything Qt: the main window and its workspaces.

`MainWindow` loads on first use (PEP 562): importing a submodule (the icons, the canvas) does not
build the whole window's module tree.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MainWindow"]


def __getattr__(name: str) -> Any:
    if name != "MainWindow":
        raise AttributeError(f"module 'resnet_studio.ui' has no attribute {name!r}")
    from resnet_studio.ui.shell.main_window import MainWindow

    return MainWindow
