"""Start the studio: `resnet-studio`, `resnet-studio open PATH`, `resnet-studio --screenshot FILE`."""

from __future__ import annotations

import os
import sys

from resnet_studio.errors import UserError


def run_studio(path: str | None = None, screenshot: str | None = None, workspace: str = "build") -> int:
    if screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.main_window import WORKSPACES, MainWindow

    if workspace.lower() not in (w.lower() for w in WORKSPACES):
        raise UserError(f"--workspace {workspace}: choose one of {', '.join(WORKSPACES)}")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ResNet Studio")
    app.setOrganizationName("ResNet Studio")
    window = MainWindow()
    window.show_workspace(workspace)
    if path is not None:
        window.statusBar().showMessage(f"Opening {path} is coming with the builder")
    window.show()
    if screenshot:
        app.processEvents()
        if not window.grab().save(screenshot):
            raise UserError(f"--screenshot {screenshot}: cannot write the PNG")
        window.close()
        return 0
    return app.exec()
