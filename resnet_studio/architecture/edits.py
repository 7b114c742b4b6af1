"""Edits of a spec as pure functions: each returns a new spec and the text the undo history shows.

The builder turns every user gesture into one of these, wrapped in one `QUndoCommand`; keeping
them Qt-free lets the tests check the arithmetic of an edit without a window. An edit may produce
an invalid spec (bottleneck channels not divisible by 4, say): the builder shows that in place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from resnet_studio.architecture.spec import ArchitectureSpec, HeadSpec, InputSpec, StageSpec, StemSpec

BLOCK_TITLES = {"basic": "basic", "bottleneck": "bottleneck", "preact": "pre-activation"}
STEMS = {
    "cifar": StemSpec(channels=16, kernel=3, stride=1, maxpool=False),
    "imagenet": StemSpec(channels=64, kernel=7, stride=2, maxpool=True),
    "whiten": StemSpec(channels=24, kernel=2, stride=1, maxpool=False, kind="whiten"),  # for RGB
}
STEM_TITLES = {
    "cifar": "3x3 CIFAR stem",
    "imagenet": "7x7/2 + max-pool ImageNet stem",
    "whiten": "2x2 whitening stem",
}

Edit = tuple[ArchitectureSpec, str]


def new_stage(spec: ArchitectureSpec, index: int, block: str) -> StageSpec:
    """A sensible stage to insert at `index`: the width of the stage before it, doubled with
    stride 2 when it goes after an existing stage (the usual ResNet progression)."""
    if index == 0:
        channels = spec.stem.channels
        stride = 1
    else:
        channels = spec.stages[index - 1].channels * 2
        stride = 2
    if block == "bottleneck":
        channels = max(4, channels * (4 if index == 0 else 1))
        channels -= channels % 4
    return StageSpec(block, 2, channels, stride)  # type: ignore[arg-type]


def add_stage(spec: ArchitectureSpec, index: int, block: str) -> Edit:
    index = max(0, min(index, len(spec.stages)))
    stages = list(spec.stages)
    stages.insert(index, new_stage(spec, index, block))
    return spec.with_stages(stages), f"Add {BLOCK_TITLES[block]} stage"


def remove_stage(spec: ArchitectureSpec, index: int) -> Edit:
    stages = list(spec.stages)
    del stages[index]
    return spec.with_stages(stages), f"Remove stage {index + 1}"


def move_stage(spec: ArchitectureSpec, source: int, target: int) -> Edit:
    stages = list(spec.stages)
    stage = stages.pop(source)
    target = max(0, min(target, len(stages)))
    stages.insert(target, stage)
    return spec.with_stages(stages), f"Move stage {source + 1} to position {target + 1}"


def add_block(spec: ArchitectureSpec, index: int) -> Edit:
    stage = spec.stages[index]
    return set_stage(spec, index, "count", stage.count + 1)[0], f"Add a block to stage {index + 1}"


def set_stage(spec: ArchitectureSpec, index: int, field: str, value: Any) -> Edit:
    stages = list(spec.stages)
    stages[index] = replace(stages[index], **{field: value})
    shown = BLOCK_TITLES.get(value, value) if field == "block" else value
    return spec.with_stages(stages), f"Set stage {index + 1} {_words(field)} to {shown}"


def set_stem(spec: ArchitectureSpec, field: str, value: Any) -> Edit:
    stem = replace(spec.stem, **{field: value})
    if stem.kind == "whiten" and field == "kernel":  # the channels follow: 2 C k^2 filters
        stem = replace(stem, channels=2 * spec.input.channels * stem.kernel**2)
    return replace(spec, stem=stem), f"Set stem {_words(field)} to {value}"


def use_stem(spec: ArchitectureSpec, variant: str) -> Edit:
    stem = STEMS[variant]
    if stem.kind == "whiten":
        stem = replace(stem, channels=2 * spec.input.channels * stem.kernel**2)
    return replace(spec, stem=stem), f"Use the {STEM_TITLES[variant]}"


def set_stem_kind(spec: ArchitectureSpec, kind: str) -> Edit:
    """A convolutional stem or a whitening one, keeping the stride and max-pool."""
    if kind == spec.stem.kind:
        return spec, "Keep the stem"
    new = use_stem(spec, "whiten" if kind == "whiten" else "cifar")[0]
    stem = replace(new.stem, stride=spec.stem.stride, maxpool=spec.stem.maxpool)
    title = "a whitening stem" if kind == "whiten" else "a convolutional stem"
    return replace(spec, stem=stem), f"Use {title}"


def set_head(spec: ArchitectureSpec, dropout: float) -> Edit:
    return replace(spec, head=HeadSpec(dropout)), f"Set head dropout to {dropout:g}"


def set_network(spec: ArchitectureSpec, field: str, value: Any) -> Edit:
    """Network-wide settings: name, classes, shortcut, projection_bn, downsample_by, input_size,
    input_channels."""
    if field == "input_size":
        return replace(spec, input=InputSpec(spec.input.channels, value)), f"Set input size to {value}"
    if field == "input_channels":
        return replace(spec, input=InputSpec(value, spec.input.size)), f"Set input channels to {value}"
    if field == "projection_bn":
        state = "on" if value else "off"
        return replace(spec, projection_bn=bool(value)), f"Turn BatchNorm on projections {state}"
    if field == "downsample_by":
        how = "max-pooling" if value == "maxpool" else "strided convolutions"
        return replace(spec, downsample_by=value), f"Downsample by {how}"
    return replace(spec, **{field: value}), f"Set {_words(field)} to {value}"


def _words(field: str) -> str:
    return field.replace("_", " ")
