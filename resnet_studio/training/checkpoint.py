"""Checkpoints with full state, written atomically and read with `weights_only=True`.

A checkpoint alone can classify: it carries the architecture, class names, normalisation and
input size beside the weights. It also carries what an exact resume needs: optimizer state, the
step, the position inside the epoch and every random generator's state.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.errors import SpecError, UserError
from resnet_studio.fileio import atomic_write
from resnet_studio.nn.model import ResNet, build_model
from resnet_studio.training.shipped import resolve

FORMAT = "resnet-studio.checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (plain values and tensors only) atomically to `path`."""
    atomic_write(path, lambda handle: torch.save({"format": FORMAT, "version": VERSION, **state}, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely; anything that is not one of ours raises `UserError`. `path` may
    also be a run folder or the name of shipped weights (`resnet20-cifar10`)."""
    path = resolve(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pt", path / "checkpoints" / "last.pt"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise UserError(f"{path}: no checkpoints/best.pt or checkpoints/last.pt in this folder")
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols of foreign files
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(f"{path}: refused: not a plain checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - garbage makes the unpickler raise anything at all
        raise UserError(f"{path}: not a readable checkpoint ({_first_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a ResNet Studio checkpoint")
    if state.get("version") != VERSION:
        raise UserError(f"{path}: checkpoint version {state.get('version')!r} is not supported")
    for key in ("architecture", "model", "classes", "normalization"):
        if key not in state:
            raise UserError(f"{path}: checkpoint lacks {key!r}")
    state["path"] = str(path)
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


@dataclass
class LoadedModel:
    """A trained network ready for inference, with what it needs to prepare inputs."""

    model: ResNet
    spec: ArchitectureSpec
    classes: list[str]
    mean: list[float]
    std: list[float]
    path: str = ""
    config: dict = field(default_factory=dict)  # the TrainConfig it was trained with (data, seed)

    @property
    def tta(self) -> bool:
        """Whether predictions average each image with its mirror, as it was evaluated."""
        return bool(self.config.get("tta", False))

    @property
    def input_size(self) -> int:
        return self.spec.input.size

    @property
    def channels(self) -> int:
        return self.spec.input.channels


def model_from_checkpoint(path: str | Path) -> LoadedModel:
    state = load_checkpoint(path)
    where = state["path"]
    try:
        spec = spec_from_dict(state["architecture"])
    except SpecError as exc:
        raise UserError(f"{where}: its architecture is invalid: {exc}") from None
    model = build_model(spec)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError) as exc:
        raise UserError(
            f"{where}: weights do not fit the architecture ({str(exc).splitlines()[0]})"
        ) from None
    model.eval()
    norm = state["normalization"]
    return LoadedModel(
        model,
        spec,
        list(state["classes"]),
        list(norm["mean"]),
        list(norm["std"]),
        where,
        dict(state.get("config") or {}),
    )
