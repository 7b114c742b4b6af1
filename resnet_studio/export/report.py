"""The export formats and what an export reports: torch-free, for the studio's menus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = ("torchscript", "onnx", "python", "torchvision")
SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx", "python": ".py", "torchvision": ".pth"}


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    max_abs_diff: float  # exported vs original outputs on `inputs` random images
    inputs: int

    def describe(self) -> str:
        return (
            f"wrote {self.path} ({self.format}); its outputs match the checkpoint's model to "
            f"{self.max_abs_diff:.1e} max abs difference on {self.inputs} random inputs"
        )
