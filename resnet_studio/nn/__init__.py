"""Blocks and the spec -> nn.Module builder."""

from resnet_studio.nn.blocks import BLOCKS, BasicBlock, Bottleneck, PreActBlock, ZeroPadShortcut
from resnet_studio.nn.model import ResNet, build_model

__all__ = [
    "BLOCKS",
    "BasicBlock",
    "Bottleneck",
    "PreActBlock",
    "ResNet",
    "ZeroPadShortcut",
    "build_model",
]
