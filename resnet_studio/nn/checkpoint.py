"""Checkpoints with full state, written atomically and read with `weights_only=True`.

A checkpoint alone can classify: it carries the architecture, class names, normalisation and
input size beside the weights. It also carries what an exact resume needs: optimizer state, the
step, the position inside the epoch and every random generator's state.
"""

from __future__ import annotations

import functools
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
from resnet_studio.architecture.cost import gigabytes, machine_memory, too_big
from resnet_studio.architecture.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.config_rules import check_saved_config
from resnet_studio.data.preprocessing import Preprocessing, PreprocessingError
from resnet_studio.errors import SpecError, UserError, WriteError
from resnet_studio.fileio import atomic_write
from resnet_studio.nn.model import ResNet, build_model
from resnet_studio.nn.shipped import resolve

FORMAT = "resnet-studio.checkpoint"
INFERENCE_BATCH = 64  # images classified at a time
VERSION = 1


def save_checkpoint(path: str | Path, state: dict[str, Any], *, within: str | Path | None = None) -> None:
    """Write `state` (plain values and tensors only) atomically to `path`; a failed write (a full
    disk) raises `WriteError` and leaves the previous file as it was. With `within` (the run
    folder), no folder on the way from it may be a link (`fileio.atomic_write`)."""
    buffer = io.BytesIO()  # serialised first: a failing write then reports the system's reason
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    try:
        atomic_write(path, lambda handle: handle.write(buffer.getbuffer()), within=within)
    except OSError as exc:
        raise WriteError.of(path, exc, "cannot write the checkpoint") from None


def write_slim_checkpoint(source: str | Path, out: str | Path, data: str) -> None:
    """Keep what inference needs from a run's checkpoint (how the shipped files are made):
    architecture, weights, classes, normalisation, the config (with `data` naming the source in
    words a user can use, not a path on the machine that trained it) and the step reached."""
    state = load_checkpoint(source)
    keep = (
        "architecture",
        "model",
        "classes",
        "normalization",
        "preprocessing",
        "input_size",
        "epoch",
        "step",
    )
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
    _check_container(path)
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


ZIP_MAGIC = b"PK\x03\x04"  # torch.save has written zip files since torch 1.6; so does every version of ours
PICKLE_START = b"\x80"  # a bare pickle (protocol 2 or later): read, so that its refusal says why


def _check_container(path: Path) -> None:
    """Refuse before torch reads it a file that cannot be one of our checkpoints: larger than the
    machine's memory, or neither a zip file nor a pickle (torch would try its legacy .tar reader on
    anything else and say so, of a 20 GB file of zeros, after reading all of it)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            start = handle.read(len(ZIP_MAGIC))
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    memory = machine_memory()
    if memory is not None and size > memory:
        raise UserError(
            f"{path}: not a checkpoint: {gigabytes(size)} is more than this machine's memory "
            f"({gigabytes(memory)}), too large to load"
        )
    if start != ZIP_MAGIC and not start.startswith(PICKLE_START):
        what = "an empty file" if size == 0 else "not a zip file, the format torch.save writes"
        raise UserError(f"{path}: not a readable checkpoint ({what})")


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
    if "preprocessing" in state:
        _check_preprocessing(state["preprocessing"], spec, norm, bad)
    if "input_size" in state and state["input_size"] != spec.input.size:
        raise bad("input_size", f"{state['input_size']!r} differs from the architecture's {spec.input.size}")
    if not isinstance(state["model"], dict) or not all(isinstance(k, str) for k in state["model"]):
        raise bad("model", "must be a dictionary of weights named by text")
    # What the network was trained with: evaluate takes its data and seed, classify its tta.
    check_saved_config(state.get("config", {}), f"{path}: config.")


def _check_preprocessing(prep: Any, spec: ArchitectureSpec, norm: dict, bad: Any) -> None:
    """The optional `preprocessing` of imported weights (resize the shorter side to `resize`
    pixels with `interpolation`, centre-crop `crop`, normalise): its own fields as
    `Preprocessing.from_dict` checks them, then what ties it to the rest of the checkpoint."""
    try:
        checked = Preprocessing.from_dict(prep, spec.input.channels)
    except PreprocessingError as exc:
        field, _, why = str(exc).partition(": ")
        raise bad(field, why) from None
    if checked.crop != spec.input.size:
        size = spec.input.size
        raise bad("preprocessing.crop", f"{checked.crop} differs from the architecture's input size {size}")
    for key in ("mean", "std"):
        if list(getattr(checked, key)) != [float(v) for v in norm[key]]:
            # One normalisation: the one every reader of `normalization` uses.
            raise bad(f"preprocessing.{key}", f"differs from normalization.{key}")


def weight_mismatches(expected: dict[str, Any], weights: dict[str, Any]) -> list[str]:
    """What keeps `weights` from loading where `expected` (a state dict) is wanted: missing,
    unexpected and reshaped names, the first three of each; empty when they fit."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    reshaped = [
        f"{k}: {_shape(weights[k])} in the file, {_shape(v)} in the network"
        for k, v in expected.items()
        if k in weights and (not isinstance(weights[k], torch.Tensor) or weights[k].shape != v.shape)
    ]
    return [
        f"{len(items)} {what} ({', '.join(items[:3])}{', …' if len(items) > 3 else ''})"
        for what, items in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
        if items
    ]


def _check_weights(model: torch.nn.Module, weights: dict[str, Any], where: str | Path) -> None:
    """`UserError` unless `weights` fit `model` and are all finite numbers."""
    problems = weight_mismatches(model.state_dict(), weights)
    if problems:
        raise UserError(f"{where}: the weights do not fit the architecture: {'; '.join(problems)}")
    # NaN or infinite weights (a diverged run's) answer NaN to every image: refused by name, so that
    # no command prints "nan%" or a similarity of 0.0, and --init does not blame the learning rate.
    broken = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise UserError(
            f"{where}: the weights contain NaN or infinite values ({len(broken)} of {len(weights)} "
            f"tensors, e.g. {broken[0]}): a network with them answers NaN to every image"
        )


def load_weights(model: torch.nn.Module, weights: dict[str, Any], where: str | Path) -> None:
    """`model.load_state_dict(weights)`, or a `UserError` that says what does not fit."""
    _check_weights(model, weights, where)
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
    # How imported weights want photos prepared (resize, crop, interpolation, mean, std:
    # FORMATS.md); None for networks trained here. `preparation` is what every path uses.
    preprocessing: dict[str, Any] | None = None

    @functools.cached_property
    def preparation(self) -> Preprocessing:
        """How every path (Classify, Inspect, `classify`, `evaluate`) prepares an image for it:
        the checkpoint's `preprocessing`, else the studio's own at the input size."""
        if self.preprocessing is not None:
            return Preprocessing.from_dict(self.preprocessing, self.channels)
        return Preprocessing.studio(self.input_size, self.mean, self.std)

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


def model_with_weights(spec: ArchitectureSpec, weights: dict[str, Any], where: str | Path) -> ResNet:
    """The network of `spec` holding `weights` (their own tensors, as float32), in eval mode. It
    is built on the meta device and takes the tensors in place: nothing is allocated or initialised
    twice (a ResNet-152 loads in half the time and memory). `UserError` when they do not fit."""
    with torch.device("meta"):
        model = build_model(spec)
    _check_weights(model, weights, where)
    kinds = {name: value.dtype for name, value in model.state_dict().items()}
    try:
        model.load_state_dict({k: v.to(kinds[k]) for k, v in weights.items()}, assign=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: the weights do not fit the architecture ({_first_line(exc)})") from None
    return model.eval()


def model_from_checkpoint(path: str | Path) -> LoadedModel:
    state = load_checkpoint(path)
    where = state["path"]
    spec = checkpoint_spec(state)
    problem = too_big(analyze(spec), INFERENCE_BATCH, machine_memory(), training=False)
    if problem is not None:  # before building: a checkpoint may name any network at all
        raise UserError(f"{where}: {problem}")
    model = model_with_weights(spec, state["model"], where)
    norm = state["normalization"]
    return LoadedModel(
        model,
        spec,
        list(state["classes"]),
        list(norm["mean"]),
        list(norm["std"]),
        where,
        dict(state.get("config") or {}),
        state.get("preprocessing"),
    )
