"""`import`: torchvision's pretrained ResNet weights as a checkpoint every command takes."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(sub: Any) -> None:
    from resnet_studio.nn.torchvision_map import FAMILY

    p = sub.add_parser(
        "import",
        help="torchvision's pretrained ResNet weights as a checkpoint (classify, evaluate, train --init)",
        description=(
            "Convert torchvision's pretrained weights for one of its ResNet family "
            f"({', '.join(FAMILY)}) into a checkpoint holding the network, the weights, the "
            "1,000 ImageNet class names and the weights' preprocessing. The weights come from "
            "--from FILE, else from torch's hub cache (where torchvision keeps its downloads, "
            "under $TORCH_HOME/hub/checkpoints). Nothing is downloaded unless you add --download; "
            "without it, weights not on this machine give one line saying which URL to fetch "
            "and where to put the file."
        ),
    )
    p.add_argument(
        "source",
        metavar="torchvision:NAME[=WEIGHTS]",
        help="e.g. torchvision:resnet50 (its DEFAULT weights) or torchvision:resnet50=IMAGENET1K_V1",
    )
    p.add_argument(
        "--from",
        dest="from_path",
        metavar="STATE_DICT.pth",
        help="a torchvision state dict on disk (no network is used)",
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="download the weights through torchvision into torch's hub cache if they are not there",
    )
    p.add_argument("--out", required=True, metavar="CHECKPOINT", help="the checkpoint to write (.pt)")
    p.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from resnet_studio.nn.torchvision_import import import_torchvision

    report = import_torchvision(args.source, args.out, from_path=args.from_path, download=args.download)
    print(report.describe())
    return 0
