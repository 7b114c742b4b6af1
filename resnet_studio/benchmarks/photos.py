"""`resnet-studio bench --photos`: a user's own photos on this machine (issue 26's figures).

A generated folder of photo-like 640x480 JPEGs (`photolike.py`), kept in the user's cache folder
so that a second run skips making them, is timed by each function of `ROWS`; each returns its own
figures, merged into one table. The cache rows:
- cache_prepare_s: the folder's images prepared into the on-disk cache from scratch (decoding in
  worker processes included), with the memory budget set below their decoded size;
- cache_images_per_s, memory_images_per_s, cache_vs_memory: `steps` training steps of the network
  (after `warmup` steps) reading batches from that cache, and the same steps on the same images
  held in memory (target: the cache at least 0.90 as fast);
- peak_rss_mb: the highest resident memory of any process of the cache's run: preparing (its
  decode workers included) and training from the cache (target <= 2,500 MB).
Every measurement runs in a fresh process, so that one's memory is not counted in another's.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from resnet_studio.architecture.presets import get_preset
from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.benchmarks.photolike import make_photo_folder
from resnet_studio.data.cache_location import CACHE_FOLDER, user_cache_root

Log = Callable[[str], None] | None


@dataclass(frozen=True)
class PhotoBench:
    """What the photo rows measure; the defaults are the issue's sizes (tests use tiny ones)."""

    images: int = 20_000
    width: int = 640
    height: int = 480
    classes: int = 10
    preset: str = "resnet18"
    size: int = 224  # the network's input, in pixels
    steps: int = 100
    warmup: int = 5  # steps before the timed ones (allocations, first-call costs)
    batch_size: int = 32
    budget_fraction: float = 0.5  # the memory budget, as a share of the decoded images
    root: Path | None = None  # where the photo folders are kept (default: the user's cache folder)
    network: ArchitectureSpec | None = None  # instead of the preset (a tiny one in the tests)

    @property
    def folder(self) -> Path:
        base = self.root or user_cache_root() / "bench"
        return base / f"photos-{self.images}-{self.width}x{self.height}-{self.classes}"

    @property
    def budget(self) -> int:
        """Bytes: below the decoded images whatever margin the decode keeps (at least `size`)."""
        return max(1, int(self.budget_fraction * self.images * 3 * self.size * self.size))


def _peak_mb(who: int) -> float:
    """The peak resident memory of this process (or of its waited-for children), in MB."""
    peak = resource.getrusage(who).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)  # bytes on macOS, KB elsewhere


def _prepare(bench: PhotoBench) -> dict[str, Any]:
    """In a child process: the cache prepared from scratch, timed."""
    from resnet_studio.data.sources import load_data

    started = time.perf_counter()
    data = load_data(f"folder:{bench.folder}", image_size=bench.size, data_memory=bench.budget)
    seconds = time.perf_counter() - started
    cache_bytes = sum(f.stat().st_size for f in (bench.folder / CACHE_FOLDER).glob("*/images.u8"))
    return {
        "cache_prepare_s": round(seconds, 1),
        "cache_mb": round(cache_bytes / 1e6, 1),
        "train_images": len(data.train),
        "prepare_peak_rss_mb": _peak_mb(resource.RUSAGE_SELF),
        "prepare_workers_peak_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN),
        "note": data.storage,
    }


def _train(bench: PhotoBench, in_memory: bool) -> dict[str, Any]:
    """In a child process: the timed steps, reading the cache or the same images in memory."""
    import torch

    from resnet_studio.data.dataset import DataSet
    from resnet_studio.data.sources import load_data
    from resnet_studio.data.stored import StoredImages
    from resnet_studio.training import TrainConfig, Trainer
    from resnet_studio.training.events import Step

    data = load_data(f"folder:{bench.folder}", image_size=bench.size, data_memory=bench.budget)
    if not isinstance(data.train.images, StoredImages):
        raise RuntimeError(f"the photos were not read from the cache: {data.storage}")
    data.val = data.val.subset(bench.batch_size, 0)  # the closing evaluation is not what is timed
    if in_memory:
        data.train = DataSet(torch.from_numpy(data.train.images.numpy()), data.train.labels)
    spec = bench.network or get_preset(bench.preset)
    spec = replace(spec, input=replace(spec.input, size=bench.size), classes=len(data.classes))
    steps = bench.warmup + bench.steps
    config = TrainConfig(steps=steps, batch_size=bench.batch_size, log_every=1, val_every=0)
    times = [time.perf_counter() for e in Trainer(spec, config, data=data).events() if isinstance(e, Step)]
    rate = bench.batch_size * bench.steps / (times[steps - 1] - times[bench.warmup - 1])
    kind = "memory" if in_memory else "cache"
    return {f"{kind}_images_per_s": round(rate, 2), f"{kind}_peak_rss_mb": _peak_mb(resource.RUSAGE_SELF)}


def _in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def cache_rows(bench: PhotoBench, log: Log) -> dict[str, Any]:
    """The cache prepared from scratch, then the steps from it and from memory (see the module)."""
    if log:
        log(f"photos: {bench.images:,} JPEGs of {bench.width}x{bench.height} in {bench.folder}")
    make_photo_folder(bench.folder, bench.images, bench.classes, width=bench.width, height=bench.height)
    shutil.rmtree(bench.folder / CACHE_FOLDER, ignore_errors=True)  # timed from scratch
    figures = _in_child(_prepare, bench)
    if log:
        log(f"cache prepared in {figures['cache_prepare_s']} s ({figures['note']})")
    for in_memory in (False, True):
        figures |= _in_child(_train, bench, in_memory)
        if log:
            kind = "memory" if in_memory else "cache"
            rate = figures[f"{kind}_images_per_s"]
            log(f"{bench.steps} steps of {bench.preset} from {kind}: {rate} images/s")
    figures["cache_vs_memory"] = round(figures["cache_images_per_s"] / figures["memory_images_per_s"], 3)
    figures["peak_rss_mb"] = max(
        figures["prepare_peak_rss_mb"], figures["prepare_workers_peak_rss_mb"], figures["cache_peak_rss_mb"]
    )
    if log:
        log(f"cache/memory {figures['cache_vs_memory']:.3f} (target >= 0.90)")
        log(f"peak resident memory {figures['peak_rss_mb']:.0f} MB (target <= 2500)")
        log(f"cache preparation {figures['cache_prepare_s']} s (target <= 180 on 2 cores)")
    return figures


TRANSFER_PHOTOS = 1_000  # the transfer figures: 1,000 photos of 640x480


def transfer_rows(bench: PhotoBench, log: Log) -> dict[str, Any]:
    """`transfer-probe` (ResNet-18, ResNet-50) and `transfer-finetune` (ResNet-18, 3 epochs), each
    timed from the command to its checkpoint on 1,000 photos (`benchmarks/transfer.py`)."""
    from resnet_studio.benchmarks.transfer import transfer_figures

    folder = bench.folder.parent / f"photos-{TRANSFER_PHOTOS}-{bench.width}x{bench.height}-{bench.classes}"
    make_photo_folder(folder, TRANSFER_PHOTOS, bench.classes, width=bench.width, height=bench.height)
    return transfer_figures(folder, log=log or None)


Row = Callable[[PhotoBench, Log], dict[str, Any]]
# The rows `bench --photos` runs, in order; each measures on its own photo folder and returns its
# figures.
ROWS: list[Row] = [cache_rows, transfer_rows]


def run_photo_bench(bench: PhotoBench | None = None, log: Log = print) -> dict[str, Any]:
    bench = bench or PhotoBench()
    figures: dict[str, Any] = {
        "photos": bench.images,
        "photo_size": f"{bench.width}x{bench.height}",
        "network": f"{bench.preset} at {bench.size} px, batch {bench.batch_size}",
        "cpus": os.cpu_count(),
    }
    for row in ROWS:
        figures |= row(bench, log)
    return figures
