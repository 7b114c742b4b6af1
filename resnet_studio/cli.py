"""The `resnet-studio` command: the studio, and the same engine headless (DESIGN.md, Command line)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from resnet_studio.architecture.analysis import si_units as _si
from resnet_studio.errors import UserError
from resnet_studio.fileio import run_folder_name

PROG = "resnet-studio"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit status 2 (argparse prints the whole usage by default)."""
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    studio = _Parser(add_help=False)  # options of the window, before or after `open`
    studio.add_argument("--screenshot", metavar="FILE", help="render the studio window to a PNG and exit")
    studio.add_argument(
        "--workspace", default="build", help="workspace shown first: build, train, inspect, classify"
    )
    studio.add_argument("--theme", default="system", choices=["system", "light", "dark"])
    studio.add_argument("--size", metavar="WxH", help="window size, e.g. 1024x640 (for screenshots)")
    parser = _Parser(prog=PROG, description="Build, train and inspect residual networks.", parents=[studio])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser(
        "open", help="open a project, architecture file or run folder in the studio", parents=[studio]
    )
    p.add_argument("path", metavar="FILE|RUN_DIR")

    p = sub.add_parser("presets", help="list the built-in networks")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("recipes", help="list the training recipes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("summary", help="per-layer shapes, parameters and multiply-accumulates")
    _arch_options(p, required=True)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="train a network headless, writing a run folder")
    _arch_options(p, required=False)
    p.add_argument(
        "--data",
        default="demo",
        metavar="SPEC",
        help="demo, cifar10[:ROOT], cifar100[:ROOT] or folder:PATH (default demo)",
    )
    p.add_argument(
        "--recipe",
        metavar="NAME",
        help="a named set of hyper-parameters: quick, article, he2015, cifar-10min (see `recipes`); "
        "options given explicitly override its values",
    )
    p.add_argument(
        "--budget",
        metavar="DURATION",
        help="train for this long, e.g. 10m, 90s, 1h30m: the number of steps is set from the measured "
        "speed so that the run, evaluation included, ends on time with its schedule completed",
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps", type=int, metavar="N", help="optimizer steps in all (instead of --epochs)")
    p.add_argument(
        "--val-fraction",
        type=float,
        metavar="X",
        help="validate on this fraction of the training set, held out (e.g. 0.1), not on the test set",
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    p.add_argument("--schedule", choices=["step", "cosine", "onecycle", "constant"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument(
        "--tta",
        action="store_true",
        help="flip test-time augmentation: evaluation and classification average each image with "
        "its mirror image (the checkpoint remembers it)",
    )
    p.add_argument("--limit-train", type=int, metavar="N")
    p.add_argument("--limit-val", type=int, metavar="N")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: one per core)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/NAME-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or finished run")
    p.add_argument("--distributed", action="store_true", help="DistributedDataParallel under torchrun")
    p.add_argument("--sync-batchnorm", action="store_true", help="with --distributed")
    p.add_argument("--download", action="store_true", help="download CIFAR data if missing")
    p.add_argument(
        "--tensorboard", action="store_true", help="also write RUN_DIR/tensorboard (needs tensorboard)"
    )

    p = sub.add_parser(
        "export",
        help="TorchScript, ONNX or standalone PyTorch source of a checkpoint; a run's metrics as CSV",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT|RUN_DIR")
    p.add_argument("--format", required=True, choices=["torchscript", "onnx", "python", "csv"])
    p.add_argument("--out", required=True, metavar="FILE")

    p = sub.add_parser("evaluate", help="accuracy, per-class table and confusion matrix")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=_checkpoint_help())
    p.add_argument("--data", metavar="SPEC", help="default: the data the checkpoint was trained on")
    p.add_argument("--limit-val", type=int, metavar="N")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("classify", help="top-k classes of image files (folders are walked)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=_checkpoint_help())
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--top", type=int, default=5, metavar="K")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="measure training throughput against plain PyTorch loops")
    p.add_argument("--json", action="store_true")
    p.add_argument("--steps", type=int, default=30, help="timed steps per loop (default 30)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    return parser


def _checkpoint_help() -> str:
    from resnet_studio.nn.shipped import shipped_weights

    # argparse formats help with %: a percentage is written %%.
    names = ", ".join(f"{w.name} ({w.title}, {w.accuracy:.1%}%)" for w in shipped_weights().values())
    shipped = f", or the name of shipped weights: {names}" if names else ""
    return f"a checkpoint file or a run folder{shipped}"


def _arch_options(p: argparse.ArgumentParser, required: bool) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--preset", metavar="NAME", help="a built-in network (see `presets`)")
    group.add_argument("--arch", metavar="FILE", help="an architecture file (*.resnet.json)")


def _version() -> str:
    from resnet_studio import __version__

    return f"{PROG} {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        if args.command is None or args.command == "open":
            from resnet_studio.ui.app import run_studio

            return run_studio(
                getattr(args, "path", None), args.screenshot, args.workspace, args.theme, _size(args.size)
            )
        handler = {
            "presets": cmd_presets,
            "recipes": cmd_recipes,
            "summary": cmd_summary,
            "train": cmd_train,
            "evaluate": cmd_evaluate,
            "classify": cmd_classify,
            "export": cmd_export,
            "bench": cmd_bench,
        }
        return handler[args.command](args)
    except UserError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 1024x640") from None
    return width, height


def _spec(args: argparse.Namespace):
    from resnet_studio.architecture import get_preset, load_spec

    if getattr(args, "preset", None):
        return get_preset(args.preset)
    if getattr(args, "arch", None):
        return load_spec(args.arch)
    return None


# -- commands ------------------------------------------------------------------------------------


def cmd_presets(args: argparse.Namespace) -> int:
    from resnet_studio.architecture import PRESETS, analyze

    rows: list[dict[str, Any]] = []
    for name, preset in PRESETS.items():
        a = analyze(preset.spec)
        rows.append(
            {
                "name": name,
                "title": preset.spec.name,
                "description": preset.description,
                "depth": preset.spec.depth,
                "params": a.params,
                "macs": a.macs,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<10} {'depth':>5} {'params':>12} {'MACs':>10}  description")
    for r in rows:
        print(f"{r['name']:<10} {r['depth']:>5} {r['params']:>12,} {_si(r['macs']):>10}  {r['description']}")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from resnet_studio.training.recipes import RECIPES

    rows = [
        {"name": r.name, "title": r.title, "description": r.description, "preset": r.preset, **r.settings}
        for r in RECIPES.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in RECIPES.values():
        network = f" Network: {r.preset}." if r.preset else ""
        print(f"{r.name:<12} {r.description}{network}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from resnet_studio.architecture import analyze

    analysis = analyze(_spec(args))
    if args.json:
        print(json.dumps(analysis.to_dict(), indent=2))
        return 0
    print(f"{analysis.name}: input {'x'.join(map(str, analysis.input_shape))}")
    print(f"{'layer':<16} {'type':<11} {'output':>14} {'params':>12} {'MACs':>10}  shortcut")
    for layer in analysis.layers:
        shape = "x".join(map(str, layer.output_shape))
        print(
            f"{layer.name:<16} {layer.type:<11} {shape:>14} {layer.params:>12,} "
            f"{_si(layer.macs):>10}  {layer.shortcut}"
        )
    print(f"{'total':<16} {'':<11} {'':>14} {analysis.params:>12,} {_si(analysis.macs):>10}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from resnet_studio.training import TrainConfig, Trainer
    from resnet_studio.training.config import parse_duration
    from resnet_studio.training.distributed import finish
    from resnet_studio.training.recipes import get_recipe
    from resnet_studio.training.rundir import RunDirectory

    recipe = get_recipe(args.recipe) if args.recipe else None
    spec = _spec(args)
    if spec is None and recipe is not None and recipe.preset and not args.resume:
        from resnet_studio.architecture import get_preset

        spec = get_preset(recipe.preset)
    overrides = {
        "data": args.data,
        "epochs": args.epochs,
        "steps": args.steps,
        "budget": parse_duration(args.budget) if args.budget is not None else None,
        "val_fraction": args.val_fraction,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing,
        "limit_train": args.limit_train,
        "limit_val": args.limit_val,
        "device": args.device,
        "threads": args.threads,
        "seed": args.seed,
    }
    if args.resume:
        if spec is not None:
            raise UserError("--resume continues the run's own architecture; drop --preset/--arch")
        if recipe is not None:
            raise UserError("--recipe starts a new run; --resume continues a run with its own settings")
        saved = RunDirectory(args.resume).read_config()
        base = {k: v for k, v in saved.items() if k not in ("device_used", "versions")}
        base.update({k: v for k, v in overrides.items() if v is not None and k != "data"})
        config = TrainConfig.from_dict(base)
        out = args.resume
    else:
        if spec is None:
            raise UserError("give --preset NAME or --arch FILE (or --resume RUN_DIR)")
        chosen = {k: v for k, v in overrides.items() if v is not None}
        if args.epochs is not None and args.steps is None:
            chosen["steps"] = None  # epochs asked for explicitly win over a recipe's step count
        if args.no_augment:
            chosen["augment"] = False
        if args.tta:
            chosen["tta"] = True
        if (args.epochs is not None or args.steps is not None) and args.budget is None:
            chosen["budget"] = None  # so do epochs or steps over a recipe's budget
        config = recipe.config(**chosen) if recipe else TrainConfig(**chosen)
        config = dataclasses.replace(
            config,
            download=args.download,
            distributed=args.distributed,
            sync_batchnorm=args.sync_batchnorm,
            tensorboard=args.tensorboard,
        )
        out = args.out or str(Path("runs") / run_folder_name(spec.name))
        if Path(out, "metrics.jsonl").exists():
            raise UserError(f"--out {out}: already holds a run; use --resume {out} or another folder")
    config.distributed = args.distributed
    config.tensorboard = args.tensorboard or config.tensorboard
    config.check()
    trainer = Trainer(spec, config, out, resume=args.resume)
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
    try:
        finished = _render_training(trainer)
    finally:
        for number in signals:
            signal.signal(number, previous[number])
        finish()
    return 0 if finished.status != "failed" else 1


def _abort(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _render_training(trainer):
    from resnet_studio.training import CheckpointSaved, Evaluated, Finished, Planned, Started, Step
    from resnet_studio.training.progress import ProgressView

    # Under torchrun every rank runs this loop; only rank 0 speaks.
    quiet = trainer.config.distributed and os.environ.get("RANK", "0") != "0"
    view = ProgressView(stream=open(os.devnull, "w") if quiet else None)  # noqa: SIM115
    finished = None
    for event in trainer.events():
        if isinstance(event, Started):
            view.started(event)
        elif isinstance(event, Step):
            view.step(event)
        elif isinstance(event, Planned):
            view.planned(event)
        elif isinstance(event, Evaluated):
            view.evaluated(event)
        elif isinstance(event, CheckpointSaved):
            pass
        elif isinstance(event, Finished):
            finished = event
            view.finished(event)
    return finished


def cmd_evaluate(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.evaluate import evaluate_checkpoint
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    loaded = model_from_checkpoint(args.checkpoint)
    result, images, source = evaluate_checkpoint(
        loaded, args.data, limit_val=args.limit_val, device=choose_device(args.device)
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{loaded.path} on {source} ({len(images)} validation images)")
        print(result.table())
        print()
        print(result.confusion_table())
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.classify import classify_files
    from resnet_studio.inspection.prediction import UNSURE_BELOW
    from resnet_studio.nn.checkpoint import model_from_checkpoint

    if args.top < 1:
        raise UserError(f"--top: must be a positive integer, got {args.top}")
    loaded = model_from_checkpoint(args.checkpoint)
    results = classify_files(loaded, args.paths, top_k=args.top)
    if not results:
        raise UserError("no image files found in the given paths")
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(f"{len(loaded.classes)} classes known: {', '.join(loaded.classes)}")
        for r in results:
            if r.error:
                print(f"{r.path}: error: {r.error}")
            else:
                unsure = f"  (unsure: below {UNSURE_BELOW:.0%})" if r.unsure else ""
                print(f"{r.path}: " + ", ".join(f"{c} {p:.1%}" for c, p in r.top) + unsure)
    # Every file unreadable is the user's problem to fix; some unreadable is still a success.
    return 2 if all(r.error for r in results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "csv":
        from resnet_studio.training.rundir import metrics_to_csv

        rows = metrics_to_csv(args.checkpoint, args.out)
        print(f"wrote {args.out} ({rows} rows of metrics)")
        return 0
    from resnet_studio.export import export_checkpoint

    print(export_checkpoint(args.checkpoint, args.format, args.out).describe())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from resnet_studio.training.bench import run_bench

    figures = run_bench(steps=args.steps, device=args.device, log=None if args.json else print)
    from resnet_studio.ui.bench import studio_figures  # Qt loads in a child process only

    studio = studio_figures()
    figures.update(studio)
    if not args.json:
        for key, value in studio.items():
            print(f"{key:<18} {value}")
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
