"""The checkpoints a run can start from besides random and shipped weights: where the studio finds
them and what it calls them (Train's "Start from").

Two places are remembered: the folder that File > Import torchvision Weights… saves into by
default (`IMPORT_FOLDER`, in the user's ResNetStudio folder; `resnet-studio import --out` may
write there too), and the checkpoints the user chose or imported elsewhere lately (the settings'
`RECENT_KEY`, newest first). Reading a checkpoint's name maps the file rather than loading its
weights (a 100 MB ResNet-50 takes milliseconds), but still off the UI thread.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

IMPORT_FOLDER = Path.home() / "ResNetStudio" / "imported"
RECENT_KEY = "train/recentCheckpoints"
MAX_RECENT = 8
ZIP_MAGIC = b"PK\x03\x04"  # every checkpoint of ours is a zip file (torch.save)


@dataclass(frozen=True)
class KnownCheckpoint:
    path: str
    label: str  # "resnet50 IMAGENET1K_V2" (an import: short, Setup is narrow), "ResNet-20 · run 3/best.pt"
    description: str  # the tooltip: the network, its classes and input, the file


def describe_checkpoint(path: str | Path) -> KnownCheckpoint | None:
    """The checkpoint's label and description; None when the file is no checkpoint of ours."""
    import torch

    path = Path(path)
    try:
        with path.open("rb") as file:
            if file.read(4) != ZIP_MAGIC:
                return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state: Any = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        architecture = state["architecture"]
        name = str(architecture.get("name", "network"))
        classes = len(state["classes"])
        size = architecture.get("input", {}).get("size", "?")
        source = str((state.get("config") or {}).get("source", ""))
    except Exception:  # noqa: BLE001 - whatever a foreign or broken file makes torch raise
        return None
    description = f"{name}: {classes:,} classes, {size} px input\n{path}"
    if source.startswith("torchvision:"):
        network, _, weights = source.removeprefix("torchvision:").partition("=")
        label = imported_label(network, weights)
        description = f"Imported from torchvision's {network} ({weights}): {description}"
    else:
        where = path.parent.parent.name if path.parent.name == "checkpoints" else ""
        label = f"{name} · {where + '/' if where else ''}{path.name}"
    return KnownCheckpoint(str(path), label, description)


def imported_label(network: str, weights: str) -> str:
    """How Start from names imported weights: "resnet50 IMAGENET1K_V2"."""
    return f"{network} {weights}".strip()


def known_checkpoints(folder: Path, recent: list[str]) -> list[KnownCheckpoint]:
    """The checkpoints in `folder` (by name), then the `recent` ones elsewhere; files that are gone
    or unreadable are left out."""
    try:
        found = sorted(p for p in folder.glob("*.pt") if p.is_file())
    except OSError:
        found = []
    paths = [str(p) for p in found] + recent
    known = []
    for path in dict.fromkeys(paths):
        checkpoint = describe_checkpoint(path)
        if checkpoint is not None:
            known.append(checkpoint)
    return known


def recent_checkpoints() -> list[str]:
    value = QSettings("ResNet Studio", "ResNet Studio").value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings gives a one-item list back as its item
        value = [value]
    return [str(p) for p in value][:MAX_RECENT] if isinstance(value, list) else []


def remember_checkpoint(path: str) -> None:
    """Put `path` first among the recent checkpoints (shipped names are listed anyway)."""
    if not path or not Path(path).is_absolute():
        return
    recent = [path] + [p for p in recent_checkpoints() if p != path]
    QSettings("ResNet Studio", "ResNet Studio").setValue(RECENT_KEY, recent[:MAX_RECENT])
