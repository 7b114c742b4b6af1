"""The `resnet-studio` command: the studio, and the same engine headless (FORMATS.md, Command line).

Each module here adds its commands to the parser and handles them: `network` (presets, recipes,
summary), `train`, `inspect` (evaluate, classify, lesion, similarity, export, bench), `imports`
(import of torchvision's weights), `anatomy` (anatomy, channel), `embedding`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from resnet_studio.cli import anatomy, embedding, imports, inspect, network, train
from resnet_studio.cli.common import PROG, Parser
from resnet_studio.errors import UserError


def _add_window_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    """The window's options, accepted before and after `open`. The `open` copies default to
    SUPPRESS: otherwise argparse lets the subcommand's defaults overwrite what was given before it
    (`--screenshot F open photo.png` would open a window and never write F)."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    parser.add_argument(
        "--screenshot", metavar="FILE", default=default(None), help="render the window to a PNG and exit"
    )
    parser.add_argument(
        "--workspace", default=default("build"), help="workspace shown first: build, train, inspect, classify"
    )
    parser.add_argument("--theme", default=default("system"), choices=["system", "light", "dark"])
    parser.add_argument(
        "--size", metavar="WxH", default=default(None), help="window size, e.g. 1024x640 (for screenshots)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Build, train and inspect residual networks.")
    _add_window_options(parser, with_defaults=True)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    p = sub.add_parser("open", help="open a project, architecture file or run folder in the studio")
    _add_window_options(p, with_defaults=False)
    p.add_argument("path", metavar="FILE|RUN_DIR")
    network.add_parsers(sub)
    train.add_parser(sub)
    inspect.add_parsers(sub)
    imports.add_parsers(sub)
    anatomy.add_parsers(sub)
    embedding.add_parsers(sub)
    return parser


def _version() -> str:
    from resnet_studio import __version__

    return f"{PROG} {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    try:
        if args.command is None or args.command == "open":
            from resnet_studio.ui.shell.app import run_studio

            return run_studio(
                getattr(args, "path", None), args.screenshot, args.workspace, args.theme, _size(args.size)
            )
        return args.handler(args)
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


__all__ = ["build_parser", "main"]
