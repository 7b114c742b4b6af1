"""`anatomy` and `channel`: one residual block opened up for one image, and what one channel looks
for (its top images and an image optimised to excite it): what the studio's Inspect shows."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from resnet_studio.cli.common import DEVICES, StderrProgress, checkpoint_help, positive_int, print_json
from resnet_studio.errors import UserError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "anatomy",
        help="every intermediate tensor of one image through one residual block, its norms, "
        "||F(x)||/||shortcut(x)||, and the prediction with the branch or the shortcut dropped",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--block", required=True, metavar="NAME", help="e.g. stage2.block1 (see `summary`)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_anatomy)

    p = sub.add_parser(
        "channel",
        help="what a channel looks for: the validation images that excite it most, cropped to its "
        "receptive field, and an image optimised to excite it (PNG files)",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    p.add_argument("--block", required=True, metavar="NAME", help="stem or e.g. stage2.block1")
    p.add_argument("--channel", required=True, type=int, metavar="K", help="0-based")
    p.add_argument("--out", required=True, metavar="DIR", help="top9.png, optimised.png, channel.json")
    p.add_argument("--data", metavar="SPEC", help="default: the data the checkpoint was trained on")
    p.add_argument("--limit-val", type=positive_int, default=5000, metavar="N", help="default 5000")
    p.add_argument("--steps", type=positive_int, default=256, metavar="N", help="optimisation steps")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.set_defaults(handler=cmd_channel)


def cmd_anatomy(args: argparse.Namespace) -> int:
    import torch

    from resnet_studio.data.images import ImageError, load_image
    from resnet_studio.data.transforms import normalize
    from resnet_studio.inspection.anatomy import block_anatomy
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.user_text import terminal_text

    loaded = model_from_checkpoint(args.checkpoint)
    blocks = [name for name, _ in loaded.model.named_blocks()]
    if args.block not in blocks:
        raise UserError(f"--block {args.block!r}: no such block; the blocks are {', '.join(blocks)}")
    try:
        image = load_image(args.image, loaded.preparation, loaded.channels)
    except ImageError as exc:
        raise UserError(f"{args.image}: {exc}") from None
    x = normalize(torch.from_numpy(image)[None], loaded.mean, loaded.std, size=loaded.input_size)
    anatomy = block_anatomy(loaded.model, x, args.block)
    result = anatomy.to_dict(loaded.classes)
    if args.json:
        print_json(result)
        return 0
    print(f"{args.block}: {anatomy.kind} block, shortcut {anatomy.shortcut}")
    for stage in result["stages"]:
        shape = "x".join(map(str, stage["shape"]))
        print(f"  {stage['name']:<20} {shape:>12}  norm {stage['norm']:10.3f}")
    if anatomy.ratio is not None:
        print(f"||F(x)|| / ||shortcut(x)|| = {anatomy.ratio:.3f}")

    def top(entries: list[dict] | None) -> str:
        return ", ".join(f"{terminal_text(e['class'])} {e['probability']:.1%}" for e in entries or [])

    # `classify` averages the mirror for weights trained so (their tta): its percentage may differ.
    view = " (one view; classify averages it with the mirror)" if loaded.tta else ""
    print(f"prediction{view}: {top(result['prediction'])}")
    if anatomy.shortcut != "none":
        print(f"without the branch F(x): {top(result['without_branch'])}")
        print(f"without the shortcut: {top(result['without_shortcut'])}")
    return 0


def _output_folder(text: str) -> Path:
    """`--out DIR` made if missing; never a link or a file (the PNGs are written inside it)."""
    folder = Path(text)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UserError(f"--out {text}: not a folder (a file or a link): give a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {text}: cannot create the folder: {exc.strerror or exc}") from None
    return folder


def cmd_channel(args: argparse.Namespace) -> int:
    from resnet_studio.architecture import analyze
    from resnet_studio.fileio import atomic_write_bytes, atomic_write_json
    from resnet_studio.inspection.channels import contact_sheet, index_channels, png_bytes
    from resnet_studio.inspection.evaluate import validation_images
    from resnet_studio.inspection.maximise import colour_sqrt, maximise_channel
    from resnet_studio.nn.checkpoint import model_from_checkpoint
    from resnet_studio.training.device import choose_device

    loaded = model_from_checkpoint(args.checkpoint)
    taps = ["stem", *(name for name, _ in loaded.model.named_blocks())]
    if args.block not in taps:
        raise UserError(f"--block {args.block!r}: no such block; choose one of {', '.join(taps)}")
    # Checked before the pass over thousands of images: the spec's analysis knows every width.
    count = {layer.name: layer.output_shape[0] for layer in analyze(loaded.model.spec).layers}[args.block]
    if not 0 <= args.channel < count:
        raise UserError(f"--channel {args.channel}: {args.block} has channels 0 to {count - 1}")
    images, source = validation_images(loaded, args.data, limit_val=args.limit_val)
    out = _output_folder(args.out)
    model = loaded.model.to(choose_device(args.device))
    with StderrProgress("activations", unit="image") as progress:
        index = index_channels(model, images.images, loaded.mean, loaded.std, progress=progress)
    top = index.top(args.block, args.channel)
    atomic_write_bytes(out / "top9.png", png_bytes(contact_sheet(index.crops(top))))
    with StderrProgress("optimising", unit="step") as progress:
        picture, value = maximise_channel(
            model,
            args.block,
            args.channel,
            loaded.mean,
            loaded.std,
            colour=colour_sqrt(images.images),
            steps=args.steps,
            progress=progress,
        )
    atomic_write_bytes(out / "optimised.png", png_bytes(picture, scale_to=256))
    summary = {
        "block": args.block,
        "channel": args.channel,
        "data": source,
        "images": len(images),
        "receptive_field": index.fields[args.block].size,
        "top": [
            {
                "index": t.index,
                "class": loaded.classes[int(images.labels[t.index])],
                "activation": t.value,
                "position": [t.row, t.col],
                "box": list(t.box),
            }
            for t in top
        ],
        "optimised_activation": value,
    }
    atomic_write_json(out / "channel.json", summary)
    shown = ", ".join(f"{e['class']} {e['activation']:.2f}" for e in summary["top"])
    print(f"{args.block} channel {args.channel} on {source} ({len(images)} images): {shown}")
    print(f"optimised image: mean activation {value:.2f}; written to {out}/top9.png, optimised.png")
    return 0
