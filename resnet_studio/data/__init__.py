"""Data sources, the built-in demo generator, image decoding and batched augmentation.

Names load on first use (PEP 562): the studio imports `data.images` for its checks of dropped
files without importing torch, which `data.sources` needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnet_studio.lazy import lazy_exports

_EXPORTS = {"DataSet": "sources", "DataSplits": "sources", "load_data": "sources", "parse_source": "sources"}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # the same names for mypy and editors (tests/test_exports.py keeps them in step)
    from resnet_studio.data.sources import DataSet, DataSplits, load_data, parse_source
else:
    __getattr__ = lazy_exports(__name__, _EXPORTS)
