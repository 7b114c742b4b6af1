"""Data sources, the built-in demo generator, image decoding and batched augmentation.

Names load on first use (PEP 562): the studio imports `data.images` for its checks of dropped
files without importing torch, which `data.sources` needs.
"""

from __future__ import annotations

from resnet_studio.lazy import lazy_exports

_EXPORTS = {"DataSet": "sources", "DataSplits": "sources", "load_data": "sources", "parse_source": "sources"}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
