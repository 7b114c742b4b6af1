"""What the command modules share: the parser class, and the options naming a network or a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from resnet_studio.errors import UserError

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


class StderrProgress:
    """A `progress(done, total)` callback drawn as a bar on stderr, so that a long command run for
    its JSON is not silent for minutes, and stdout stays the JSON alone."""

    def __init__(self, what: str, unit: str = "pass") -> None:
        self.what, self.unit = what, unit
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.what, unit=self.unit, file=sys.stderr, mininterval=0.5)
        self.bar.update(done - self.bar.n)
        if done >= total:  # finished: the bar ends here, before whatever the command prints next
            self.bar.close()

    def __enter__(self) -> StderrProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.close()


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse names the option in its message).
    A negative --limit-val would otherwise mean "all but N"."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed scikit-learn and NumPy accept, 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be 0 to {2**32 - 1}, got {value}")
    return value


_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20}
_SIZE_UNITS |= {"g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_size(text: str, option: str) -> int:
    """'2GB' -> 2,000,000,000 bytes; also 500MB, 1.5G, 512MiB or plain bytes. `UserError` naming
    `option` for anything else."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text.lower())
    unit = _SIZE_UNITS.get(match.group(2)) if match else None
    value = round(float(match.group(1)) * unit) if match and unit else 0
    if unit is None or value < 1:
        raise UserError(f"{option} {text!r}: expected a size in bytes such as 2GB, 500MB or 1.5GiB")
    return value
