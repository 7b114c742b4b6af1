"""Checkpoints with full state, written atomically and read with `weights_only=True`.

A checkpoint alone can classify: it carries the architecture, class names, normalisation and
input size beside the weights. It also carries what an exact resume needs: optimizer state, the
step, the position inside the epoch and every random generator's state.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.cost import machine_memory, too_big
from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.errors import SpecError, UserError, WriteError
from resnet_studio.fileio import atomic_write
from resnet_studio.nn.model import ResNet, build_unfilled
from resnet_studio.nn.shipped import resolve

FORMAT = "resnet-studio.checkpoint"
INFERENCE_BATCH = 64  # images classified at a time
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (plain values and tensors only) atomically to `path`; a failed write (a full
    disk) raises `WriteError` and leaves the previous file as it was."""
    buffer = io.BytesIO()  # serialised first: a failing write then reports the system's reason
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    try:
        atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))
    except OSError as exc:
        raise WriteError.of(path, exc, "cannot write the checkpoint") from None


def write_slim_checkpoint(source: str | Path, out: str | Path, data: str) -> None:
    """Keep what inference needs from a run's checkpoint (how the shipped files are made):
    architecture, weights, classes, normalisation, the config (with `data` naming the source in
    words a user can use, not a path on the machine that trained it) and the step reached."""
    state = load_checkpoint(source)
    keep = ("architecture", "model", "classes", "normalization", "input_size", "epoch", "step")
    slim = {key: state[key] for key in keep if key in state}
    slim["config"] = {**state.get("config", {}), "data": data}
    save_checkpoint(out, slim)


def checkpoint_file(path: str | Path) -> Path:
    """The file a checkpoint argument names: the file itself, a run folder's best checkpoint (else
    its last), or the file of shipped weights named by name; `UserError` when there is none."""
    path = resolve(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pt", path / "checkpoints" / "last.pt"):
            if candidate.is_file():
                return candidate
        raise UserError(f"{path}: no checkpoints/best.pt or checkpoints/last.pt in this folder")
    if path.exists() and not path.is_file():  # a pipe would block torch.load, a device never end
        raise UserError(f"{path}: not a regular file (a named pipe, device or socket), not a checkpoint")
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely; anything that is not one of ours raises `UserError`. `path` may
    also be a run folder or the name of shipped weights (`resnet20-cifar10`)."""
    path = checkpoint_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols of foreign files
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(
            f"{path}: refused: it holds objects other than tensors and plain values, and loading "
            "them could run code (read with weights_only=True)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - garbage makes the unpickler raise anything at all
        raise UserError(f"{path}: not a readable checkpoint ({_first_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a ResNet Studio checkpoint")
    if state.get("version") != VERSION:
        raise UserError(f"{path}: checkpoint version {state.get('version')!r} is not supported")
    for key in ("architecture", "model", "classes", "normalization"):
        if key not in state:
            raise UserError(f"{path}: checkpoint lacks {key!r}")
    _check_metadata(state, path)
    state["path"] = str(path)
    return state


def _check_metadata(state: dict[str, Any], path: Path) -> None:
    """As strict as an architecture file: every field a checkpoint's reader relies on, named."""

    def bad(field: str, why: str) -> UserError:
        return UserError(f"{path}: {field}: {why}")

    try:
        spec = spec_from_dict(state["architecture"])
    except SpecError as exc:
        raise UserError(f"{path}: its architecture is invalid: {exc}") from None
    classes = state["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        raise bad("classes", "must be a list of class names (non-empty text)")
    if len(classes) != spec.classes:
        raise bad("classes", f"{len(classes)} names for a network of {spec.classes} outputs")
    if len(set(classes)) != len(classes):
        raise bad("classes", "names must be unique")
    norm = state["normalization"]
    if not isinstance(norm, dict):
        raise bad("normalization", "must be an object with mean and std")
    for key in ("mean", "std"):
        values = norm.get(key)
        if (
            not isinstance(values, list)
            or len(values) != spec.input.channels
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            or not all(math.isfinite(v) for v in values)
        ):
            raise bad(f"normalization.{key}", f"must be {spec.input.channels} finite numbers")
    if not all(v > 0 for v in norm["std"]):
        raise bad("normalization.std", "must be positive (it divides the pixels)")
    if "input_size" in state and state["input_size"] != spec.input.size:
        raise bad("input_size", f"{state['input_size']!r} differs from the architecture's {spec.input.size}")
    if not isinstance(state["model"], dict) or not all(isinstance(k, str) for k in state["model"]):
        raise bad("model", "must be a dictionary of weights named by text")
    if not isinstance(state.get("config", {}), dict):
        raise bad("config", "must be an object")


def load_weights(model: torch.nn.Module, weights: dict[str, Any], where: str | Path) -> None:
    """`model.load_state_dict(weights)`, or a `UserError` that says what does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    reshaped = [
        f"{k}: {_shape(weights[k])} in the file, {_shape(v)} in the network"
        for k, v in expected.items()
        if k in weights and (not isinstance(weights[k], torch.Tensor) or weights[k].shape != v.shape)
    ]
    problems = [
        f"{len(items)} {what} ({', '.join(items[:3])}{', …' if len(items) > 3 else ''})"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
        if items
    ]
    if problems:
        raise UserError(f"{where}: the weights do not fit the architecture: {'; '.join(problems)}")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: the weights do not fit the architecture ({_first_line(exc)})") from None


def _shape(value: Any) -> str:
    return "x".join(map(str, value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colour codes
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
    def tta_shift(self) -> int:
        """Pixels the test-time views also shift by (0: the mirror only), as it was evaluated."""
        shift = self.config.get("tta_shift", 0)
        return shift if isinstance(shift, int) and not isinstance(shift, bool) and 0 <= shift <= 8 else 0

    @property
    def input_size(self) -> int:
        return self.spec.input.size

    @property
    def channels(self) -> int:
        return self.spec.input.channels


def checkpoint_spec(state: dict[str, Any]) -> ArchitectureSpec:
    """The architecture a loaded checkpoint was trained with; `UserError` naming the file if invalid."""
    try:
        return spec_from_dict(state["architecture"])
    except SpecError as exc:
        raise UserError(f"{state['path']}: its architecture is invalid: {exc}") from None


def model_from_checkpoint(path: str | Path) -> LoadedModel:
    state = load_checkpoint(path)
    where = state["path"]
    spec = checkpoint_spec(state)
    problem = too_big(analyze(spec), INFERENCE_BATCH, machine_memory(), training=False)
    if problem is not None:  # before building: a checkpoint may name any network at all
        raise UserError(f"{where}: {problem}")
    model = build_unfilled(spec)  # every weight comes from the file (`load_weights` checks)
    load_weights(model, state["model"], where)
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
