"""`train`: a network trained headless into a run folder, with a progress bar; also under torchrun."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from resnet_studio.cli.common import (
    DEVICES,
    PROG,
    StderrProgress,
    arch_options,
    parse_size,
    positive_int,
    spec_of,
)
from resnet_studio.errors import UserError
from resnet_studio.fileio import unused_run_folder

if TYPE_CHECKING:
    from resnet_studio.architecture.spec import ArchitectureSpec
    from resnet_studio.training import Finished, TrainConfig, Trainer


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a network headless, writing a run folder")
    p.set_defaults(handler=cmd_train)
    arch_options(p, required=False)
    p.add_argument(
        "--data",
        default="demo",
        metavar="SPEC",
        help="demo, cifar10[:ROOT], cifar100[:ROOT] or folder:PATH (default demo)",
    )
    p.add_argument(
        "--recipe",
        metavar="NAME",
        help="a named set of hyper-parameters: quick, article, he2015, cifar-10min, and with --init "
        "transfer-probe, transfer-finetune, transfer-full (see `recipes`); options given explicitly "
        "override its values",
    )
    p.add_argument(
        "--budget",
        metavar="DURATION",
        help="train for this long, e.g. 10m, 90s, 1h30m: the number of steps is set from the measured "
        "speed so that the run, evaluation included, ends on time with its schedule completed; with "
        "--resume, this much more time",
    )
    p.add_argument("--epochs", type=int, help="epochs in all (with --resume: the new total, above the run's)")
    p.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="optimizer steps in all, instead of --epochs (with --resume: the new total, above the run's)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        metavar="X",
        help="validate on this fraction of the training set, held out (e.g. 0.1), not on the test set",
    )
    p.add_argument(
        "--val-every",
        type=int,
        metavar="EPOCHS",
        help="validate every this many epochs (default 1); 0: only after the last epoch",
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    p.add_argument("--schedule", choices=["step", "cosine", "onecycle", "constant"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument(
        "--crop-padding", type=int, metavar="PX", help="pixels the random crop may shift an image (default 4)"
    )
    p.add_argument(
        "--crop-fill",
        choices=["zeros", "reflect"],
        help="what the crop's padding shows: black (default) or the image's border mirrored",
    )
    p.add_argument("--no-augment", action="store_true")
    p.add_argument(
        "--tta",
        action="store_true",
        help="flip test-time augmentation: evaluation and classification average each image with "
        "its mirror image (the checkpoint remembers it)",
    )
    p.add_argument(
        "--tta-shift",
        type=int,
        metavar="PX",
        help="with --tta (implied), also average views shifted PX pixels diagonally both ways (1 on "
        "CIFAR-10: three times the passes, +0.4%% held-out in the cifar-10min recipe; 0: mirror only)",
    )
    p.add_argument(
        "--init",
        metavar="WEIGHTS",
        help="start from these weights instead of random ones (a checkpoint, a run folder or shipped "
        "weights such as resnet20-cifar10; its network unless --preset/--arch): fine-tuning, with a "
        "fresh optimizer and schedule",
    )
    _run_options(p)


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit-train", type=positive_int, metavar="N")
    p.add_argument("--limit-val", type=positive_int, metavar="N")
    p.add_argument(
        "--data-memory",
        metavar="SIZE",
        help="decoded images a folder source may hold in memory, e.g. 2GB or 500MB (default: a quarter "
        "of the machine's memory); a larger folder is prepared once into an on-disk cache and read from it",
    )
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: one per core)")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        help="the CPU's number format (default auto: where the CPU has bf16 matrix units, a few steps "
        "of each are timed and bf16 kept if 15%% faster; the run's config.json records the choice); "
        "GPUs keep their mixed precision",
    )
    p.add_argument("--seed", type=int, help="0 to 2147483647 (default 0)")
    p.add_argument(
        "--out", metavar="RUN_DIR", help="a new run folder, absent or empty (default runs/NAME-TIME)"
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a stopped run to its end, or a finished one with more --epochs, --steps or --budget",
    )
    p.add_argument("--distributed", action="store_true", help="DistributedDataParallel under torchrun")
    p.add_argument("--sync-batchnorm", action="store_true", help="with --distributed")
    p.add_argument("--download", action="store_true", help="download CIFAR data if missing")
    p.add_argument(
        "--tensorboard", action="store_true", help="also write RUN_DIR/tensorboard (needs tensorboard)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    from resnet_studio.training import Trainer
    from resnet_studio.training.distributed import finish

    spec, config, out = _plan(args)
    trainer = Trainer(spec, config, out, resume=args.resume, extra_budget=args.budget is not None)
    # Ctrl-C and SIGTERM (what `kill` and a container stop send) stop after the current step with
    # a checkpoint; a second one aborts.
    signals = [signal.SIGINT, signal.SIGTERM]
    previous = {number: signal.getsignal(number) for number in signals}

    def interrupt(signum: int, frame: object) -> None:
        sys.stderr.write(
            f"\n{PROG}: stopping after this step ({signal.Signals(signum).name} again to abort)\n"
        )
        trainer.stop()
        for number in signals:
            signal.signal(number, previous[number] if number == signal.SIGINT else _abort)

    for number in signals:
        signal.signal(number, interrupt)
    if not config.distributed or os.environ.get("RANK", "0") == "0":
        trainer.controls.on_preparing = StderrProgress("image cache", unit="image")
    finished = None
    try:
        finished = _render_training(trainer)
    finally:
        for number in signals:
            signal.signal(number, previous[number])
        finish(together=finished is not None)
    return 0 if finished is not None and finished.status != "failed" else 1


def _plan(args: argparse.Namespace) -> tuple[ArchitectureSpec | None, TrainConfig, str]:
    """The network, the config (a recipe, then the options given) and the run folder."""
    from resnet_studio.runs.rundir import RunDirectory
    from resnet_studio.training import TrainConfig
    from resnet_studio.training.config import parse_duration, resumed_config
    from resnet_studio.training.recipes import get_recipe, refuse_transfer_without_init

    recipe = get_recipe(args.recipe) if args.recipe else None
    if recipe is not None and not args.resume:
        refuse_transfer_without_init(recipe.settings.get("transfer"), args.init)
    spec = spec_of(args)
    if spec is None and args.init and not args.resume:
        spec = _network_of(args.init)
    if spec is None and recipe is not None and recipe.preset and not args.resume:
        from resnet_studio.architecture import get_preset

        spec = get_preset(recipe.preset)
    overrides = {
        "data": args.data,
        "epochs": args.epochs,
        "steps": args.steps,
        "budget": parse_duration(args.budget) if args.budget is not None else None,
        "val_fraction": args.val_fraction,
        "val_every": args.val_every,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing,
        "crop_padding": args.crop_padding,
        "crop_fill": args.crop_fill,
        "tta_shift": args.tta_shift,
        "limit_train": args.limit_train,
        "limit_val": args.limit_val,
        "data_memory": parse_size(args.data_memory, "--data-memory") if args.data_memory else None,
        "device": args.device,
        "threads": args.threads,
        "precision": args.precision,
        "seed": args.seed,
        "init": args.init,
    }
    if args.resume:
        if spec is not None:
            raise UserError("--resume continues the run's own architecture; drop --preset/--arch")
        if args.init:
            raise UserError("--init starts a new run from weights; --resume continues a run with its own")
        if recipe is not None:
            raise UserError("--recipe starts a new run; --resume continues a run with its own settings")
        del overrides["data"]  # a run continues on its own data
        run = RunDirectory(args.resume)
        config = resumed_config(run.read_config(), f"{run.config_file}: ", **overrides)
        out = args.resume
    else:
        if spec is None:
            raise UserError("give --preset NAME or --arch FILE (or --resume RUN_DIR)")
        chosen = {k: v for k, v in overrides.items() if v is not None}
        if args.epochs is not None and args.steps is None:
            chosen["steps"] = None  # epochs asked for explicitly win over a recipe's step count
        if args.no_augment:
            chosen["augment"] = False
        if args.tta or args.tta_shift:
            chosen["tta"] = True
        if (args.epochs is not None or args.steps is not None) and args.budget is None:
            chosen["budget"] = None  # so do epochs or steps over a recipe's budget
        config = recipe.config(**chosen) if recipe else TrainConfig(**chosen)
        config = dataclasses.replace(
            config, download=args.download, sync_batchnorm=args.sync_batchnorm, tensorboard=args.tensorboard
        )
        out = args.out or str(unused_run_folder("runs", spec.name))
    # A frozen config: the new one is checked as it is made (a budget refuses --distributed).
    config = dataclasses.replace(
        config, distributed=args.distributed, tensorboard=args.tensorboard or config.tensorboard
    )
    return spec, config, out


def _network_of(weights: str) -> ArchitectureSpec:
    """The architecture a checkpoint, run folder or shipped name was trained with."""
    from resnet_studio.nn.checkpoint import checkpoint_spec, load_checkpoint

    return checkpoint_spec(load_checkpoint(weights))


def _abort(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _render_training(trainer: Trainer) -> Finished | None:
    from resnet_studio.cli.progress import ProgressView
    from resnet_studio.training import Evaluated, Featurizing, Finished, Planned, Started, Step

    # Under torchrun every rank runs this loop; only rank 0 speaks.
    quiet = trainer.config.distributed and os.environ.get("RANK", "0") != "0"
    view = ProgressView(stream=open(os.devnull, "w") if quiet else None)  # noqa: SIM115
    finished = None
    for event in trainer.events():
        if isinstance(event, Started):
            view.started(event)
        elif isinstance(event, Step):
            view.step(event)
        elif isinstance(event, Featurizing):
            view.featurizing(event)
        elif isinstance(event, Planned):
            view.planned(event)
        elif isinstance(event, Evaluated):
            view.evaluated(event)
        elif isinstance(event, Finished):
            finished = event
            view.finished(event)
    return finished
