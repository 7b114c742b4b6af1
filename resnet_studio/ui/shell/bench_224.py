"""Studio figures at 224 px for `resnet-studio bench`, in a child process of their own:
`python -m resnet_studio.ui.shell.bench 224`. Networks of the ImageNet layout with seeded random
weights, 1,000 class names and torchvision's preparation (resize 256, crop 224); any weights cost
the same.

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

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resnet_studio.ui.common.workspaces import Workspace

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def imagenet_checkpoint(preset: str, path: Path) -> Path:
    """The preset with seeded random weights, as an imported ImageNet checkpoint would hold it."""
    import torch

    from resnet_studio.nn.checkpoint import save_checkpoint
    from resnet_studio.nn.model import build_model

    torch.manual_seed(0)
    spec = _preset(preset)
    try:  # torchvision ships ImageNet's names with its weights' metadata
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        classes = list(_IMAGENET_CATEGORIES)
    except ImportError:
        classes = [f"class {i}" for i in range(spec.classes)]
    save_checkpoint(
        path,
        {
            "architecture": spec.to_dict(),
            "model": build_model(spec).state_dict(),
            "classes": classes[: spec.classes],
            "normalization": {"mean": MEAN, "std": STD},
            "preprocessing": {
                "resize": 256,
                "crop": 224,
                "interpolation": "bilinear",
                "mean": MEAN,
                "std": STD,
            },
        },
    )
    return path


def _preset(name: str):
    """A preset by name; ResNet-152 made from ResNet-50's layout where the presets lack it."""
    from dataclasses import replace

    from resnet_studio.architecture.presets import get_preset
    from resnet_studio.errors import UserError

    try:
        return get_preset(name)
    except UserError:
        if name != "resnet152":
            raise
        spec = get_preset("resnet50")
        stages = tuple(replace(s, count=n) for s, n in zip(spec.stages, (3, 8, 36, 3), strict=True))
        return replace(spec, name="ResNet-152", stages=stages)


def _elapsed(begin: float, cpu: float) -> tuple[float, float]:
    """Milliseconds of wall time and of the process's CPU time since (`begin`, `cpu`)."""
    return (time.perf_counter() - begin) * 1000, (time.process_time() - cpu) * 1000


def _made_elsewhere(preset: str, folder: Path) -> Path:
    """The checkpoint, written by another process: making it must not count in the peak memory."""
    path = folder / f"{preset}.pt"
    code = (
        f"from resnet_studio.ui.shell.bench_224 import imagenet_checkpoint as f; f({preset!r}, {str(path)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return path


def _photo(path: Path) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    picture = np.stack([x / 2.5, y / 1.9, (x + y) / 4.4], axis=2) + rng.normal(0, 20, (480, 640, 3))
    Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def measure_224() -> dict[str, float]:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.shell.bench import _rss_mb
    from resnet_studio.ui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
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

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    classify, inspect = window.classify_view, window.inspect_view

    def drop() -> tuple[float, float]:
        begin, cpu = time.perf_counter(), time.process_time()
        app.sendEvent(window, QDragEnterEvent(QPoint(100, 100), *args))
        app.sendEvent(window, QDragMoveEvent(QPoint(100, 100), *args))
        app.sendEvent(window, QDropEvent(QPointF(100, 100), *args))
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

    window.model_source.use_checkpoint(str(_made_elsewhere("resnet50", folder)))
    drop()  # loads the checkpoint and warms torch up
    drops, drop_cpu = zip(*(drop() for _ in range(5)), strict=True)
    opened, _ = open_in_inspect()
    blocks = ["stem.relu", "stage1.block2", "stage2.block4", "stage3.block3", "stage4.block1", "stem"]
    switches, switch_cpu = zip(*(switch(block) for block in blocks), strict=True)
    figures = {
        "drop_to_top5_224_ms": round(statistics.median(drops), 1),
        "inspect_image_224_ms": round(opened, 1),
        "inspect_block_224_ms": round(statistics.median(switches), 1),
        "inspect_block_224_max_ms": round(max(switches), 1),
        # The process's CPU time for the same work, both cores counted: on a machine shared with
        # nobody the wall times above are at most about this (less where both cores work at once).
        "drop_to_top5_224_cpu_ms": round(statistics.median(drop_cpu), 1),
        "inspect_block_224_cpu_ms": round(statistics.median(switch_cpu), 1),
    }

    inspect.analysis = None  # ResNet-50's pass let go, as a new model's analysis replaces it
    inspect.last_cam = None
    path = _made_elsewhere("resnet152", folder)
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
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    return figures
