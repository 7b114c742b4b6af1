"""The network: blocks, the spec -> nn.Module builder, and its saved weights (checkpoints and the
weights that ship with the package).

Names load on first use (PEP 562): the studio reads the shipped weights' index (`nn.shipped`)
before torch has loaded, which the other modules need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BLOCKS": "blocks",
    "BasicBlock": "blocks",
    "Bottleneck": "blocks",
    "PreActBlock": "blocks",
    "ZeroPadShortcut": "blocks",
    "ResNet": "model",
    "build_model": "model",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'resnet_studio.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(f"resnet_studio.nn.{_EXPORTS[name]}"), name)
