"""The network description: typed dataclasses and the JSON v1 format (`*.resnet.json`).

Parsing checks types and names field by field; `validate` then checks that the network as a whole
can be built. Every failure is a `SpecError` whose message names the field, e.g.
`stages[2].channels: must be a positive integer, got 0`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from resnet_studio.architecture.json_fields import (
    describe,
    no_unknown,
    read_choice,
    read_int,
    read_object,
)
from resnet_studio.errors import SpecError, UserError
from resnet_studio.fileio import BadJSON, atomic_write_json, read_json

FORMAT = "resnet-studio.architecture"
VERSION = 1

BlockKind = Literal["basic", "bottleneck", "preact"]
ShortcutKind = Literal["projection", "zero-pad", "none"]
DownsampleKind = Literal["stride", "maxpool"]
StemKind = Literal["conv", "whiten"]
BLOCK_KINDS: tuple[str, ...] = ("basic", "bottleneck", "preact")
SHORTCUT_KINDS: tuple[str, ...] = ("projection", "zero-pad", "none")
DOWNSAMPLE_KINDS: tuple[str, ...] = ("stride", "maxpool")
STEM_KINDS: tuple[str, ...] = ("conv", "whiten")

MAX_CHANNELS = 8192
MAX_SIZE = 4096
MAX_BLOCKS_PER_STAGE = 256


MAX_CLASSES = 100_000  # the most outputs an architecture file may name


@dataclass(frozen=True)
class InputSpec:
    channels: int = 3
    size: int = 32


@dataclass(frozen=True)
class StemSpec:
    channels: int = 16
    kernel: int = 3
    stride: int = 1
    maxpool: bool = False
    # "conv": convolution (padded to keep the size), BatchNorm, ReLU. "whiten": a fixed convolution
    # without padding or bias that whitens the input's kernel x kernel patches, set from the
    # training images before training, then ReLU; each filter comes with its negative, so channels
    # is 2 x input channels x kernel^2 (Page 2018; airbench). Nothing in it trains, so
    # backpropagation stops at the first block: each step is cheaper.
    kind: StemKind = "conv"

    def output_size(self, size: int) -> int:
        """The side of the stem's convolution output (before any max-pool)."""
        if self.kind == "whiten":
            return (size - self.kernel) // self.stride + 1
        return _strided(size, self.stride)


@dataclass(frozen=True)
class StageSpec:
    block: BlockKind = "basic"
    count: int = 1
    channels: int = 64
    stride: int = 1
    # Groups of the 3x3 convolutions (ResNeXt's cardinality; torchvision's `groups`).
    groups: int = 1
    # torchvision's `width_per_group`: a bottleneck's inner width is
    # channels / 4 * width_per_group / 64 * groups (64 and 1: the plain quarter; 128: Wide ResNet).
    width_per_group: int = 64

    @property
    def inner_width(self) -> int:
        """The width of a bottleneck's 3x3 convolution (`validate` checks that it is whole)."""
        if self.block != "bottleneck":
            return self.channels
        return self.channels * self.width_per_group * self.groups // 256


@dataclass(frozen=True)
class HeadSpec:
    dropout: float = 0.0


@dataclass(frozen=True)
class ArchitectureSpec:
    name: str = "Untitled"
    input: InputSpec = field(default_factory=InputSpec)
    classes: int = 10
    stem: StemSpec = field(default_factory=StemSpec)
    stages: tuple[StageSpec, ...] = (StageSpec(),)
    shortcut: ShortcutKind = "projection"
    head: HeadSpec = field(default_factory=HeadSpec)
    # BatchNorm after each 1x1 projection (the paper's option B). False: a bare 1x1 convolution, as
    # in the reference article's Keras code. Pre-activation blocks never normalise the projection.
    projection_bn: bool = True
    # How a block with stride s shrinks the image: "stride", its convolution strides (He et al.);
    # "maxpool", the convolution runs at full size and an s x s max-pool follows it, the shortcut
    # pooled alike (ResNet-9 and airbench: costlier, and faster to learn for the same time).
    downsample_by: DownsampleKind = "stride"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [_stage_dict(stage) for stage in self.stages]
        # Optional fields are written only when they differ from the default, so that files of
        # networks without them stay byte-identical and load in versions that predate them.
        if self.projection_bn:
            del data["projection_bn"]
        if self.downsample_by == "stride":
            del data["downsample_by"]
        if self.stem.kind == "conv":
            del data["stem"]["kind"]
        return {"format": FORMAT, "version": VERSION, **data}

    def with_stages(self, stages: list[StageSpec] | tuple[StageSpec, ...]) -> ArchitectureSpec:
        return replace(self, stages=tuple(stages))

    @property
    def depth(self) -> int:
        """Weighted layers on the main path, counted as in He et al. (stem + convs + classifier)."""
        per_block = {"basic": 2, "preact": 2, "bottleneck": 3}
        return 2 + sum(per_block[s.block] * s.count for s in self.stages)


def _stage_dict(stage: StageSpec) -> dict[str, Any]:
    data = asdict(stage)
    for key, default in STAGE_DEFAULTS.items():
        if data[key] == default:  # optional: absent when default, so older files stay identical
            del data[key]
    return data


STAGE_DEFAULTS = {"groups": 1, "width_per_group": 64}


# ---------------------------------------------------------------------------------------------
# Parsing: JSON values -> dataclasses, with a field path in every message (readers in json_fields.py).


def spec_from_dict(data: Any) -> ArchitectureSpec:
    """Parse and validate a JSON object; raises `SpecError` naming the field on any problem."""
    if not isinstance(data, dict):
        raise SpecError("", f"an architecture must be a JSON object, got {describe(data)}")
    top = {"format", "version", "name", "input", "classes", "stem", "stages", "shortcut", "head"}
    top |= {"projection_bn", "downsample_by"}
    no_unknown(data, "", top)
    if data.get("format", FORMAT) != FORMAT:
        raise SpecError("format", f"must be {FORMAT!r}, got {describe(data.get('format'))}")
    if data.get("version", VERSION) != VERSION:
        raise SpecError(
            "version",
            f"unsupported version {describe(data.get('version'))} (this program reads version {VERSION})",
        )
    name = data.get("name", "Untitled")
    if not isinstance(name, str):
        raise SpecError("name", f"must be a string, got {describe(name)}")

    raw_input = read_object(data, "input", "", {"channels", "size"})
    input_spec = InputSpec(
        channels=read_int(raw_input, "channels", "input.", 3, 1, 64),
        size=read_int(raw_input, "size", "input.", 32, 1, MAX_SIZE),
    )
    classes = read_int(data, "classes", "", None, 2, MAX_CLASSES)

    raw_stem = read_object(data, "stem", "", {"channels", "kernel", "stride", "maxpool", "kind"})
    maxpool = raw_stem.get("maxpool", False)
    if not isinstance(maxpool, bool):
        raise SpecError("stem.maxpool", f"must be true or false, got {describe(maxpool)}")
    stem = StemSpec(
        channels=read_int(raw_stem, "channels", "stem.", 16, 1, MAX_CHANNELS),
        kernel=read_int(raw_stem, "kernel", "stem.", 3, 1, 15),
        stride=read_int(raw_stem, "stride", "stem.", 1, 1, 4),
        maxpool=maxpool,
        kind=read_choice(raw_stem, "kind", "stem.", "conv", STEM_KINDS),  # type: ignore[arg-type]
    )

    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise SpecError("stages", f"must be a non-empty list, got {describe(raw_stages)}")
    stages = []
    for i, raw in enumerate(raw_stages):
        path = f"stages[{i}]."
        if not isinstance(raw, dict):
            raise SpecError(f"stages[{i}]", f"must be an object, got {describe(raw)}")
        no_unknown(raw, path, {"block", "count", "channels", "stride", *STAGE_DEFAULTS})
        stages.append(
            StageSpec(
                block=read_choice(raw, "block", path, "basic", BLOCK_KINDS),  # type: ignore[arg-type]
                count=read_int(raw, "count", path, None, 1, MAX_BLOCKS_PER_STAGE),
                channels=read_int(raw, "channels", path, None, 1, MAX_CHANNELS),
                stride=read_int(raw, "stride", path, 1, 1, 4),
                groups=read_int(raw, "groups", path, 1, 1, MAX_CHANNELS),
                width_per_group=read_int(raw, "width_per_group", path, 64, 1, MAX_CHANNELS),
            )
        )

    raw_head = read_object(data, "head", "", {"dropout"})
    dropout = raw_head.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise SpecError("head.dropout", f"must be a number in [0, 1), got {describe(dropout)}")

    projection_bn = data.get("projection_bn", True)
    if not isinstance(projection_bn, bool):
        raise SpecError("projection_bn", f"must be true or false, got {describe(projection_bn)}")

    spec = ArchitectureSpec(
        name=name,
        input=input_spec,
        classes=classes,
        stem=stem,
        stages=tuple(stages),
        shortcut=read_choice(data, "shortcut", "", "projection", SHORTCUT_KINDS),  # type: ignore[arg-type]
        head=HeadSpec(dropout=float(dropout)),
        projection_bn=projection_bn,
        downsample_by=read_choice(data, "downsample_by", "", "stride", DOWNSAMPLE_KINDS),  # type: ignore[arg-type]
    )
    validate(spec)
    return spec


# ---------------------------------------------------------------------------------------------
# Whole-network validation: rules that involve more than one field.


def problems(spec: ArchitectureSpec) -> list[SpecError]:
    """Every reason the spec cannot be built, in network order (empty when it is valid)."""
    found: list[SpecError] = []
    size = spec.input.size
    stem = spec.stem
    if stem.kind == "whiten":
        wanted = 2 * spec.input.channels * stem.kernel**2
        if stem.channels != wanted:
            found.append(
                SpecError(
                    "stem.channels",
                    f"a {stem.kernel}x{stem.kernel} whitening stem on {spec.input.channels} input channels "
                    f"has {wanted} (each of the {wanted // 2} patch directions and its negative), "
                    f"got {stem.channels}",
                )
            )
        if size < stem.kernel:
            found.append(SpecError("stem.kernel", f"larger than the input ({stem.kernel} > {size} pixels)"))
    elif stem.kernel % 2 == 0:
        found.append(SpecError("stem.kernel", f"must be odd so that padding is symmetric, got {stem.kernel}"))
    if size < stem.stride:
        found.append(
            SpecError(
                "stem.stride",
                f"spatial size falls below 1 pixel in the stem (input {size}x{size}, stride {stem.stride})",
            )
        )
    size = max(1, stem.output_size(size))
    if stem.maxpool:
        if size < 2:
            found.append(
                SpecError(
                    "stem.maxpool",
                    f"spatial size falls below 1 pixel at the max-pool (input {size}x{size}, stride 2)",
                )
            )
        size = _strided(size, 2)
    channels = stem.channels
    for i, stage in enumerate(spec.stages):
        path = f"stages[{i}]"
        if stage.block == "bottleneck" and stage.channels % 4:
            found.append(
                SpecError(
                    f"{path}.channels",
                    "a bottleneck stage needs a multiple of 4 "
                    f"(inner width is channels / 4), got {stage.channels}",
                )
            )
        found.extend(_grouping_problems(stage, channels, path))
        if spec.shortcut == "zero-pad" and stage.channels < channels:
            found.append(
                SpecError(
                    f"{path}.channels",
                    f"zero-pad shortcuts cannot reduce channels "
                    f"({channels} -> {stage.channels}); use projection shortcuts",
                )
            )
        if size < stage.stride:
            found.append(
                SpecError(
                    f"{path}.stride",
                    f"spatial size falls below 1 pixel at stage "
                    f"{i + 1} (input {size}x{size}, stride {stage.stride})",
                )
            )
        size = _strided(size, stage.stride)
        channels = stage.channels
    return found


def _grouping_problems(stage: StageSpec, cin: int, path: str) -> list[SpecError]:
    """What is wrong with a stage's `groups` and `width_per_group`, given its input width `cin`."""
    groups, per_group = stage.groups, stage.width_per_group
    if stage.block != "bottleneck":
        found = []
        if per_group != 64:
            found.append(
                SpecError(
                    f"{path}.width_per_group",
                    f"only a bottleneck block has an inner width to set (leave it at 64), got {per_group}",
                )
            )
        for side, width in (("input", cin), ("output", stage.channels)):
            if width % groups:
                found.append(
                    SpecError(
                        f"{path}.groups",
                        f"the {side} width {width} is not divisible by {groups} groups",
                    )
                )
                break
        return found
    if stage.channels % 4:
        return []  # reported as a bottleneck's channels
    if (stage.channels // 4 * per_group) % 64:
        return [
            SpecError(
                f"{path}.width_per_group",
                f"channels / 4 * width_per_group / 64 must be whole (the width of each group), "
                f"got {stage.channels} / 4 * {per_group} / 64",
            )
        ]
    if stage.inner_width > MAX_CHANNELS:
        return [
            SpecError(
                f"{path}.groups",
                f"the inner width channels / 4 * width_per_group / 64 * groups is "
                f"{stage.inner_width}, more than {MAX_CHANNELS}",
            )
        ]
    return []


def validate(spec: ArchitectureSpec) -> None:
    """Raise the first problem of `problems(spec)`, if any."""
    found = problems(spec)
    if found:
        raise found[0]


def _strided(size: int, stride: int) -> int:
    """Output side of a padded, strided layer (3x3 pad 1, 1x1 pad 0, k x k pad k//2 all agree)."""
    return (size - 1) // stride + 1


# ---------------------------------------------------------------------------------------------
# Files


def load_spec(path: str | Path) -> ArchitectureSpec:
    """Read a `*.resnet.json` file; any problem is a `UserError` naming the file and the field."""
    path = Path(path)
    try:
        data = read_json(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except BadJSON as exc:
        raise UserError(f"{path}: {exc}") from None
    try:
        return spec_from_dict(data)
    except SpecError as exc:
        raise UserError(f"{path}: {exc}") from None


def save_spec(spec: ArchitectureSpec, path: str | Path) -> None:
    atomic_write_json(path, spec.to_dict())
