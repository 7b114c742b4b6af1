"""Where a folder's image cache lives and what names it: a hidden folder beside the data when that
can be written (never through a link or a file in its place), else the user's cache folder; one
sub-folder per split and decode (its key)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from resnet_studio.data.images import Size
from resnet_studio.data.preprocessing import Preprocessing

CACHE_FOLDER = ".resnet-studio-cache"  # beside the data; hidden, so never taken for a class


def user_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "resnet-studio"


def decode_params(size: Size, channels: int) -> dict[str, Any]:
    return {
        "size": size.to_dict() if isinstance(size, Preprocessing) else int(size),
        "channels": int(channels),
    }


def cache_key(split: str, size: Size, channels: int, selection: dict[str, Any]) -> str:
    """The folder name of one split's cache: what decides its rows (not the files' stamps, which
    the manifest checks)."""
    text = json.dumps({"split": split, **decode_params(size, channels), **selection}, sort_keys=True)
    return f"{split}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def cache_location(root: Path, key: str) -> tuple[Path, Path]:
    """(the cache folder of `key`, the folder it must lie within, link-free): beside the data when
    that can be written, else the user's cache folder. A link or a file in the hidden folder's
    place is never written through: the user's cache folder is used instead."""
    beside = root / CACHE_FOLDER
    with contextlib.suppress(OSError):
        if _writable_folder(beside):
            return beside / key, beside
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    base = user_cache_root() / "folders"
    return base / f"{_slug(root.resolve().name)}-{digest}" / key, base


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "folder"


def _writable_folder(folder: Path) -> bool:
    try:
        folder.mkdir()
        return True
    except FileExistsError:  # there already, or made by another process just now: check it
        pass
    except OSError:
        return False
    try:
        mode = os.lstat(folder).st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and os.access(folder, os.W_OK | os.X_OK)
