"""Project files (`*.rsproj`) and opening any of the studio's files by their content.

A project is the architecture, the training settings and the runs made from it:
`{"format": "resnet-studio.project", "version": 1, "architecture": {...}, "training": {...},
"runs": ["relative/run/dir", ...], "recipe": "quick"}` (the recipe Setup shows; optional), saved
atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.architecture.spec import FORMAT as ARCH_FORMAT
from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.errors import SpecError, UserError
from resnet_studio.fileio import BadJSON, atomic_write_json, read_json

FORMAT = "resnet-studio.project"
VERSION = 1
PROJECT_SUFFIX = ".rsproj"
ARCH_SUFFIX = ".resnet.json"


@dataclass
class Project:
    architecture: ArchitectureSpec
    training: dict[str, Any] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    recipe: str | None = None  # the recipe Setup shows (its name); older files have none

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "architecture": self.architecture.to_dict(),
            "training": self.training,
            "runs": self.runs,
        }
        return data | ({"recipe": self.recipe} if self.recipe is not None else {})


def save_project(project: Project, path: str | Path) -> None:
    atomic_write_json(path, project.to_dict())


def open_file(path: str | Path) -> Project:
    """Read a project or an architecture file, told apart by its `format` field."""
    path = Path(path)
    try:
        data = read_json(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except BadJSON as exc:
        raise UserError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    kind = data.get("format")
    try:
        if kind == FORMAT:
            if data.get("version") != VERSION:
                raise UserError(f"{path}: project version {data.get('version')!r} is not supported")
            training = data.get("training", {})
            runs = data.get("runs", [])
            if not isinstance(training, dict):
                raise UserError(f"{path}: training: must be an object")
            if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
                raise UserError(f"{path}: runs: must be a list of folder names")
            recipe = data.get("recipe")
            if recipe is not None and not isinstance(recipe, str):
                raise UserError(f"{path}: recipe: must be a recipe's name")
            return Project(spec_from_dict(data.get("architecture")), training, runs, recipe)
        if kind in (ARCH_FORMAT, None):
            return Project(spec_from_dict(data))
    except SpecError as exc:
        where = "architecture." if kind == FORMAT and exc.field else ""
        raise UserError(f"{path}: {where}{exc}") from None
    raise UserError(f"{path}: unknown format {kind!r} (expected a project or an architecture file)")
