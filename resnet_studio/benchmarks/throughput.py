"""`resnet-studio bench`: engine throughput against two hand-written PyTorch loops, in one process.

- engine: `Trainer` as the command line runs it (events, metrics, the device's settings).
- bare: the engine's own set-up and step (`TrainingLoop.step`) on the same batches, with nothing
  around the step (no events, metrics, sums or probes): the ceiling, and like with like.
- plain: the loop a user writes first: torchvision transforms per image in a DataLoader, NCHW
  float32, `loss.item()` every step.

All three train ResNet-20 on the same 32x32 images with the same batch size, SGD and threads, and
are timed over the same number of steps after a warm-up. Each loop runs `rounds` times in
alternating order and each figure is the median of its rounds, reported with its spread; a figure
whose rounds disagree by more than 10% is named unreliable (`rounds.py`).

On a CPU the engine and the bare loop train in the precision `--precision auto` chooses for this
network and batch (timed once at the start, as a run does). Where the CPU has bf16 matrix units the
engine also runs in the other precision: `engine_bf16_vs_fp32` (target >= 1.3 there). The figures
name the CPU's model and its matrix-unit flags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from resnet_studio.architecture.presets import get_preset
from resnet_studio.benchmarks.rounds import Measured, spread_figures, timed_rounds, unreliable_lines
from resnet_studio.data.sources import DataSet, DataSplits, channel_stats
from resnet_studio.data.transforms import batches, epoch_order
from resnet_studio.nn.model import build_model
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.device import DeviceSettings, choose_device, settings_for
from resnet_studio.training.engine import Trainer
from resnet_studio.training.events import Step
from resnet_studio.training.loop import TrainingLoop
from resnet_studio.training.precision import (
    Precision,
    PrecisionChoice,
    choose_precision,
    cpu_model,
    matrix_units,
)
from resnet_studio.training.rng import augment_generator
from resnet_studio.training.state import Controls

BATCH = 128
WARMUP = 5


def bench_data(n: int) -> DataSplits:
    from resnet_studio.data import demo

    images, labels = demo.generate(n, seed=3)
    train = DataSet(torch.from_numpy(images), torch.from_numpy(labels))
    val = DataSet(train.images[:BATCH], train.labels[:BATCH])
    mean, std = channel_stats(train.images)
    return DataSplits("bench", list(demo.CLASSES), train, val, mean, std)


def bench_config(device: str, precision: Precision) -> TrainConfig:
    """What the engine and the bare loop both train with: one epoch of the bench's data."""
    return TrainConfig(epochs=1, batch_size=BATCH, device=device, log_every=1, precision=precision)


def engine_loop(data: DataSplits, steps: int, device: str, precision: Precision = "auto") -> float:
    times = [
        time.perf_counter()
        for e in Trainer(get_preset("resnet20"), bench_config(device, precision), data=data).events()
        if isinstance(e, Step)
    ]
    # Step events arrive after each step: time from the end of warm-up to the end of the last step.
    return BATCH * steps / (times[WARMUP + steps - 1] - times[WARMUP - 1])


def bare_training(data: DataSplits, device: str, precision: Precision = "auto") -> TrainingLoop:
    """The engine's own set-up for the bench's run, as `Trainer` makes it in one process."""
    config = bench_config(device, precision)

    def settings(_rank: int) -> DeviceSettings:  # `Trainer`'s, for one process
        return settings_for(choose_device(config.device), config.channels_last, config.amp, config.threads)

    return TrainingLoop(get_preset("resnet20"), config, None, Controls(), None, data, settings)


def bare_steps(loop: TrainingLoop) -> Iterator[int]:
    """The engine's step (`TrainingLoop.step`: schedule, augmentation, forward, loss, backward,
    update, in the run's precision and memory layout) on each batch of the first epoch, in the
    engine's order, with nothing around it: no events, sums, logging, probes, pause or budget.
    Yields the number of steps done after each."""
    seed = loop.cfg.seed
    order = epoch_order(len(loop.train_set), seed, 0).to(loop.device)
    aug = augment_generator(seed, 0, 0)
    loop.net.train()
    for images, labels in batches(loop.train_set, loop.cfg.batch_size, order, True):
        loop.step(images, labels, aug)
        yield loop.state.step


def bare_loop(data: DataSplits, steps: int, device: str, precision: Precision = "auto") -> float:
    """The engine's step with nothing around it: engine/bare is what the loop costs around the
    step, and no optimiser, schedule or augmentation written twice can drift from the engine's."""
    loop = bare_training(data, device, precision)
    start = 0.0
    for done in bare_steps(loop):
        if done == WARMUP:  # timed as the engine is: from the end of warm-up to the last step's end
            _sync(loop.device)
            start = time.perf_counter()
        if done == WARMUP + steps:
            break
    _sync(loop.device)
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
    arrays = data.train.images.numpy().transpose(0, 2, 3, 1)
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


def auto_precision(device: torch.device) -> PrecisionChoice | None:
    """What `--precision auto` chooses for the bench's network and batch on this CPU (None on a
    GPU, which keeps its own mixed precision)."""
    if device.type != "cpu":
        return None
    settings = settings_for(device)
    model = build_model(get_preset("resnet20"))
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return choose_precision("auto", model, BATCH, 3, 32, 10, settings.channels_last)


def machine_figures(choice: PrecisionChoice | None) -> dict[str, Any]:
    """The CPU's model name and bf16 matrix-unit flags, and what `auto` chose on it, with why."""
    figures: dict[str, Any] = {"cpu": cpu_model(), "cpu_matrix_units": list(matrix_units())}
    if choice is not None:
        figures["precision_auto"] = choice.precision
        figures["precision_reason"] = choice.reason
    return figures


def run_bench(
    steps: int = 30,
    device: str = "auto",
    rounds: int = 3,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    settings = settings_for(choose_device(device))
    torch.set_num_threads(settings.threads)
    choice = auto_precision(settings.device)
    precision: Precision = choice.precision if choice is not None else "auto"
    if log and choice is not None:
        log(f"precision: {choice.precision} ({choice.reason})")
    data = bench_data(BATCH * (WARMUP + steps + 2))
    loops: dict[str, Callable[[], float]] = {
        "engine": lambda: engine_loop(data, steps, device, precision),
        "bare": lambda: bare_loop(data, steps, device, precision),
        "plain": lambda: plain_loop(data, steps, device),
    }
    other: Precision | None = {"fp32": "bf16", "bf16": "fp32"}.get(precision)  # type: ignore[assignment]
    if other is not None and matrix_units():  # without the units bf16 is emulated: no target there
        loops[f"engine_{other}"] = lambda: engine_loop(data, steps, device, other)
    measured = timed_rounds(loops, rounds, log)
    figures: dict[str, Any] = {
        **rate_figures(measured),
        "device": settings.describe() if choice is None else _described(settings, precision),
        "model": "resnet20",
        "batch_size": BATCH,
        "steps": steps,
        "rounds": rounds,
        **machine_figures(choice),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }
    if other is not None and f"engine_{other}" in measured:
        rates = {precision: measured["engine"].median, other: measured[f"engine_{other}"].median}
        figures["engine_fp32_images_per_s"] = round(rates["fp32"], 1)
        figures["engine_bf16_images_per_s"] = round(rates["bf16"], 1)
        figures["engine_bf16_vs_fp32"] = round(rates["bf16"] / rates["fp32"], 3)
    if log:
        for name, m in measured.items():
            log(f"{name:<11} median {m.median:8.1f} images/s, spread {m.spread:.1%} ({len(m.rates)} rounds)")
        target_plain = 2.0 if settings.device.type == "cuda" else 1.15

        def shaky(ratio: str) -> str:
            return ", unreliable" if ratio in figures["unreliable"] else ""

        log(f"engine/bare  {figures['engine_vs_bare']:.3f}  (target >= 0.97{shaky('engine_vs_bare')})")
        plain = figures["engine_vs_plain"]
        log(f"engine/plain {plain:.3f}  (target >= {target_plain}{shaky('engine_vs_plain')})")
        if "engine_bf16_vs_fp32" in figures:
            log(
                f"engine bf16/fp32 {figures['engine_bf16_vs_fp32']:.3f}  "
                f"(target >= 1.3{shaky('engine_bf16_vs_fp32')})"
            )
        for line in unreliable_lines(measured):
            log(line)
    return figures


def rate_figures(measured: dict[str, Measured]) -> dict[str, Any]:
    """The median images/s of engine, bare and plain, their ratios, each loop's spread and the
    figures that are unreliable (a ratio is when either of its loops is)."""
    engine, bare, plain = (measured[name].median for name in ("engine", "bare", "plain"))
    figures: dict[str, Any] = {
        "engine_images_per_s": round(engine, 1),
        "bare_images_per_s": round(bare, 1),
        "plain_images_per_s": round(plain, 1),
        "engine_vs_bare": round(engine / bare, 3),
        "engine_vs_plain": round(engine / plain, 3),
        **spread_figures(measured),
    }
    shaky = set(figures["unreliable"])
    ratios: dict[str, tuple[str, ...]] = {
        "engine_vs_bare": ("engine", "bare"),
        "engine_vs_plain": ("engine", "plain"),
    }
    if "engine_bf16" in measured or "engine_fp32" in measured:
        ratios["engine_bf16_vs_fp32"] = ("engine", "engine_bf16", "engine_fp32")
    for ratio, parts in ratios.items():
        if any(part in shaky for part in parts):
            figures["unreliable"].append(ratio)
    return figures


def _described(settings: Any, precision: str) -> str:
    """The device as a run in `precision` describes it."""
    return replace(settings, amp_dtype=torch.bfloat16 if precision == "bf16" else None).describe()
