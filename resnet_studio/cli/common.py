"""What the command modules share: the parser class, and the options naming a network or a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from resnet_studio.architecture.spec import ArchitectureSpec

PROG = "resnet-studio"
DEVICES = ["auto", "cpu", "cuda", "mps"]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit status 2 (argparse prints the whole usage by default)."""
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def print_json(data: object) -> None:
    """Strict JSON on stdout: NaN and infinities as null, file names that are not UTF-8 escaped."""
    from resnet_studio.user_text import json_ready

    print(json.dumps(json_ready(data), indent=2, allow_nan=False))


def checkpoint_help() -> str:
    from resnet_studio.nn.shipped import shipped_weights

    # argparse formats help with %: a percentage is written %%, and so is every % in the index's
    # text (a title "100% %(x)s" would otherwise end --help with a KeyError or ValueError).
    names = ", ".join(
        f"{w.name} ({w.title}, {w.accuracy:.1%})".replace("%", "%%") for w in shipped_weights().values()
    )
    shipped = f", or the name of shipped weights: {names}" if names else ""
    return f"a checkpoint file or a run folder{shipped}"


def arch_options(p: argparse.ArgumentParser, required: bool) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument("--preset", metavar="NAME", help="a built-in network (see `presets`)")
    group.add_argument("--arch", metavar="FILE", help="an architecture file (*.resnet.json)")


def spec_of(args: argparse.Namespace) -> ArchitectureSpec | None:
    from resnet_studio.architecture import get_preset, load_spec

    if getattr(args, "preset", None):
        return get_preset(args.preset)
    if getattr(args, "arch", None):
        return load_spec(args.arch)
    return None
