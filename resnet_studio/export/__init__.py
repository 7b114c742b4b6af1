"""Export a trained network: TorchScript, ONNX, a standalone PyTorch source file, or (for
torchvision's ResNet family) a state dict that torchvision's own network loads.

Every export is checked when it is written: the exported model runs on random inputs and its
outputs are compared with the checkpoint's model (the report gives the max abs difference).
Submodules load torch on use, so importing this package stays cheap for the studio's menus.
"""

from __future__ import annotations

from pathlib import Path

from resnet_studio.export.report import FORMATS, SUFFIXES, ExportReport


def export_checkpoint(checkpoint: str | Path, format: str, out: str | Path, inputs: int = 4) -> ExportReport:
    """Export the network of a checkpoint (or a run folder's best one) to `out`, then check it."""
    from resnet_studio.export.writers import export_model

    return export_model(checkpoint, format, Path(out), inputs)


__all__ = ["FORMATS", "SUFFIXES", "ExportReport", "export_checkpoint"]
