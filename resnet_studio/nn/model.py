"""Spec -> `nn.Module`, with blocks named as the analysis names them (`stage2.block1`)."""

from __future__ import annotations

from collections import OrderedDict
from typing import cast

import torch
from torch import Tensor, nn

from resnet_studio.architecture.spec import ArchitectureSpec, validate
from resnet_studio.nn.blocks import BLOCKS, BasicBlock, Bottleneck, PreActBlock
from resnet_studio.nn.whitening import whitening_filters

Block = BasicBlock | Bottleneck | PreActBlock


class Head(nn.Module):
    """Global average pool, dropout, classifier; a pre-activation network gets its final BN-ReLU here."""

    def __init__(self, channels: int, classes: int, dropout: float, preact: bool) -> None:
        super().__init__()
        self.norm = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True)) if preact else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: Tensor) -> Tensor:
        if self.norm is not None:
            x = self.norm(x)
        return self.fc(self.dropout(self.pool(x).flatten(1)))


class ResNet(nn.Module):
    """stem -> stage1 ... stageN (each a Sequential of block1 ... blockK) -> head."""

    def __init__(self, spec: ArchitectureSpec, zero_init_residual: bool = False) -> None:
        super().__init__()
        validate(spec)
        self.spec = spec
        stem = spec.stem
        layers: list[tuple[str, nn.Module]]
        if stem.kind == "whiten":  # fixed filters, set by `fit_whitening`: nothing here trains
            whiten = nn.Conv2d(spec.input.channels, stem.channels, stem.kernel, stem.stride, bias=False)
            layers = [("whiten", whiten), ("relu", nn.ReLU(inplace=True))]
        else:
            conv = nn.Conv2d(
                spec.input.channels, stem.channels, stem.kernel, stem.stride, stem.kernel // 2, bias=False
            )
            layers = [("conv", conv), ("bn", nn.BatchNorm2d(stem.channels)), ("relu", nn.ReLU(inplace=True))]
        if stem.maxpool:
            layers.append(("maxpool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
        self.stem = nn.Sequential(OrderedDict(layers))

        channels = stem.channels
        self.stage_names: list[str] = []
        for s, stage in enumerate(spec.stages, start=1):
            blocks: OrderedDict[str, nn.Module] = OrderedDict()
            for b in range(1, stage.count + 1):
                stride = stage.stride if b == 1 else 1
                blocks[f"block{b}"] = BLOCKS[stage.block](
                    channels,
                    stage.channels,
                    stride,
                    spec.shortcut,
                    spec.projection_bn,
                    pool=spec.downsample_by == "maxpool",
                    groups=stage.groups,
                    width_per_group=stage.width_per_group,
                )
                channels = stage.channels
            self.add_module(f"stage{s}", nn.Sequential(blocks))
            self.stage_names.append(f"stage{s}")
        self.head = Head(channels, spec.classes, spec.head.dropout, spec.stages[-1].block == "preact")
        self.reset_parameters(zero_init_residual)

    def reset_parameters(self, zero_init_residual: bool = False) -> None:
        """He initialisation; optionally zero the last BN of each residual branch (Goyal et al.)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual and self.spec.shortcut != "none":
            for _, block in self.named_blocks():
                nn.init.zeros_(block.last_bn().weight)
        whiten = self.whitening()
        if whiten is not None:  # random until fitted: still a usable (untrained) network
            # Fixed, and with no bias to learn, so backpropagation stops at the first block: its
            # input gradient, the stem's BatchNorm and weight gradients are never computed (a
            # third more images per second for `cifar-fast` on a 2-core CPU).
            whiten.weight.requires_grad_(False)

    def whitening(self) -> nn.Conv2d | None:
        """The whitening stem's convolution, or None for a convolutional stem."""
        return cast(nn.Conv2d, self.stem.whiten) if self.spec.stem.kind == "whiten" else None

    @torch.no_grad()
    def fit_whitening(self, images: Tensor) -> None:
        """Set the whitening stem's filters from normalised training images (N, C, H, W)."""
        whiten = self.whitening()
        if whiten is not None:
            stem = self.spec.stem
            filters = whitening_filters(images.cpu(), stem.kernel, stem.stride)
            whiten.weight.copy_(filters.to(whiten.weight.device))

    def named_blocks(self) -> list[tuple[str, Block]]:
        """("stage1.block1", module), ... in network order: the places inspection taps."""
        return [
            (f"{stage_name}.{block_name}", cast(Block, block))
            for stage_name in self.stage_names
            for block_name, block in getattr(self, stage_name).named_children()
        ]

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.head(x)


def build_model(spec: ArchitectureSpec, zero_init_residual: bool = False) -> ResNet:
    return ResNet(spec, zero_init_residual)


def build_unfilled(spec: ArchitectureSpec) -> ResNet:
    """The network with uninitialised weights, for trained ones to be loaded into (every weight
    must then be loaded). Built without drawing from torch's global random generator: a snapshot
    or a checkpoint loaded on a worker thread would otherwise take numbers that a run training at
    the same moment draws its dropout from, and that run's results would depend on when the user
    classified. (The device context is per thread, so it touches no other thread's tensors.)"""
    with torch.device("meta"):
        model = ResNet(spec)
    return model.to_empty(device="cpu")
