"""The network: blocks, the spec -> nn.Module builder, and its saved weights (checkpoints and the
weights that ship with the package).

Names load on first use (PEP 562): the studio reads the shipped weights' index (`nn.shipped`)
before torch has loaded, which the other modules need.
"""

from __future__ import annotations

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
