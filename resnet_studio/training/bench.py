"""`resnet-studio bench`: engine throughput against two hand-written PyTorch loops, in one process.

- engine: `Trainer` as the command line runs it (events, metrics, the device's settings).
- bare: the same work written by hand with the engine's settings and nothing else: the ceiling.
- plain: the loop a user writes first: torchvision transforms per image in a DataLoader, NCHW
  float32, `loss.item()` every step.

All three train ResNet-20 on the same 32x32 images with the same batch size, optimizer and threads,
and are timed over the same number of steps after a warm-up. Each loop runs `rounds` times,
interleaved, and the best round counts, so a passing disturbance on a shared machine does not.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from resnet_studio.architecture.presets import get_preset
from resnet_studio.data.sources import DataSet, DataSplits, channel_stats
from resnet_studio.data.transforms import batches, epoch_order, normalize, random_crop_flip
from resnet_studio.nn.model import build_model
from resnet_studio.training.config import TrainConfig, lr_factor
from resnet_studio.training.device import choose_device, settings_for
from resnet_studio.training.engine import Trainer
from resnet_studio.training.events import Step

BATCH = 128
WARMUP = 5


def _data(n: int) -> DataSplits:
    from resnet_studio.data import demo

    images, labels = demo.generate(n, seed=3)
    train = DataSet(torch.from_numpy(images), torch.from_numpy(labels))
    val = DataSet(train.images[:BATCH], train.labels[:BATCH])
    mean, std = channel_stats(train.images)
    return DataSplits("bench", list(demo.CLASSES), train, val, mean, std)


def engine_loop(data: DataSplits, steps: int, device: str) -> float:
    config = TrainConfig(epochs=1, batch_size=BATCH, device=device, log_every=1)
    times = [
        time.perf_counter()
        for e in Trainer(get_preset("resnet20"), config, data=data).events()
        if isinstance(e, Step)
    ]
    # Step events arrive after each step: time from the end of warm-up to the end of the last step.
    return BATCH * steps / (times[WARMUP + steps - 1] - times[WARMUP - 1])


def bare_loop(data: DataSplits, steps: int, device: str) -> float:
    settings = settings_for(choose_device(device))
    dev = settings.device
    torch.manual_seed(0)
    model = build_model(get_preset("resnet20")).to(dev)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    cfg = TrainConfig()
    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
        weight_decay=cfg.weight_decay,
    )
    images, labels = data.train.images.to(dev), data.train.labels.to(dev)
    gen = torch.Generator().manual_seed(0)
    autocast = torch.autocast(dev.type, dtype=settings.amp_dtype) if settings.amp_dtype else None
    total = len(labels) // BATCH
    order = epoch_order(len(labels), 0, 0).to(dev)
    start = 0.0
    for i, (x, y) in enumerate(batches(DataSet(images, labels), BATCH, order, True)):
        if i == WARMUP:
            _sync(dev)
            start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_factor(cfg.schedule, i, total)
        x = normalize(random_crop_flip(x, gen), data.mean, data.std, channels_last=settings.channels_last)
        if autocast is not None:
            with autocast:
                loss = F.cross_entropy(model(x).float(), y)
        else:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i == WARMUP + steps - 1:
            break
    _sync(dev)
    return BATCH * steps / (time.perf_counter() - start)


def plain_loop(data: DataSplits, steps: int, device: str) -> float:
    from PIL import Image
    from torchvision import transforms

    dev = choose_device(device)
    tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(data.mean, data.std),
        ]
    )
    arrays = data.train.images.permute(0, 2, 3, 1).numpy()
    labels = data.train.labels.tolist()

    class Images(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int):
            return tf(Image.fromarray(arrays[i])), labels[i]

    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(Images(), batch_size=BATCH, shuffle=True, drop_last=True)
    model = build_model(get_preset("resnet20")).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    criterion = torch.nn.CrossEntropyLoss()
    start = 0.0
    for i, (x, y) in enumerate(loader):
        if i == WARMUP:
            start = time.perf_counter()
        x, y = x.to(dev), y.to(dev)
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        loss.item()  # what a first loop prints or accumulates
        if i == WARMUP + steps - 1:
            break
    return BATCH * steps / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_bench(
    steps: int = 30,
    device: str = "auto",
    rounds: int = 2,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    settings = settings_for(choose_device(device))
    torch.set_num_threads(settings.threads)
    data = _data(BATCH * (WARMUP + steps + 2))
    loops = {"engine": engine_loop, "bare": bare_loop, "plain": plain_loop}
    best: dict[str, float] = dict.fromkeys(loops, 0.0)
    for r in range(rounds):
        for name, loop in loops.items():
            rate = loop(data, steps, device)
            best[name] = max(best[name], rate)
            if log:
                log(f"round {r + 1}/{rounds}  {name:<6} {rate:8.1f} images/s")
    figures: dict[str, Any] = {
        "engine_images_per_s": round(best["engine"], 1),
        "bare_images_per_s": round(best["bare"], 1),
        "plain_images_per_s": round(best["plain"], 1),
        "engine_vs_bare": round(best["engine"] / best["bare"], 3),
        "engine_vs_plain": round(best["engine"] / best["plain"], 3),
        "device": settings.describe(),
        "model": "resnet20",
        "batch_size": BATCH,
        "steps": steps,
        "cpu": platform.processor() or platform.machine(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }
    if log:
        target_plain = 2.0 if settings.device.type == "cuda" else 1.15
        log(f"engine/bare  {figures['engine_vs_bare']:.3f}  (target >= 0.97)")
        log(f"engine/plain {figures['engine_vs_plain']:.3f}  (target >= {target_plain})")
    return figures
