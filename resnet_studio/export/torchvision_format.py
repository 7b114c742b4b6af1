"""`export --format torchvision`: a state dict that `torchvision.models.NAME(num_classes=...)` loads
with strict=True, for any network of torchvision's ResNet family (refused by name otherwise).

Checked when written, as every export: torchvision's network is built on the meta device (nothing
allocated or initialised), takes the weights strictly, and must give the checkpoint's outputs.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from resnet_studio.errors import UserError
from resnet_studio.export.report import ExportReport
from resnet_studio.fileio import atomic_write
from resnet_studio.nn.checkpoint import model_from_checkpoint
from resnet_studio.nn.torchvision_map import family_name, to_torchvision

TOLERANCE = 1e-4  # float32: the same operations in the same order, measured 0
# The side of the random images the check runs: the weights act alike at any size (the network
# ends in a global average pool; 32 px still leaves stage 4 one pixel), and checking at 224 px
# would cost a Wide ResNet-101 seconds.
CHECK_SIZE = 32


def export_torchvision(checkpoint: str | Path, out: Path, inputs: int) -> ExportReport:
    loaded = model_from_checkpoint(checkpoint)
    name = family_name(loaded.spec)
    model = loaded.model.float().eval()
    weights = to_torchvision(model.state_dict())  # the model's own tensors: nothing copied
    network = torchvision_network(name, loaded.spec.classes, weights)
    size = min(loaded.input_size, CHECK_SIZE)
    x = torch.randn(inputs, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = float((network(x) - model(x)).abs().max())
    if not diff <= TOLERANCE:  # NaN fails too
        raise UserError(
            f"torchvision export of {loaded.path} does not reproduce the model: max abs difference "
            f"{diff:.2e} > {TOLERANCE:.0e}; nothing was written to {out}"
        )
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    try:
        atomic_write(out, lambda handle: handle.write(buffer.getbuffer()))
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return ExportReport(out, f"torchvision {name}", diff, inputs)


def torchvision_network(name: str, classes: int, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """torchvision's `name` with `classes` outputs holding `weights` (strictly: every name and
    shape must match), in eval mode; the tensors are used in place, not copied."""
    import torchvision

    with torch.device("meta"):
        network = torchvision.models.get_model(name, num_classes=classes)
    try:
        network.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise UserError(
            f"torchvision's {name} does not take the weights: {' '.join(first[:2])[:300]}"
        ) from None
    return network.eval()
