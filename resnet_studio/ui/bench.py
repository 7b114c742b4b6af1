"""Studio figures for `resnet-studio bench`, run in a child process: `python -m resnet_studio.ui.bench`.

- startup_s: from launching the interpreter to the main window shown (imports included).
- edit_update_ms: a builder edit on ResNet-110 (the inspector's block count) to the canvas and
  summary redrawn, median of 30; edit_update_max_ms the worst of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time


def measure() -> dict[str, float]:
    started = float(os.environ.get("RESNET_STUDIO_LAUNCHED", time.time()))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    app.processEvents()
    startup = time.time() - started

    window.load_preset("resnet110")
    window.document.select(("stage", 1))
    app.processEvents()
    times = []
    for i in range(30):
        begin = time.perf_counter()
        window.inspector.count.setValue(19 if i % 2 == 0 else 18)  # one edit: canvas + summary rebuilt
        app.processEvents()
        times.append((time.perf_counter() - begin) * 1000)
    window.document.undo_stack.setClean()
    window.close()
    return {
        "startup_s": round(startup, 3),
        "edit_update_ms": round(statistics.median(times), 2),
        "edit_update_max_ms": round(max(times), 2),
    }


def studio_figures() -> dict[str, float]:
    """Run `measure` in a fresh interpreter, so that start-up counts the real imports."""
    env = {**os.environ, "RESNET_STUDIO_LAUNCHED": repr(time.time())}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "resnet_studio.ui.bench"], capture_output=True, text=True, env=env, timeout=120
    )
    if result.returncode != 0:
        return {"studio_error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure()))
