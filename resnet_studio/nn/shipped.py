"""Trained weights that ship with the package, named so that every command takes them where it takes
a checkpoint path (`resnet-studio classify resnet20-cifar10 cat.jpg`).

`resources/weights/weights.json` lists them: file, data, the accuracy measured on the data's test
set, and the recipe, seed and command that reproduce them. The files are slim checkpoints: weights,
architecture, classes and normalisation, without optimizer state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from resnet_studio.fileio import read_json

INDEX = "weights.json"
DEFAULT = "resnet20-cifar10"  # what Classify and Inspect answer with before the user trains


@dataclass(frozen=True)
class ShippedWeights:
    name: str  # what commands accept in place of a checkpoint path
    title: str  # e.g. "ResNet-20 trained on CIFAR-10"
    path: Path
    data: str  # the data it was trained on, in words
    accuracy: float  # on `evaluated_on`, a fraction
    evaluated_on: str  # e.g. "the CIFAR-10 test set (10,000 images)"
    recipe: str  # the hyper-parameters, in words
    seed: int
    command: str  # the command line that trains it again

    def describe(self) -> str:
        return f"{self.title} (shipped, {self.accuracy:.1%} on {self.evaluated_on})"


def weights_folder() -> Path:
    return Path(str(resources.files("resnet_studio.resources"))) / "weights"


@lru_cache(maxsize=1)
def shipped_weights() -> dict[str, ShippedWeights]:
    """The shipped weights by name (see `read_index`)."""
    return read_index(weights_folder())


def read_index(folder: Path) -> dict[str, ShippedWeights]:
    """The weights `folder/weights.json` lists whose file is there. A missing or unreadable index
    gives none and a malformed entry is skipped, never an error: the studio then simply has no
    model before the user trains one."""
    try:
        entries = read_json(folder / INDEX)
    except (OSError, ValueError):
        return {}
    found: dict[str, ShippedWeights] = {}
    for e in entries if isinstance(entries, list) else ():
        try:
            weights = ShippedWeights(
                name=str(e["name"]),
                title=str(e["title"]),
                path=folder / Path(str(e["file"])).name,  # a file in the folder, never elsewhere
                data=str(e["data"]),
                accuracy=float(e["accuracy"]),
                evaluated_on=str(e["evaluated_on"]),
                recipe=str(e["recipe"]),
                seed=int(e["seed"]),
                command=str(e["command"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if weights.path.is_file():
            found[weights.name] = weights
    return found


def resolve(name_or_path: str | Path) -> Path:
    """A checkpoint path for a shipped name; any other value as a path. An existing file or folder
    of that name wins over a shipped name."""
    path = Path(name_or_path)
    if not path.exists():
        shipped = shipped_weights().get(str(name_or_path))
        if shipped is not None:
            return shipped.path
    return path


def default_weights() -> ShippedWeights | None:
    weights = shipped_weights()
    return weights.get(DEFAULT) or next(iter(weights.values()), None)
