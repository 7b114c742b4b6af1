"""Nothing outside resnet_studio/ui imports Qt (DESIGN.md)."""

import subprocess
import sys

QT_FREE = [
    "resnet_studio",
    "resnet_studio.architecture",
    "resnet_studio.nn",
    "resnet_studio.data",
    "resnet_studio.training",
    "resnet_studio.inspection",
    "resnet_studio.export",
    "resnet_studio.cli",
    "resnet_studio.training.bench",
    "resnet_studio.inspection.classify",
]


def test_core_packages_do_not_load_qt():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in QT_FREE)
        + "qt = ('PySide6', 'pyqtgraph', 'shiboken6', 'superqt')\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in qt)\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt modules loaded by the core: {out.stdout}"


def test_the_ui_package_does_load_qt():
    """The check above would pass vacuously if it could not see Qt at all."""
    code = "import sys, resnet_studio.ui; print('PySide6' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == "True"


def test_the_window_appears_without_importing_torch():
    """torch costs ~2 s to import: the main window must not wait for it (start-up target 2.5 s)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from resnet_studio.ui import MainWindow\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "False"
