"""Names a package exports from its submodules, loaded on first use (PEP 562): importing a light
submodule (`training.config`, `nn.shipped`, `data.images`) then does not import torch, and the
studio's window appears before torch has loaded."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that finds each name of `exports` (name -> submodule)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
