"""`evaluate`, `classify`, `lesion`, `contributions`, `similarity`, `landscape`, `export` and
`bench`: what a trained network does."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_studio.cli.common import DEVICES, StderrProgress, checkpoint_help, positive_int, print_json
from resnet_studio.errors import UserError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="TorchScript, ONNX, standalone PyTorch source or a torchvision state dict of a checkpoint; "
        "a run's metrics as CSV",
        description="torchvision: a state dict that torchvision.models.NAME(num_classes=...) loads with "
        "strict=True, for a network of torchvision's ResNet family (resnet18 ... wide_resnet101_2).",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT|RUN_DIR")
    p.add_argument("--format", required=True, choices=["torchscript", "onnx", "python", "torchvision", "csv"])
    p.add_argument("--out", required=True, metavar="FILE")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("evaluate", help="accuracy, per-class table and confusion matrix")
    _checkpoint_and_data(p)
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("classify", help="top-k classes of image files (folders are walked)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--top", type=int, default=5, metavar="K")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_classify)

    p = sub.add_parser(
        "lesion",
        help="validation accuracy with each block removed, and with k random blocks removed (Veit et al.)",
    )
    _checkpoint_and_data(p)
    p.set_defaults(handler=cmd_lesion)

    p = sub.add_parser(
        "contributions",
        help="what each residual block adds over what passes it, ||F(x)||/||x|| (Veit et al.; Greff et al.)",
    )
    _checkpoint_and_data(p, default_limit=512)
    p.set_defaults(handler=cmd_contributions)

    p = sub.add_parser(
        "similarity", help="linear CKA between the outputs of every pair of blocks (Kornblith et al.)"
    )
    _checkpoint_and_data(p, default_limit=256)
    p.add_argument("--versus", metavar="CHECKPOINT", help="compare with this network's blocks instead")
    p.set_defaults(handler=cmd_similarity)

    p = sub.add_parser(
        "landscape",
        help="the loss on a 2-D filter-normalised slice around the weights, and on the line from the "
        "initial weights (Li et al.)",
    )
    _checkpoint_and_data(p, default_limit=512)
    p.add_argument(
        "--grid", type=int, default=21, metavar="N", help="points per side of the slice (default 21)"
    )
    p.add_argument("--span", type=float, default=1.0, help="the slice covers [-SPAN, SPAN] (default 1)")
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        help="the initial weights for the line (default: the run folder's checkpoints/init.pt, if any)",
    )
    p.set_defaults(handler=cmd_landscape)
    _add_bench_parser(sub)


def _add_bench_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure training throughput against plain PyTorch loops and the studio's speed "
        "(--inspection: what Inspect computes; --photos: photo-sized data)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--steps", type=int, default=30, help="timed steps per loop (default 30)")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of each loop, in alternating order; each figure is their median (default 3)",
    )
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument(
        "--only-224",
        action="store_true",
        help="measure only the studio at 224 px (ResNet-50 drop to top-5 and Inspect, ResNet-152 memory)",
    )
    p.add_argument(
        "--photos",
        action="store_true",
        help="measure only photo-sized data: 20,000 generated 640x480 JPEGs (kept in the user's cache "
        "folder) prepared into the on-disk cache, then ResNet-18 at 224 px from it and from memory",
    )
    p.add_argument(
        "--inspection",
        action="store_true",
        help="measure only what Inspect computes with the shipped ResNet-20: a block's anatomy, the "
        "top 9 images of a channel over 5,000 validation images, an optimised image, a t-SNE of 2,000",
    )
    p.add_argument(
        "--data",
        metavar="SPEC",
        help="--inspection's images (default: CIFAR-10 where it is on this machine, else the demo)",
    )
    p.set_defaults(handler=cmd_bench)


def _checkpoint_and_data(p: argparse.ArgumentParser, default_limit: int | None = None) -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    p.add_argument("--data", metavar="SPEC", help="default: the data the checkpoint was trained on")
    p.add_argument(
        "--limit-val",
        type=positive_int,
        metavar="N",
        default=default_limit,
        help=f"use at most N validation images (default {default_limit or 'all'})",
    )
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--json", action="store_true")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.evaluate import evaluate_checkpoint
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    loaded = model_from_checkpoint(args.checkpoint)
    result, images, source = evaluate_checkpoint(
        loaded, args.data, limit_val=args.limit_val, device=choose_device(args.device)
    )
    if args.json:
        print_json(result.to_dict())
    else:
        print(f"{loaded.path} on {source} ({len(images)} validation images)")
        print(result.table())
        print()
        print(result.confusion_table())
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.classify import classify_files
    from resnet_studio.inspection.prediction import UNSURE_BELOW, shown_probability
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.user_text import terminal_text

    if args.top < 1:
        raise UserError(f"--top: must be a positive integer, got {args.top}")
    loaded = model_from_checkpoint(args.checkpoint)
    results = classify_files(loaded, args.paths, top_k=args.top)
    if not results:
        raise UserError("no image files found in the given paths")
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        # ImageNet's 1,000 names would bury the answers. Names and paths as one printable line
        # each: a file name that is not UTF-8 shows as bad\xff.png, not a UnicodeEncodeError.
        shown = [terminal_text(name) for name in loaded.classes[:20]]
        more = f", … ({len(loaded.classes) - len(shown)} more)" if len(loaded.classes) > len(shown) else ""
        print(f"{len(loaded.classes)} classes known: {', '.join(shown)}{more}")
        for r in results:
            path = terminal_text(r.path)
            if r.error:
                print(f"{path}: error: {terminal_text(r.error)}")
            else:
                top = ", ".join(f"{terminal_text(c)} {shown_probability(p)}" for c, p in r.top)
                if r.invalid:
                    print(f"{path}: {top}  (invalid: the network's outputs are not numbers)")
                else:
                    unsure = f"  (unsure: below {UNSURE_BELOW:.0%})" if r.unsure else ""
                    print(f"{path}: {top}{unsure}")
    # Every file unreadable is the user's problem to fix; some unreadable is still a success.
    return 2 if all(r.error for r in results) else 0


def cmd_lesion(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.lesion import lesion_study
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    loaded = model_from_checkpoint(args.checkpoint)
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    device = choose_device(args.device)
    with StderrProgress("lesion") as progress:
        result = lesion_study(
            loaded.model.to(device),
            images,
            loaded.classes,
            loaded.mean,
            loaded.std,
            device=device,
            progress=progress,
        )
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"{loaded.path} on {source} ({len(images)} validation images): {result.baseline:.1%} whole")
    for name, accuracy in result.blocks:
        print(f"  without {name:<16} {accuracy:6.1%}")
    for k, accuracy in result.random:
        print(f"  without {k:>2} random blocks {accuracy:6.1%}")
    return 0


def cmd_contributions(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.contributions import contributions_on
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    loaded = model_from_checkpoint(args.checkpoint)
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    device = choose_device(args.device)
    result = contributions_on(loaded.model.to(device), images, loaded.mean, loaded.std, device=device)
    if args.json:
        print_json(result)
        return 0
    if not result["blocks"]:
        print(f"{loaded.path}: no residual blocks (a plain network has no shortcut to compare with)")
        return 0
    print(f"{loaded.path} on {source} ({result['images']} validation images): ||F(x)|| / ||x||")
    for row in result["blocks"]:
        print(f"  {row['block']:<16} {row['ratio']:7.3f}   (10-90%: {row['p10']:.3f}-{row['p90']:.3f})")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.similarity import block_grams, similarity
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    device = choose_device(args.device)
    loaded = model_from_checkpoint(args.checkpoint)
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    grams = block_grams(loaded.model.to(device), images, loaded.mean, loaded.std, device=device)
    other = grams
    if args.versus:
        versus = model_from_checkpoint(args.versus)
        if versus.input_size != loaded.input_size or versus.channels != loaded.channels:
            raise UserError(f"--versus {args.versus}: its input differs from {args.checkpoint}'s")
        other = block_grams(versus.model.to(device), images, versus.mean, versus.std, device=device)
    result = similarity(grams, other)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"linear CKA on {len(images)} validation images of {source}")
    print(" " * 16 + "".join(f"{name[-8:]:>9}" for name in result.columns))
    for name, row in zip(result.rows, result.cka, strict=True):
        print(f"{name:<16}" + "".join(f"{value:9.2f}" for value in row))
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.landscape import initial_weights, loss_landscape
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    if not 2 <= args.grid <= 101:
        raise UserError(f"--grid {args.grid}: must be from 2 to 101 points per side")
    if not 0 < args.span <= 100:
        raise UserError(f"--span {args.span}: must be above 0 and at most 100")
    loaded = model_from_checkpoint(args.checkpoint)
    initial, init_path = initial_weights(loaded, args.init)
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    device = choose_device(args.device)
    with StderrProgress("landscape") as progress:
        result = loss_landscape(
            loaded.model.to(device),
            images,
            loaded.mean,
            loaded.std,
            initial=initial,
            grid=args.grid,
            span=args.span,
            device=device,
            progress=progress,
        )
    if args.json:
        print_json(result.to_dict())
        return 0
    flat = [value for row in result.surface for value in row]
    print(f"{loaded.path} on {source} ({result.images} validation images)")
    side = f"{args.grid}x{args.grid}"
    print(f"  loss at the weights {result.origin_loss:.4f}; on the {side} slice (span {args.span:g}):")
    print(f"  lowest {min(flat):.4f}, highest {max(flat):.4f}")
    if result.line_t is not None and result.line_loss is not None:
        print(f"  from the initial weights ({init_path}):")
        for t, loss in zip(result.line_t, result.line_loss, strict=True):
            print(f"    t = {t:5.2f}  loss {loss:.4f}")
    else:
        print("  no initial weights (a run folder keeps them in checkpoints/init.pt): no line")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "csv":
        from resnet_studio.runs.runinfo import metrics_to_csv

        rows = metrics_to_csv(args.checkpoint, args.out)
        print(f"wrote {args.out} ({rows} rows of metrics)")
        return 0
    from resnet_studio.export import export_checkpoint

    print(export_checkpoint(args.checkpoint, args.format, args.out).describe())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.inspection:
        from resnet_studio.benchmarks.inspection import run_inspection_bench

        inspection = run_inspection_bench(args.data, log=None if args.json else print)
        if args.json:
            print_json(inspection)
        return 0
    if args.data is not None:
        raise UserError("--data: only with --inspection (the other figures use generated data)")
    if args.photos:
        from resnet_studio.benchmarks.photos import run_photo_bench

        photos = run_photo_bench(log=None if args.json else print)
        if args.json:
            print_json(photos)
        return 0
    from resnet_studio.benchmarks.throughput import run_bench
    from resnet_studio.ui.shell.bench import studio_figures  # Qt loads in a child process only

    if args.only_224:
        figures: dict = {}
    else:
        if not 1 <= args.rounds <= 20:
            raise UserError(f"--rounds {args.rounds}: give 1 to 20 rounds")
        figures = run_bench(
            steps=args.steps, device=args.device, rounds=args.rounds, log=None if args.json else print
        )
    studio = studio_figures(only_224=args.only_224)
    figures.update(studio)
    if not args.json:
        for key, value in studio.items():
            print(f"{key:<18} {value}")
    if args.json:
        print_json(figures)
    return 0
