"""torchvision's ResNet family seen from here: which networks belong to it, and how the weights'
names translate (`stem.conv` <-> `conv1`, `stage2.block1.conv1` <-> `layer2.0.conv1`, `head.fc` <->
`fc`). Our blocks hold the same layers under the same names as torchvision's (`conv1`/`bn1`...,
`downsample.0`/`.1`), so a family member's weights translate one to one and give the same outputs.

Torch-free: the studio's menus ask `family_problem` before anything heavy loads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TypeVar

from resnet_studio.architecture.presets import TORCHVISION_FAMILY, get_preset
from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.errors import UserError

FAMILY: tuple[str, ...] = tuple(TORCHVISION_FAMILY)  # resnet18 ... wide_resnet101_2

_STEM = (64, 7, 2)  # channels, kernel, stride; then a 3x3/2 max-pool
_WIDTHS = {"basic": (64, 128, 256, 512), "bottleneck": (256, 512, 1024, 2048)}
_STRIDES = (1, 2, 2, 2)

_OURS = re.compile(r"stage(\d+)\.block(\d+)\.(.+)")
_THEIRS = re.compile(r"layer(\d+)\.(\d+)\.(.+)")
_RENAMED = (("stem.conv.", "conv1."), ("stem.bn.", "bn1."), ("head.fc.", "fc."))


class NotInFamily(UserError):
    """A network torchvision's ResNet family has no member for; the message names it and says why."""


def family_problem(spec: ArchitectureSpec) -> str | None:
    """Why `spec` is none of torchvision's ResNet family (None when it is one: `family_name`)."""
    stem = spec.stem
    if spec.input.channels != 3:
        return f"it takes {spec.input.channels} input channels (torchvision's take 3)"
    if (stem.kind, stem.channels, stem.kernel, stem.stride, stem.maxpool) != ("conv", *_STEM, True):
        what = (
            "a whitening stem"
            if stem.kind == "whiten"
            else (
                f"a {stem.kernel}x{stem.kernel}/{stem.stride} stem of {stem.channels} channels"
                f"{' with' if stem.maxpool else ' without'} max-pool"
            )
        )
        return f"it has {what} (torchvision's: 7x7/2 of 64 channels, then a 3x3/2 max-pool)"
    if len(spec.stages) != 4:
        return f"it has {len(spec.stages)} stages (torchvision's have 4)"
    blocks = {stage.block for stage in spec.stages}
    if len(blocks) != 1 or next(iter(blocks)) not in _WIDTHS:
        used = ", ".join(s.block for s in spec.stages)
        return f"its stages use {used} blocks (torchvision's: all basic or all bottleneck)"
    block = spec.stages[0].block
    widths = tuple(stage.channels for stage in spec.stages)
    if widths != _WIDTHS[block]:
        theirs = _listed(_WIDTHS[block])
        return f"its stages are {_listed(widths)} channels wide (torchvision's {block}: {theirs})"
    strides = tuple(stage.stride for stage in spec.stages)
    if strides != _STRIDES:
        return f"its stages stride {_listed(strides)} (torchvision's: 1, 2, 2, 2)"
    if spec.shortcut != "projection" or not spec.projection_bn:
        kind = spec.shortcut if spec.shortcut != "projection" else "projection without BatchNorm"
        return f"its shortcuts are {kind} (torchvision's: 1x1 projection + BatchNorm)"
    if spec.downsample_by != "stride":
        return "it downsamples by max-pooling (torchvision's blocks stride their convolutions)"
    if spec.head.dropout:
        return f"its head has dropout {spec.head.dropout:g} (torchvision's has none)"
    if _member(spec) is None:
        layout = (
            f"{_listed(tuple(s.count for s in spec.stages))} blocks a stage, "
            f"groups {spec.stages[0].groups}, width_per_group {spec.stages[0].width_per_group}"
        )
        if len({(s.groups, s.width_per_group) for s in spec.stages}) > 1:
            layout = "groups or width_per_group that differ from stage to stage"
        return f"no member of the family has {layout}"
    return None


def family_name(spec: ArchitectureSpec) -> str:
    """torchvision's name of the network `spec` describes (`resnext50_32x4d`), whatever its number
    of classes and input size; `NotInFamily` naming the network and the reason otherwise."""
    problem = family_problem(spec)
    if problem is not None:
        raise NotInFamily(
            f"{spec.name} is not one of torchvision's ResNet family ({', '.join(FAMILY)}): {problem}"
        )
    name = _member(spec)
    assert name is not None
    return name


def family_spec(name: str, classes: int = 1000) -> ArchitectureSpec:
    """The spec of torchvision's `name`, with `classes` outputs; `UserError` for another name."""
    if name not in FAMILY:
        raise UserError(
            f"{name!r} is not one of torchvision's ResNet family: choose one of {', '.join(FAMILY)}"
        )
    spec = get_preset(name)
    return spec if classes == spec.classes else replace(spec, classes=classes)


def _member(spec: ArchitectureSpec) -> str | None:
    """The family member with the same blocks (counts, groups, widths), ignoring classes and size."""
    for name in FAMILY:
        preset = get_preset(name)
        if preset.stages == spec.stages:
            return name
    return None


def _listed(values: tuple[int, ...]) -> str:
    return ", ".join(map(str, values))


# ---------------------------------------------------------------------------------------------
# Weight names


def torchvision_key(key: str) -> str:
    """Our weight's name as torchvision names it: `stage2.block1.downsample.0.weight` ->
    `layer2.0.downsample.0.weight`. Names of neither kind come back unchanged."""
    match = _OURS.fullmatch(key)
    if match:
        stage, block, rest = match.groups()
        return f"layer{stage}.{int(block) - 1}.{rest}"
    for ours, theirs in _RENAMED:
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    return key


def studio_key(key: str) -> str:
    """torchvision's weight name as ours: `layer2.0.conv1.weight` -> `stage2.block1.conv1.weight`.
    Names of neither kind come back unchanged (and are then reported as unexpected)."""
    match = _THEIRS.fullmatch(key)
    if match:
        stage, block, rest = match.groups()
        return f"stage{stage}.block{int(block) + 1}.{rest}"
    for ours, theirs in _RENAMED:
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    return key


V = TypeVar("V")


def to_torchvision(weights: Mapping[str, V]) -> dict[str, V]:
    """A state dict of ours under torchvision's names (same tensors, same order)."""
    return {torchvision_key(key): value for key, value in weights.items()}


def from_torchvision(weights: Mapping[str, V]) -> dict[str, V]:
    """A torchvision state dict under our names (same tensors, same order)."""
    return {studio_key(key): value for key, value in weights.items()}


__all__ = [
    "FAMILY",
    "NotInFamily",
    "family_name",
    "family_problem",
    "family_spec",
    "from_torchvision",
    "studio_key",
    "to_torchvision",
    "torchvision_key",
]
