"""Start the studio: `resnet-studio`, `resnet-studio open PATH` (a project, a run folder or a photo
to classify), `resnet-studio --screenshot FILE`."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from resnet_studio.data.images import is_image_name
from resnet_studio.errors import UserError
from resnet_studio.ui.common.background import wait_for_background
from resnet_studio.ui.common.torch_loader import load_torch


def run_studio(
    path: str | None = None,
    screenshot: str | None = None,
    workspace: str = "build",
    theme: str = "system",
    size: tuple[int, int] | None = None,
) -> int:
    if screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.common.feature_tiles import write_png
    from resnet_studio.ui.common.qt_messages import drop_harmless_qt_messages
    from resnet_studio.ui.common.theme import THEMES, apply_theme
    from resnet_studio.ui.common.workspaces import Workspace
    from resnet_studio.ui.shell.main_window import MainWindow

    first = Workspace.named(workspace)
    if theme not in THEMES:
        raise UserError(f"--theme {theme}: choose one of {', '.join(THEMES)}")
    drop_harmless_qt_messages()  # before the first window: its size hints print the first one
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)  # never a bare QCoreApplication: the studio makes widgets
    app.setApplicationName("ResNet Studio")
    app.setOrganizationName("ResNet Studio")
    apply_theme(app, theme)
    window = MainWindow()
    if size is not None:
        window.resize(*size)
    elif not screenshot:
        window.restore_geometry()
    window.show()
    # The workspace is chosen once the window is up, as a user's click would: its first layout is
    # the one a real window gives it (screenshots included).
    app.processEvents()
    window.show_workspace(first)
    if path is not None and is_image_name(Path(path)) and Path(path).is_file():
        # A photo: classified, or looked into when Inspect is the workspace asked for.
        window.open_image(path, inspect=workspace.lower() == "inspect")
    elif path is not None and not window.open_file(path) and screenshot:
        raise UserError(window.last_error or f"{path}: cannot open")
    if not screenshot:
        window.help_menu.offer_tour()  # a first launch only; Help > Tour brings it back
        # torch takes ~2 s to import: load it behind the shown window, ready for the first run.
        threading.Thread(target=load_torch, daemon=True).start()
    if screenshot:
        app.processEvents()
        # Sample previews, device names, a photo's answer: in the picture, not pending. A finished
        # job may start the next (load the model, then compute the feature maps): settle them all.
        # Runs on disk fill in a slice per pass of the event loop (a project's curves).
        for _ in range(2000):
            wait_for_background(20_000)
            app.processEvents()
            if QThreadPool.globalInstance().activeThreadCount() == 0 and not window.training.on_disk.busy:
                break
        window.canvas.fit()
        window.train_view.redraw_all()  # every plot, not only those the redraw timer reached
        app.processEvents()
        try:
            write_png(window.grab(), screenshot)
        except OSError as exc:
            raise UserError(
                f"--screenshot {screenshot}: cannot write the PNG ({exc.strerror or exc})"
            ) from None
        window.document.undo_stack.setClean()  # a screenshot never asks to save
        window.close()
        return 0
    return app.exec()
