"""The network: blocks, the spec -> nn.Module builder, and its saved weights (checkpoints and the
weights that ship with the package).

Names load on first use (PEP 562): the studio reads the shipped weights' index (`nn.shipped`)
before torch has loaded, which the other modules need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnet_studio.lazy import lazy_exports

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

if TYPE_CHECKING:  # the same names for mypy and editors (tests/test_exports.py keeps them in step)
    from resnet_studio.nn.blocks import BLOCKS, BasicBlock, Bottleneck, PreActBlock, ZeroPadShortcut
    from resnet_studio.nn.model import ResNet, build_model
else:
    __getattr__ = lazy_exports(__name__, _EXPORTS)
