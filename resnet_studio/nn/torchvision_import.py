"""torchvision's pretrained ResNet weights as a checkpoint of ours (`resnet-studio import`).

torchvision's weights API names the weights (`ResNet50_Weights.IMAGENET1K_V2`), their file's URL,
the class names and the preprocessing they were trained with; the metadata ships with torchvision,
so all but the weights themselves is known offline. The weights come from a file the user names
(`--from`), from torch's hub cache where torchvision keeps what it downloaded, or, only when the
user asks (`--download`, the studio's Import dialog), from the network through torchvision.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from resnet_studio.architecture.analysis import analyze
from resnet_studio.architecture.spec import InputSpec
from resnet_studio.data.preprocessing import INTERPOLATIONS
from resnet_studio.errors import UserError
from resnet_studio.nn.checkpoint import save_checkpoint, weight_mismatches
from resnet_studio.nn.model import build_model
from resnet_studio.nn.torchvision_map import FAMILY, family_spec, from_torchvision, to_torchvision

PREFIX = "torchvision:"
Progress = Callable[[int, int], None]  # (bytes so far, total bytes or 0 when unknown)


@dataclass(frozen=True)
class TorchvisionWeights:
    """One of torchvision's weights for a family member, with what is known of them offline."""

    network: str  # "resnet50"
    name: str  # "IMAGENET1K_V2"
    url: str
    categories: tuple[str, ...]
    preprocessing: dict[str, Any]  # the checkpoint's "preprocessing" (FORMATS.md)
    enum: Any  # torchvision's WeightsEnum member

    @property
    def label(self) -> str:
        return f"{PREFIX}{self.network}={self.name}"

    @property
    def cache_path(self) -> Path:
        """Where torchvision keeps (and looks for) the downloaded file: torch's hub cache."""
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(self.url).path)

    def cached(self) -> Path | None:
        path = self.cache_path
        return path if path.is_file() else None

    def offline_message(self) -> str:
        return (
            f"{self.label}: the weights are not on this machine; fetch {self.url} and put it at "
            f"{self.cache_path} (or pass it with --from PATH), or run again with --download"
        )


def parse_source(source: str) -> tuple[str, str | None]:
    """`torchvision:resnet50=IMAGENET1K_V2` -> ("resnet50", "IMAGENET1K_V2"); WEIGHTS optional."""
    if not source.startswith(PREFIX):
        raise UserError(f"{source}: expected torchvision:NAME[=WEIGHTS], e.g. torchvision:resnet50")
    network, _, weights = source[len(PREFIX) :].partition("=")
    if network not in FAMILY:
        raise UserError(
            f"{source}: {network!r} is not one of torchvision's ResNet family: {', '.join(FAMILY)}"
        )
    return network, weights or None


def weight_choices(network: str) -> list[str]:
    """The names of torchvision's weights for `network` (without the DEFAULT alias)."""
    from torchvision.models import get_model_weights

    return [name for name in get_model_weights(network).__members__ if name != "DEFAULT"]


def torchvision_weights(network: str, weights: str | None = None) -> TorchvisionWeights:
    """torchvision's weights `weights` (default: its DEFAULT) of family member `network`."""
    from torchvision.models import get_model_weights

    if network not in FAMILY:
        raise UserError(f"{network!r} is not one of torchvision's ResNet family: {', '.join(FAMILY)}")
    enum = get_model_weights(network)
    try:
        member = enum[weights or "DEFAULT"]
    except KeyError:
        choices = ", ".join(weight_choices(network))
        raise UserError(f"{PREFIX}{network}={weights}: no such weights; choose one of {choices}") from None
    return TorchvisionWeights(
        network,
        member.name,
        member.url,
        tuple(member.meta["categories"]),
        preprocessing_of(member.transforms()),
        member,
    )


def preprocessing_of(transform: Any) -> dict[str, Any]:
    """torchvision's `ImageClassification` preset as the checkpoint's `preprocessing` object."""
    if str(transform.interpolation.value) not in INTERPOLATIONS:  # none of the family's weights
        raise UserError(
            f"unsupported interpolation {transform.interpolation.value!r} in the weights' transforms"
        )
    return {
        "resize": int(transform.resize_size[0]),
        "crop": int(transform.crop_size[0]),
        "interpolation": str(transform.interpolation.value),
        "mean": [float(v) for v in transform.mean],
        "std": [float(v) for v in transform.std],
    }


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A torchvision state dict from disk, read with weights_only=True; `UserError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - garbage makes the unpickler raise anything at all
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable state dict ({first})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # the common wrapper of training scripts
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UserError(f"{path}: not a state dict (a dictionary of tensors named by text)")
    return state


def fetch_state_dict(weights: TorchvisionWeights, progress: Progress | None = None) -> dict[str, Any]:
    """Download the weights into torch's hub cache (where torchvision looks), unless there already,
    and read them. Without `progress`, torchvision's own `get_state_dict` downloads, with its
    progress bar on the terminal; with it, the file is fetched here in chunks and `progress` is
    called after each (it may raise to cancel). No network failure escapes as anything but a
    `UserError` naming the URL and where to put the file by hand."""
    cached = weights.cached()
    if cached is not None:
        return read_state_dict(cached)
    try:
        if progress is None:
            return dict(
                weights.enum.get_state_dict(
                    progress=True, check_hash=True, map_location="cpu", weights_only=True
                )
            )
        download(weights.url, weights.cache_path, progress)
    except (OSError, RuntimeError) as exc:  # URLError, timeouts, a full disk; a wrong hash
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise UserError(
            f"{weights.label}: cannot download {weights.url} ({reason}); {_by_hand(weights)}"
        ) from None
    return read_state_dict(weights.cache_path)


def _by_hand(weights: TorchvisionWeights) -> str:
    return f"fetch it into {weights.cache_path} or pass it with --from PATH"


def download(url: str, target: Path, progress: Progress, chunk: int = 1 << 20) -> None:
    """`url` into `target` through a temporary file beside it, renamed when complete. As torch's
    hub does, a file named `name-<hex>.pth` must have a SHA-256 that starts with <hex>."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle, urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            progress(done, total)
            while block := response.read(chunk):
                handle.write(block)
                digest.update(block)
                done += len(block)
                progress(done, total)
        expected = re.search(r"-([a-f0-9]+)\.", target.name)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise RuntimeError(f"the downloaded file's SHA-256 does not start with {expected.group(1)}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@dataclass(frozen=True)
class ImportReport:
    out: Path
    weights: TorchvisionWeights
    source: str  # the file the weights came from
    params: int

    def describe(self) -> str:
        return (
            f"wrote {self.out}: {self.weights.label} ({self.params:,} parameters, "
            f"{len(self.weights.categories)} classes) from {self.source}"
        )


def import_torchvision(
    source: str,
    out: str | Path,
    from_path: str | Path | None = None,
    download: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Write a checkpoint of torchvision's weights named by `source` (`torchvision:NAME[=WEIGHTS]`)
    to `out`: from `from_path`, else torch's hub cache, else (only with `download`) the network."""
    network, name = parse_source(source)
    weights = torchvision_weights(network, name)
    if from_path is not None:
        state, where = read_state_dict(from_path), str(from_path)
    elif weights.cached() is not None or download:
        state, where = fetch_state_dict(weights, progress), str(weights.cache_path)
    else:
        raise UserError(weights.offline_message())
    preprocessing = weights.preprocessing
    spec = family_spec(network, len(weights.categories))
    spec = replace(spec, name=f"{spec.name} ({weights.name})", input=InputSpec(3, preprocessing["crop"]))
    with torch.device("meta"):  # names and shapes only: nothing allocated, nothing initialised
        expected = to_torchvision(build_model(spec).state_dict())
    problems = weight_mismatches(expected, state)
    if problems:
        raise UserError(f"{where}: the weights do not fit torchvision's {network}: {'; '.join(problems)}")
    save_checkpoint(
        out,
        {
            "architecture": spec.to_dict(),
            "model": {key: value.detach().contiguous() for key, value in from_torchvision(state).items()},
            "classes": list(weights.categories),
            "normalization": {"mean": preprocessing["mean"], "std": preprocessing["std"]},
            "preprocessing": preprocessing,
            "input_size": spec.input.size,
            "config": {"source": weights.label, "weights_url": weights.url},
        },
    )
    return ImportReport(Path(out), weights, where, analyze(spec).params)
