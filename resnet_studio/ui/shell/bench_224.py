"""Studio figures at 224 px for `resnet-studio bench`, in a child process of their own:
`python -m resnet_studio.ui.shell.bench 224`. torchvision's networks with seeded random weights,
imported as the user imports them (1,000 class names, torchvision's preparation: resize 256, crop
224); any weights cost the same.

- import_resnet50_s: `resnet-studio import torchvision:resnet50 --from STATE_DICT.pth --out FILE`,
  the command's whole wall time (interpreter and imports included; target < 5 s).

- drop_to_top5_224_ms: a 640x480 JPEG dropped on the window to its top-5 shown, ResNet-50 on the
  CPU, median of 5 after one warm-up (target <= 400 ms).
- inspect_block_224_ms: in Inspect, another block chosen to its feature maps and Grad-CAM shown,
  ResNet-50, median over 6 blocks from the stem's to the last (target <= 1 s).
- inspect_image_224_ms: an image opened in Inspect to every block's maps and the first Grad-CAM.
- drop_to_top5_224_cpu_ms, inspect_block_224_cpu_ms: the process's CPU time for the same work, a
  figure that other programs on a shared machine do not inflate.
- memory_resnet152_inspect_mb: the studio's resident memory with a ResNet-152 loaded, a photo
  classified and inspected at four blocks (target < 2,048 MB); memory_resnet152_peak_mb its peak.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from resnet_studio.ui.common.workspaces import Workspace

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.shell.main_window import MainWindow


def _imported(network: str, folder: Path) -> tuple[Path, float]:
    """torchvision's `network` with seeded random weights, saved as a state dict and imported by
    `resnet-studio import torchvision:NAME --from FILE` (both in other processes: making them
    counts in no figure of the studio's memory); the checkpoint and the import's wall time in s."""
    state = folder / f"{network}-torchvision.pth"
    make = (
        "import torch, torchvision; torch.manual_seed(0); "
        f"torch.save(torchvision.models.{network}().state_dict(), {str(state)!r})"
    )
    subprocess.run([sys.executable, "-c", make], check=True)
    out = folder / f"{network}.pt"
    begin = time.perf_counter()
    command = ["import", f"torchvision:{network}", "--from", str(state), "--out", str(out)]
    subprocess.run([sys.executable, "-m", "resnet_studio", *command], check=True, capture_output=True)
    return out, time.perf_counter() - begin


def _elapsed(begin: float, cpu: float) -> tuple[float, float]:
    """Milliseconds of wall time and of the process's CPU time since (`begin`, `cpu`)."""
    return (time.perf_counter() - begin) * 1000, (time.process_time() - cpu) * 1000


def _photo(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    picture = np.stack([x / 2.5, y / 1.9, (x + y) / 4.4], axis=2) + rng.normal(0, 20, (480, 640, 3))
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def measure_224() -> dict[str, float]:
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.shell.bench import _rss_mb
    from resnet_studio.ui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)  # the studio's windows need a QApplication, not a QCoreApplication
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    folder = Path(tempfile.mkdtemp(prefix="resnet-studio-bench-224-"))
    photo = _photo(folder / "photo.jpg")

    def until(done) -> None:
        while not done():
            app.processEvents()
            time.sleep(0.002)  # polling costs little CPU: the CPU figures below stay the work's
        app.processEvents()  # the results painted

    classify, inspect = window.classify_view, window.inspect_view

    def drop() -> tuple[float, float]:
        begin, cpu = time.perf_counter(), time.process_time()
        _drop_file(app, window, photo)
        until(lambda: not classify.busy)
        return _elapsed(begin, cpu)

    def open_in_inspect() -> tuple[float, float]:
        window.show_workspace(Workspace.INSPECT)
        begin, cpu = time.perf_counter(), time.process_time()
        inspect.open_image(str(photo))
        until(lambda: inspect.busy == 0 and inspect.analysis is not None and inspect.last_cam is not None)
        return _elapsed(begin, cpu)

    def switch(block: str) -> tuple[float, float]:
        begin, cpu = time.perf_counter(), time.process_time()
        inspect.block.setCurrentText(block)
        until(lambda: inspect.busy == 0 and inspect.last_cam is not None and inspect.last_cam.block == block)
        return _elapsed(begin, cpu)

    checkpoint, seconds = _imported("resnet50", folder)
    window.model_source.use_checkpoint(str(checkpoint))
    drop()  # loads the checkpoint and warms torch up
    drops, drop_cpu = zip(*(drop() for _ in range(5)), strict=True)
    opened, _ = open_in_inspect()
    blocks = ["stem.relu", "stage1.block2", "stage2.block4", "stage3.block3", "stage4.block1", "stem"]
    switches, switch_cpu = zip(*(switch(block) for block in blocks), strict=True)
    figures = {
        "drop_to_top5_224_ms": round(statistics.median(drops), 1),
        "inspect_image_224_ms": round(opened, 1),
        "import_resnet50_s": round(seconds, 2),
        "inspect_block_224_ms": round(statistics.median(switches), 1),
        "inspect_block_224_max_ms": round(max(switches), 1),
        # The process's CPU time for the same work, both cores counted: on a machine shared with
        # nobody the wall times above are at most about this (less where both cores work at once).
        "drop_to_top5_224_cpu_ms": round(statistics.median(drop_cpu), 1),
        "inspect_block_224_cpu_ms": round(statistics.median(switch_cpu), 1),
    }

    inspect.analysis = None  # ResNet-50's pass let go, as a new model's analysis replaces it
    inspect.last_cam = None
    path, _ = _imported("resnet152", folder)
    window.show_workspace(Workspace.CLASSIFY)
    window.model_source.use_checkpoint(str(path))
    until(lambda: inspect.busy == 0)
    drop()
    open_in_inspect()
    for block in ("stem.relu", "stage2.block8", "stage3.block36", "stage4.block3"):
        switch(block)
    import resource

    figures["memory_resnet152_inspect_mb"] = round(_rss_mb(), 1)
    figures["memory_resnet152_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    window.document.undo_stack.setClean()
    window.close()
    shutil.rmtree(folder)
    return figures


def _drop_file(app: QApplication, window: MainWindow, path: Path) -> None:
    """A user's drag of one file onto the window, and its drop: the events Qt sends, in order."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    app.sendEvent(window, QDragEnterEvent(QPoint(100, 100), *args))
    app.sendEvent(window, QDragMoveEvent(QPoint(100, 100), *args))
    app.sendEvent(window, QDropEvent(QPointF(100, 100), *args))
