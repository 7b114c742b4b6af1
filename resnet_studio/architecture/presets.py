"""Ready-made networks: the reference article's, He et al. 2015's CIFAR family and torchvision's ResNet
family (ResNet, ResNeXt, Wide ResNet) under torchvision's own names."""

from __future__ import annotations

from dataclasses import dataclass

from resnet_studio.architecture.spec import (
    ArchitectureSpec,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemSpec,
)
from resnet_studio.errors import UserError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    spec: ArchitectureSpec


def _cifar(depth: int, shortcut: str, title: str) -> ArchitectureSpec:
    """He et al. 2015, section 4.2: 6n+2 layers, 16/32/64 channels, option A shortcuts."""
    n = (depth - 2) // 6
    return ArchitectureSpec(
        name=title,
        input=InputSpec(3, 32),
        classes=10,
        stem=StemSpec(channels=16, kernel=3, stride=1, maxpool=False),
        stages=(
            StageSpec("basic", n, 16, 1),
            StageSpec("basic", n, 32, 2),
            StageSpec("basic", n, 64, 2),
        ),
        shortcut=shortcut,  # type: ignore[arg-type]
        head=HeadSpec(0.0),
    )


def _imagenet(
    title: str,
    block: str,
    widths: tuple[int, ...],
    counts: tuple[int, ...],
    groups: int = 1,
    width_per_group: int = 64,
) -> ArchitectureSpec:
    """torchvision's ResNet layout: 7x7/2 stem + max-pool, four stages, 224 px, 1000 classes."""
    return ArchitectureSpec(
        name=title,
        input=InputSpec(3, 224),
        classes=1000,
        stem=StemSpec(channels=64, kernel=7, stride=2, maxpool=True),
        stages=tuple(
            StageSpec(block, count, width, 1 if i == 0 else 2, groups, width_per_group)  # type: ignore[arg-type]
            for i, (count, width) in enumerate(zip(counts, widths, strict=True))
        ),
        shortcut="projection",
        head=HeadSpec(0.0),
    )


_ARTICLE = ArchitectureSpec(
    name="Article ResNet",
    input=InputSpec(3, 32),
    classes=10,
    stem=StemSpec(channels=64, kernel=7, stride=2, maxpool=False),
    stages=tuple(StageSpec("basic", 1, 64, 2) for _ in range(3)),
    shortcut="projection",
    head=HeadSpec(0.0),
    projection_bn=False,  # the article's Keras code: Conv2D 1x1 on the shortcut, no BatchNorm
)

# Chosen for CIFAR-10 accuracy per minute of a 2-core CPU (README, "CIFAR-10 in 10 minutes"): a
# fixed 2x2 whitening stem (nothing to train, so backpropagation stops at the first block: 346
# steps in a 3-minute budget where a trained 3x3 stem with BatchNorm took 303), then one basic
# block per stage that convolves at full size and max-pools by 2 (ResNet-9's and airbench's
# downsampling), 32, 64 and 128 channels. Measured in 3-minute runs on a held-out split: 75.0%
# against 74.2% with the 3x3 stem; strided convolutions and the earlier stride-2 stem with 48-192
# channels were further behind.
_CIFAR_FAST = ArchitectureSpec(
    name="CIFAR-fast",
    input=InputSpec(3, 32),
    classes=10,
    stem=StemSpec(channels=24, kernel=2, stride=1, maxpool=False, kind="whiten"),
    stages=(StageSpec("basic", 1, 32, 2), StageSpec("basic", 1, 64, 2), StageSpec("basic", 1, 128, 2)),
    shortcut="projection",
    head=HeadSpec(0.0),
    downsample_by="maxpool",
)

_BASIC = ("basic", (64, 128, 256, 512))
_BOTTLENECK = ("bottleneck", (256, 512, 1024, 2048))

# torchvision 0.29's ResNet family under its own names: title, description, and the layout
# (block, widths, blocks per stage, groups, width_per_group). Parameter counts equal torchvision's.
TORCHVISION_FAMILY: dict[str, tuple[str, str, tuple]] = {
    "resnet18": ("ResNet-18", "ResNet-18, ImageNet layout (224 px, 1000 classes)", (*_BASIC, (2, 2, 2, 2))),
    "resnet34": ("ResNet-34", "ResNet-34, ImageNet layout (224 px, 1000 classes)", (*_BASIC, (3, 4, 6, 3))),
    "resnet50": (
        "ResNet-50",
        "ResNet-50, ImageNet layout with bottleneck blocks",
        (*_BOTTLENECK, (3, 4, 6, 3)),
    ),
    "resnet101": (
        "ResNet-101",
        "ResNet-101, ImageNet layout with bottleneck blocks",
        (*_BOTTLENECK, (3, 4, 23, 3)),
    ),
    "resnet152": (
        "ResNet-152",
        "ResNet-152, ImageNet layout with bottleneck blocks",
        (*_BOTTLENECK, (3, 8, 36, 3)),
    ),
    "resnext50_32x4d": (
        "ResNeXt-50 32x4d",
        "ResNeXt-50 (Xie et al. 2017): bottlenecks of 32 groups, 4 channels each in the first stage",
        (*_BOTTLENECK, (3, 4, 6, 3), 32, 4),
    ),
    "resnext101_32x8d": (
        "ResNeXt-101 32x8d",
        "ResNeXt-101: bottlenecks of 32 groups, 8 channels each in the first stage",
        (*_BOTTLENECK, (3, 4, 23, 3), 32, 8),
    ),
    "resnext101_64x4d": (
        "ResNeXt-101 64x4d",
        "ResNeXt-101: bottlenecks of 64 groups, 4 channels each in the first stage",
        (*_BOTTLENECK, (3, 4, 23, 3), 64, 4),
    ),
    "wide_resnet50_2": (
        "Wide ResNet-50-2",
        "Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50, bottlenecks twice as wide inside",
        (*_BOTTLENECK, (3, 4, 6, 3), 1, 128),
    ),
    "wide_resnet101_2": (
        "Wide ResNet-101-2",
        "Wide ResNet-101-2: ResNet-101, bottlenecks twice as wide inside",
        (*_BOTTLENECK, (3, 4, 23, 3), 1, 128),
    ),
}

PRESETS: dict[str, Preset] = {
    "article": Preset(
        "article",
        "The reference article's network: 7x7/2 stem, three 64-channel "
        "basic blocks with stride 2, 1x1 projection shortcuts without BatchNorm",
        _ARTICLE,
    ),
    **{
        f"resnet{d}": Preset(
            f"resnet{d}",
            f"ResNet-{d} for CIFAR (He et al. 2015), option A shortcuts",
            _cifar(d, "zero-pad", f"ResNet-{d}"),
        )
        for d in (20, 32, 44, 56, 110)
    },
    **{
        f"plain{d}": Preset(
            f"plain{d}",
            f"Plain-{d}: ResNet-{d} without shortcuts, for comparison",
            _cifar(d, "none", f"Plain-{d}"),
        )
        for d in (20, 56)
    },
    "cifar-fast": Preset(
        "cifar-fast",
        "A shallow ResNet for CIFAR in minutes on a CPU: a fixed 2x2 whitening stem, then one basic "
        "block of 32, 64 and 128 channels per stage, each downsampling by max-pool (the cifar-10min "
        "recipe's network)",
        _CIFAR_FAST,
    ),
    **{
        name: Preset(name, description, _imagenet(title, *layout))
        for name, (title, description, layout) in TORCHVISION_FAMILY.items()
    },
}


def get_preset(name: str) -> ArchitectureSpec:
    try:
        return PRESETS[name.lower()].spec
    except KeyError:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
