"""Data sources, the built-in demo generator, image decoding and batched augmentation.

Names load on first use (PEP 562): the studio imports `data.images` for its checks of dropped
files without importing torch, which `data.sources` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"DataSet": "sources", "DataSplits": "sources", "load_data": "sources", "parse_source": "sources"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'resnet_studio.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"resnet_studio.data.{_EXPORTS[name]}"), name)
