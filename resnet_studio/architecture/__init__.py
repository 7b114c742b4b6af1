"""The network description: spec dataclasses + JSON v1, validation, presets and analysis."""

from resnet_studio.architecture.analysis import Analysis, LayerInfo, analyze
from resnet_studio.architecture.presets import PRESETS, get_preset
from resnet_studio.architecture.spec import (
    BLOCK_KINDS,
    DOWNSAMPLE_KINDS,
    SHORTCUT_KINDS,
    ArchitectureSpec,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemSpec,
    load_spec,
    problems,
    save_spec,
    spec_from_dict,
    validate,
)

__all__ = [
    "BLOCK_KINDS",
    "DOWNSAMPLE_KINDS",
    "PRESETS",
    "SHORTCUT_KINDS",
    "Analysis",
    "ArchitectureSpec",
    "HeadSpec",
    "InputSpec",
    "LayerInfo",
    "StageSpec",
    "StemSpec",
    "analyze",
    "get_preset",
    "load_spec",
    "problems",
    "save_spec",
    "spec_from_dict",
    "validate",
]
