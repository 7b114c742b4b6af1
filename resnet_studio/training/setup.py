"""What a run prepares before its first step: the checks that refuse a run before anything is
built, the model on its device (a whitening stem fitted), the time budget's planner, the run
folder and the Started event; and, shared with the epochs, the validation pass and the part of a
checkpoint that inference needs."""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import Any

import torch
from torch import Tensor

from resnet_studio.architecture.analysis import Analysis, analyze
from resnet_studio.architecture.cost import evaluation_batch, too_big
from resnet_studio.architecture.spec import MAX_CLASSES, ArchitectureSpec
from resnet_studio.data.sources import DataSplits
from resnet_studio.data.transforms import normalize
from resnet_studio.errors import UserError
from resnet_studio.inspection.evaluate import Evaluation, evaluate
from resnet_studio.inspection.tta import tta_passes
from resnet_studio.nn.checkpoint import load_checkpoint, load_weights, save_checkpoint
from resnet_studio.nn.model import ResNet, build_model
from resnet_studio.runs.rundir import RunDirectory
from resnet_studio.training.augmentation import CROP_FLIP, checkpoint_record, kind_of
from resnet_studio.training.budget import BudgetPlanner
from resnet_studio.training.config import TrainConfig
from resnet_studio.training.device import DeviceSettings, device_memory
from resnet_studio.training.events import Started, Status, counted
from resnet_studio.training.rng import seed_everything
from resnet_studio.training.state import RunState

# Pixels drawn for a whitening stem's covariance: 5,000 CIFAR images (plenty for 12 x 12 or so);
# fewer images of a larger size, so that a 224-pixel network does not normalise gigabytes.
WHITENING_PIXELS = 5000 * 32 * 32


def claim_process_state(settings: DeviceSettings, seed: int) -> None:
    """The two process-wide settings a run owns while it trains, set once at its start: torch's
    CPU thread count (torch has no per-thread setting; in the studio it stays as the last run left
    it, which Inspect and Classify then use too) and the global random generators (`rng`)."""
    torch.set_num_threads(settings.threads)
    seed_everything(seed)


def refuse_unrunnable(spec: ArchitectureSpec, cfg: TrainConfig, settings: DeviceSettings) -> None:
    """`UserError` for a run that cannot work, before data or model are built: a small file can
    name a network no machine can hold."""
    analysis = analyze(spec)
    problem = too_big(analysis, cfg.batch_size, device_memory(settings.device))
    if problem is not None:
        raise UserError(f"{problem}; lower the batch size, the input size or the widths")
    refuse_lone_images(analysis, cfg.batch_size)
    pads = cfg.augment and kind_of(cfg, spec.input.size) == CROP_FLIP
    if pads and cfg.crop_fill == "reflect" and cfg.crop_padding >= spec.input.size:
        raise UserError(
            f"crop_padding: {cfg.crop_padding} px of reflected border needs images larger than "
            f"{spec.input.size} px; pad less or fill with zeros"
        )


def refuse_lone_images(analysis: Analysis, batch: int, train_images: int | None = None) -> None:
    """`UserError` where a training step would hold a single image where the feature maps are 1x1:
    BatchNorm in training then has one value per channel and torch stops with "Expected more than
    1 value per channel". Every block ends in a BatchNorm at its output's size, so the smallest
    output decides. `train_images`: the data set's size, when it is smaller than a batch."""
    smallest = min(
        (prod(layer.output_shape[1:]) for layer in analysis.layers if len(layer.output_shape) == 3), default=2
    )
    if smallest > 1:
        return
    why = (
        f"{analysis.name} has 1x1 feature maps, and BatchNorm needs more than one value per channel to train"
    )
    if batch < 2:
        raise UserError(
            f"batch_size: {batch} image a step cannot train: {why}; use a batch size of 2 or more"
        )
    if train_images is not None and train_images < 2:
        raise UserError(
            f"data: {train_images} training image cannot train: {why}; use 2 or more training images"
        )


def whitening_sample(data: DataSplits, seed: int, size: int) -> Tensor:
    """Normalised training images for a whitening stem: a seeded draw, since folders load class by
    class; their evaluation view where they are stored with a margin (the patches a trained
    network sees most, not a downscaled square)."""
    train = data.train
    count = max(16, WHITENING_PIXELS // (size * size))
    draw = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return normalize(data.train_eval_view(train.images[draw[:count]]), data.mean, data.std, size=size)


def fit_outputs(
    spec: ArchitectureSpec, classes: list[str], resume_state: dict[str, Any] | None
) -> tuple[ArchitectureSpec, tuple[str, ...]]:
    """The network with one output per class of the data, and a note when that changed it. A new
    run's output layer follows the data (a preset says 10 classes; a folder may hold 3 or 12); a
    resumed run continues only on the classes it was trained for."""
    if resume_state is not None:
        trained = list(resume_state.get("classes", []))
        if trained != classes:
            raise UserError(
                f"data: {resume_state['path']} was trained for the classes {_listed(trained)}; the "
                f"data now has {_listed(classes)}: start a new run (--init fine-tunes from its weights)"
            )
        return spec, ()
    if spec.classes == len(classes):
        return spec, ()
    if len(classes) > MAX_CLASSES:  # the run folder's architecture.json could not be read back
        raise UserError(f"data: {len(classes):,} classes; a network has at most {MAX_CLASSES:,} outputs")
    note = f"output layer: {len(classes)} classes, as in the data (the architecture said {spec.classes})"
    return replace(spec, classes=len(classes)), (note,)


def prepared_model(
    spec: ArchitectureSpec, cfg: TrainConfig, data: DataSplits, settings: DeviceSettings, fresh: bool
) -> tuple[ResNet, tuple[str, ...]]:
    """The model on its device in its memory layout, and notes for the Started event. A fresh run
    starts from `cfg.init`'s weights when it names some, else fits a whitening stem to the
    training images (a resumed run gets its weights from its checkpoint afterwards)."""
    model = build_model(spec, cfg.zero_init_residual)
    notes: tuple[str, ...] = ()
    if fresh and cfg.init is not None:
        notes = load_initial_weights(model, cfg.init, list(data.classes))
    elif fresh and model.whitening() is not None:
        model.fit_whitening(whitening_sample(data, cfg.seed, spec.input.size))
    model = model.to(settings.device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, notes


OUTPUT_LAYER = "head.fc."  # the weights that map features to classes (`nn.model.Head.fc`)


def load_initial_weights(model: ResNet, init: str, classes: list[str]) -> tuple[str, ...]:
    """Fine-tuning: `init`'s weights in `model`; only the optimizer and the schedule start afresh.
    Weights trained for other classes give everything but the output layer, which starts from
    random weights (transfer learning); the note returned says so. `UserError` when the weights
    do not fit the network."""
    state = load_checkpoint(init)
    weights = state["model"]
    if list(state["classes"]) == classes:
        load_weights(model, weights, state["path"])
        return ()
    fresh = {k: v for k, v in model.state_dict().items() if k.startswith(OUTPUT_LAYER)}
    kept = {k: v for k, v in weights.items() if not k.startswith(OUTPUT_LAYER)}
    load_weights(model, {**kept, **fresh}, state["path"])
    return (
        f"init: {state['path']} was trained for the classes {_listed(list(state['classes']))}: its "
        f"weights start the network, and a new output layer for the data's {len(classes)} classes "
        "starts from random weights",
    )


def _listed(names: list[str], most: int = 6) -> str:
    shown = ", ".join(map(str, names[:most]))
    return f"{shown}, … ({len(names)} in all)" if len(names) > most else shown


def refuse_reached_target(state: dict[str, Any], cfg: TrainConfig, extra_budget: bool) -> None:
    """`UserError` for a resume that would train nothing: the run already reached the steps, the
    epochs or (its own budget) the end of the plan that `cfg` asks for. More time always trains."""
    step, epoch, where = state.get("step"), state.get("epoch"), state["path"]
    if not isinstance(step, int) or not isinstance(epoch, int) or extra_budget:
        return  # a malformed position is the checkpoint reader's to report
    if cfg.budget is not None:
        total = state.get("schedule", {}).get("total") if isinstance(state.get("schedule"), dict) else None
        reached = isinstance(total, int) and step >= total
        target = "the end of its time budget"
    elif cfg.steps is not None:
        reached, target = step >= cfg.steps, f"the {counted(cfg.steps, 'step')} asked for"
    else:
        reached, target = epoch >= cfg.epochs, f"the {counted(cfg.epochs, 'epoch')} asked for"
    if reached:
        raise UserError(
            f"{where}: the run is already at step {step} (epoch {epoch}), {target}: nothing to "
            f"train. Ask for more: --epochs above {epoch}, --steps above {step}, or --budget for more time"
        )


def budget_planner(
    cfg: TrainConfig, start: float, steps_per_epoch: int, images_per_step: int, val_images: int
) -> BudgetPlanner | None:
    """The planner of a run with a time budget (None without one); `start` as perf_counter()."""
    if cfg.budget is None:
        return None
    passes = tta_passes(cfg.tta, cfg.tta_shift)
    return BudgetPlanner(
        cfg.budget, start, steps_per_epoch, images_per_step, val_images, cfg.val_every, eval_passes=passes
    )


def inference_state(
    spec: ArchitectureSpec, cfg: TrainConfig, data: DataSplits, model: torch.nn.Module
) -> dict[str, Any]:
    """What classifying with the weights needs: network, weights, classes, normalisation, and
    the augmentation and evaluation transform it was trained with (`augmentation`)."""
    return {
        "architecture": spec.to_dict(),
        "classes": list(data.classes),
        "normalization": {"mean": data.mean, "std": data.std},
        "input_size": spec.input.size,
        "config": cfg.checkpoint_dict(),  # the recipe and the machine: the probes made no weights
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **checkpoint_record(cfg, data),
    }


def open_run_folder(
    writer: RunDirectory,
    spec: ArchitectureSpec,
    cfg: TrainConfig,
    settings: DeviceSettings,
    initial: dict[str, Any] | None,
    pos: RunState,
    measured: dict[str, Any] | None = None,
    extra_budget: bool = False,
    planned: tuple[int, int] | None = None,
) -> None:
    """Create the run folder with the untrained weights (`initial`), or, resuming (None), take
    up the existing one where its checkpoint left off, its config.json now what it continues
    with (`extra_budget`: `cfg.budget` is time from now on, recorded as the run's own).
    `measured`: what set-up measured (the precision trial), written into config.json beside the
    config. `planned`: (epochs, steps) as planned now, recorded in status.json."""
    if initial is not None:
        writer.create(spec.to_dict(), {**cfg.to_dict(), **(measured or {})}, settings.describe())
        # The untrained weights, for the loss along the path training took (a small file).
        save_checkpoint(writer.initial_checkpoint, {**initial, "epoch": 0, "step": 0}, within=writer.path)
    else:
        writer.remove_stale_temp_files()  # a checkpoint write cut short by kill -9 (up to 100s of MB)
        # After a crash the metrics may run past the checkpoint: those steps come again.
        writer.truncate_metrics(pos.step)
        record = {**resumed_record(cfg, pos, extra_budget), **(measured or {})}
        writer.rewrite_config(record, settings.describe())
    if cfg.tensorboard:
        writer.enable_tensorboard()
    writer.write_status(Status.RUNNING, pos.epoch, pos.step, planned=planned)


def resumed_record(cfg: TrainConfig, pos: RunState, extra_budget: bool) -> dict[str, Any]:
    """The config a resumed run records. A budget is the run's own, counted from its start: time
    given for this leg (`extra_budget`) is recorded as the time trained so far plus that, so that
    a later resume without --budget goes on to the same end."""
    record = cfg.to_dict()
    if extra_budget and cfg.budget is not None:
        record["budget"] = round(pos.elapsed + cfg.budget, 3)
    return record


def started_event(
    writer: RunDirectory | None,
    settings: DeviceSettings,
    data: DataSplits,
    model: torch.nn.Module,
    steps_per_epoch: int,
    total_steps: int,
    step: int,
    notes: tuple[str, ...] = (),
) -> Started:
    """The run's first event; `notes` say what set-up decided for the user (output layer, init)."""
    if data.storage:
        notes += (data.storage,)
    if data.skipped:
        notes += (f"skipped {data.skipped} unreadable image files",)
    if data.empty_classes:
        notes += (f"left out class folders without readable images: {', '.join(data.empty_classes)}",)
    return Started(
        str(writer.path) if writer else None,
        settings.describe(),
        -(-total_steps // steps_per_epoch),
        steps_per_epoch,
        total_steps,
        step,
        sum(p.numel() for p in model.parameters()),
        tuple(data.classes),
        len(data.train),
        len(data.val),
        notes,
    )


def validate(
    model: torch.nn.Module,
    data: DataSplits,
    spec: ArchitectureSpec,
    cfg: TrainConfig,
    settings: DeviceSettings,
) -> Evaluation:
    """The weights on the run's validation images, as the run's checkpoint will be evaluated, in
    batches whose activations take no more than a training step's (or `cost.EVAL_MEMORY`)."""
    batch = evaluation_batch(analyze(spec), cfg.batch_size, device_memory(settings.device))
    return evaluate(
        model,
        data.val,
        data.classes,
        data.mean,
        data.std,
        size=spec.input.size,
        device=settings.device,
        batch_size=batch,
        channels_last=settings.channels_last,
        amp_dtype=settings.amp_dtype,
        tta=cfg.tta,
        tta_shift=cfg.tta_shift,
    )
