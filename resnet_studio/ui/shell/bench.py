"""Studio figures for `resnet-studio bench`, run in a child process: `python -m resnet_studio.ui.shell.bench`.

- startup_s: from launching the interpreter to the main window shown (imports included).
- edit_update_ms: a builder edit on ResNet-110 (the inspector's block count) to the canvas and
  summary redrawn, median of 30; edit_update_max_ms the worst of them.
- drop_to_topk_ms, feature_maps_ms: see `_inspection_figures`.
- drop_to_top5_224_ms, inspect_block_224_ms, memory_resnet152_inspect_mb: ResNet-50 and ResNet-152
  at 224 px (`python -m resnet_studio.ui.shell.bench 224`), see `bench_224`.

`python -m resnet_studio.ui.shell.bench train` measures the Train workspace (ResNet-20, demo data,
batch 128, a pinned image with live activations and gradient flow on):
- studio_vs_engine: training images/s in the studio / the headless engine with the same settings
  and threads, both over whole epochs after the first (evaluation excluded).
- studio_vs_headless: the studio's defaults / `resnet-studio train`'s defaults (no pinned image, no
  gradient norms, its own threads) on the same network and data, measured the same way: the median
  of `PAIRS` alternating studio/headless pairs' ratios, with their spread
  (studio_vs_headless_spread, highest minus lowest) and the ratios (studio_vs_headless_pairs).
- ui_lateness_p99_ms, ui_lateness_max_ms: how late a 10 ms timer on the UI thread fires while
  training runs (input, painting and redraws wait as long).
- memory_growth_mb: resident memory after epoch 10 minus after epoch 1.
- contributions_share: the share of the engine's training time spent measuring block
  contributions (the studio's strip; a 32-image no-grad pass every 2 s), target <= 0.05.
- embedding_share: the share of the studio run's time spent drawing the live embedding (the
  weights copied and 500 validation images' features, off the UI thread, after an epoch; a frame
  is skipped rather than go above 5%), target <= 0.05; embedding_frames, how many it drew.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resnet_studio.ui.common.document import Part
from resnet_studio.ui.common.workspaces import Workspace


def measure() -> dict[str, object]:
    started = float(os.environ.get("RESNET_STUDIO_LAUNCHED", time.time()))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from resnet_studio.ui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    app.processEvents()
    startup = time.time() - started

    window.load_preset("resnet110")
    window.document.select(Part.stage(1))
    app.processEvents()
    times = []
    for i in range(30):
        begin = time.perf_counter()
        window.inspector.count.setValue(19 if i % 2 == 0 else 18)  # one edit: canvas + summary rebuilt
        app.processEvents()
        times.append((time.perf_counter() - begin) * 1000)
    figures: dict[str, object] = {
        "startup_s": round(startup, 3),
        "edit_update_ms": round(statistics.median(times), 2),
        "edit_update_max_ms": round(max(times), 2),
        **_inspection_figures(app, window),
    }
    window.document.undo_stack.setClean()
    window.close()
    return figures


def _inspection_figures(app, window) -> dict[str, float]:
    """drop_to_topk_ms: a PNG dropped on the window to its top-k shown, ResNet-20 on the CPU,
    median of 10 after one warm-up; feature_maps_ms: another block chosen in Inspect to its
    feature maps (and Grad-CAM) shown, median of 10."""
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    from resnet_studio.architecture.presets import get_preset
    from resnet_studio.data import demo
    from resnet_studio.training import TrainConfig, Trainer, run_training

    folder = Path(tempfile.mkdtemp(prefix="resnet-studio-bench-"))
    config = TrainConfig(epochs=1, batch_size=128, limit_train=128, limit_val=128)
    run_training(Trainer(get_preset("resnet20"), config, folder / "run"))
    window.model_source.use_checkpoint(str(folder / "run" / "checkpoints" / "best.pt"))
    pictures, _ = demo.generate(1, seed=4)
    image = folder / "shape.png"
    Image.fromarray(pictures[0].transpose(1, 2, 0)).resize((128, 128)).save(image)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view = window.classify_view

    def until(done) -> None:
        while not done():
            app.processEvents()
            time.sleep(0.0005)
        app.processEvents()  # the results painted

    drops = []
    for i in range(11):
        begin = time.perf_counter()
        app.sendEvent(window, QDragEnterEvent(QPoint(100, 100), *args))
        app.sendEvent(window, QDragMoveEvent(QPoint(100, 100), *args))
        app.sendEvent(window, QDropEvent(QPointF(100, 100), *args))
        until(lambda: not view.busy)
        if i:  # the first loads the checkpoint and warms up torch
            drops.append((time.perf_counter() - begin) * 1000)

    inspect = window.inspect_view
    window.show_workspace(Workspace.INSPECT)
    inspect.open_image(str(image))
    until(lambda: inspect.busy == 0 and inspect.analysis is not None)
    switches = []
    for _ in range(10):
        begin = time.perf_counter()
        inspect.block.setCurrentIndex((inspect.block.currentIndex() + 1) % inspect.block.count())
        until(lambda: inspect.busy == 0)
        switches.append((time.perf_counter() - begin) * 1000)
    return {
        "drop_to_topk_ms": round(statistics.median(drops), 1),
        "feature_maps_ms": round(statistics.median(switches), 1),
    }


TRAIN_IMAGES = 1280  # 10 steps of 128 an epoch: 10 epochs in about a minute on 2 cores
EPOCHS = 10


def _rss_mb() -> float:
    """Resident memory, after handing the allocator's free pages back to the system (glibc): the
    figure then follows live memory, not the allocator's momentary cache (+-40 MB here)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak is the best available
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _epoch_rate(steps: list[tuple[int, int, float]], batch: int) -> float:
    """images/s over whole epochs after the first, from (epoch, step, engine time) of Step events;
    the gaps between epochs (evaluation, checkpoints) are left out."""
    by_epoch: dict[int, list[tuple[int, float]]] = {}
    for epoch, step, at in steps:
        by_epoch.setdefault(epoch, []).append((step, at))
    images = seconds = 0.0
    for epoch, points in by_epoch.items():
        if epoch > 1 and len(points) > 1:
            images += (points[-1][0] - points[0][0]) * batch
            seconds += points[-1][1] - points[0][1]
    return images / seconds if seconds else 0.0


REFERENCE_EPOCHS = 6  # 50 timed steps each: fewer left two runs 10% apart
PAIRS = 3  # studio/headless pairs for studio_vs_headless: single runs differ more than the gap


def _engine_reference(spec, config, data, pinned, epochs: int) -> tuple[float, float]:
    """Images/s of the headless engine with the studio's settings, threads and pinned image, and
    the share of its training time spent measuring block contributions."""
    from resnet_studio.training.engine import Trainer
    from resnet_studio.training.events import Contributions, Step

    trainer = Trainer(spec, dataclasses.replace(config, epochs=epochs), data=data)
    trainer.pin_image(pinned)
    events = list(trainer.events())
    reference = [(e.epoch, e.step, e.time) for e in events if isinstance(e, Step)]
    measuring = sum(e.seconds for e in events if isinstance(e, Contributions))
    share = measuring / reference[-1][2] if reference else 0.0
    return _epoch_rate(reference, config.batch_size), share


def _headless_rate(spec, data, batch: int, epochs: int) -> float:
    """Images/s of `resnet-studio train`'s defaults (no pinned image, no gradient norms, its own
    thread count) on the studio's network and data."""
    from resnet_studio.training.config import TrainConfig
    from resnet_studio.training.engine import Trainer
    from resnet_studio.training.events import Step

    config = TrainConfig(data="demo", epochs=epochs, limit_train=len(data.train), limit_val=len(data.val))
    events = Trainer(spec, config, data=data).events()
    return _epoch_rate([(e.epoch, e.step, e.time) for e in events if isinstance(e, Step)], batch)


def _studio_run(window, view, epochs: int, watch: bool) -> dict[str, float]:
    """One run in the Train workspace under the real event loop: its images/s over whole epochs
    after the first and, with `watch`, the UI's lateness and its memory growth."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    from resnet_studio.training.events import Evaluated, Step

    view.setup.epochs.setValue(epochs)
    steps: list[tuple[int, int, float]] = []
    memory: dict[int, float] = {}
    lateness: list[float] = []
    clock = QElapsedTimer()

    def on_event(event: object) -> None:
        if isinstance(event, Step):
            steps.append((event.epoch, event.step, event.time))
        elif isinstance(event, Evaluated) and watch:
            memory[event.epoch] = _rss_mb()
            clock.restart()  # the measurement itself (malloc_trim) is not the studio's lateness

    def tick() -> None:
        elapsed = clock.nsecsElapsed() / 1e6
        clock.restart()
        if steps:  # training has begun (data loaded, first step done)
            lateness.append(max(0.0, elapsed - 10))

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(tick)
    loop = QEventLoop()  # the real event loop, as app.exec() runs it: no polling
    window.training.engine_event.connect(on_event)
    window.training.ended.connect(loop.quit)
    try:
        view.start()
        clock.start()
        if watch:
            timer.start()
        loop.exec()
    finally:
        timer.stop()
        window.training.engine_event.disconnect(on_event)
        window.training.ended.disconnect(loop.quit)
    figures = {"rate": _epoch_rate(steps, view.setup.batch_size.value())}
    if watch:
        lateness.sort()
        figures["ui_lateness_p99_ms"] = lateness[int(0.99 * (len(lateness) - 1))] if lateness else 0.0
        figures["ui_lateness_max_ms"] = lateness[-1] if lateness else 0.0
        figures["memory_growth_mb"] = memory.get(epochs, 0.0) - memory.get(1, 0.0)
        live = view.plots.embedding_view
        figures["embedding_share"], figures["embedding_frames"] = live.share, live.frames
    return figures


def pair_figures(studio: list[float], headless: list[float]) -> dict[str, object]:
    """studio_vs_headless from alternating pairs: the median of each pair's ratio, their spread
    (highest minus lowest) and the ratios themselves."""
    ratios = [s / h for s, h in zip(studio, headless, strict=True) if h > 0]
    return {
        "studio_vs_headless": round(statistics.median(ratios), 3) if ratios else 0.0,
        "studio_vs_headless_spread": round(max(ratios) - min(ratios), 3) if ratios else 0.0,
        "studio_vs_headless_pairs": [round(r, 3) for r in ratios],
        "studio_images_per_s": round(statistics.median(studio), 1) if studio else 0.0,
        "headless_images_per_s": round(statistics.median(headless), 1) if headless else 0.0,
    }


def measure_training(
    epochs: int = EPOCHS,
    pairs: int = PAIRS,
    reference_epochs: int = REFERENCE_EPOCHS,
    train_images: int = TRAIN_IMAGES,
) -> dict[str, object]:
    """The Train workspace's figures (see the module's docstring). `studio_vs_headless`: `pairs`
    studio/headless pairs, alternating in order (studio first, then headless first, ...) so that a
    drift of the machine's speed counts against both alike; the first studio run also gives the
    UI's lateness and memory growth over `epochs` epochs, later ones and the engine's runs
    `reference_epochs`."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from resnet_studio.data.sources import load_data
    from resnet_studio.ui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.resize(1280, 800)
    window.show_workspace(Workspace.TRAIN)
    window.show()
    view = window.train_view
    view.runs_root = Path(tempfile.mkdtemp(prefix="resnet-studio-bench-"))
    view.setup.limit_train.setValue(train_images)
    view.setup.limit_val.setValue(512)
    view.setup.epochs.setValue(epochs)
    while view.pinned is None:  # the first sample is pinned once the preview has loaded
        app.processEvents()
    config = view.setup.config()
    spec = window.document.spec
    data = load_data("demo", limit_train=train_images, limit_val=512)
    engine_rate, contributions_share = _engine_reference(spec, config, data, view.pinned[0], reference_epochs)

    studio: list[float] = []
    headless: list[float] = []
    watched: dict[str, float] = {}
    for pair in range(pairs):
        for turn in ("studio", "headless") if pair % 2 == 0 else ("headless", "studio"):
            if turn == "headless":
                headless.append(_headless_rate(spec, data, config.batch_size, reference_epochs))
                continue
            first = not studio
            figures = _studio_run(window, view, epochs if first else reference_epochs, watch=first)
            studio.append(figures.pop("rate"))
            watched.update(figures)
    window.document.undo_stack.setClean()
    window.close()
    studio_rate = studio[0] if studio else 0.0
    embedding_share = watched.pop("embedding_share", 0.0)
    return {
        "studio_engine_images_per_s": round(engine_rate, 1),
        "studio_vs_engine": round(studio_rate / engine_rate, 3) if engine_rate else 0.0,
        **pair_figures(studio, headless),
        "studio_threads": config.threads or 0,
        "contributions_share": round(contributions_share, 4),
        "embedding_share": round(embedding_share, 4),
        **{key: round(value, 1) for key, value in watched.items()},
    }


def _child(*args: str, timeout: int) -> dict[str, object]:
    env = {**os.environ, "RESNET_STUDIO_LAUNCHED": repr(time.time())}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "resnet_studio.ui.shell.bench", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"studio_error": f"{' '.join(args) or 'start-up'}: no result within {timeout} s"}
    if result.returncode != 0:
        return {"studio_error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def studio_figures(training: bool = True, only_224: bool = False) -> dict[str, object]:
    """Run the measurements in fresh interpreters, so that start-up counts the real imports (and
    the 224-px figures' memory is the studio's alone)."""
    if only_224:
        return _child("224", timeout=900)
    figures = _child(timeout=120)
    if training:
        figures.update(_child("train", timeout=900))
    figures.update(_child("224", timeout=900))
    return figures


if __name__ == "__main__":
    if sys.argv[1:] == ["224"]:
        from resnet_studio.ui.shell.bench_224 import measure_224

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        print(json.dumps(measure_224()))
    else:
        print(json.dumps(measure_training() if sys.argv[1:] == ["train"] else measure()))
