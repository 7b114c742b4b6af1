"""What a channel looks for: the images that excite it most, each cropped to the part of the image
the channel sees at its strongest position (its receptive field), as Zeiler and Fergus (2014) and
Olah et al. (2017) show channels.

The activations of every tap over the validation images are reduced once to each channel's peak
and where it is (`ChannelIndex`): a few megabytes for thousands of images, so that the top images of
any channel of any block are then a sort, not a new pass (the studio keeps one per session).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from resnet_studio.architecture.receptive_field import Field, receptive_fields
from resnet_studio.data.stored import StoredImages
from resnet_studio.data.transforms import normalize
from resnet_studio.inspection.activations import tap_points
from resnet_studio.nn.model import ResNet

Progress = Callable[[int, int], None]


class Cancelled(Exception):
    """The user cancelled a long computation."""


def eval_pass(
    model: ResNet,
    images: Tensor | StoredImages,
    mean: list[float],
    std: list[float],
    *,
    size: int | None = None,
    batch_size: int = 250,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[Tensor]:
    """One no-grad pass over the uint8 `images` (N, C, H, W) in eval mode, batch by batch: each
    batch's logits, for callers whose hooks keep what they need. The model is put back in the mode
    it was in; `cancelled` is asked between batches (raises `Cancelled`)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    if progress is not None:
        progress(0, len(images))  # a bar starts here, so its rate counts the first batch's time
    try:
        for start in range(0, len(images), batch_size):
            if cancelled():
                raise Cancelled
            x = normalize(images[start : start + batch_size].to(device), mean, std, size=size)
            with torch.no_grad():
                logits = model(x)
            yield logits  # outside no_grad: the caller's loop body keeps its own grad mode
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class TapPeaks:
    peak: Tensor  # float32 (N, C): each channel's largest activation in each image
    where: Tensor  # int64 (N, C): its position, row * side + col
    side: int  # the tap's output side


@dataclass(frozen=True)
class TopImage:
    index: int  # into the indexed images
    value: float  # the channel's peak activation in it
    row: int  # the peak's position in the tap's output
    col: int
    box: tuple[int, int, int, int]  # (top, left, bottom, right) of the input pixels it sees


class ChannelIndex:
    """Every tap's per-channel peaks over a set of uint8 images (N, C, H, W), from one pass."""

    def __init__(self, model: ResNet, images: Tensor | StoredImages, peaks: dict[str, TapPeaks]) -> None:
        self.images = images
        self.peaks = peaks
        self.fields: dict[str, Field] = receptive_fields(model.spec)
        self.size = int(images.shape[-1])

    def channels(self, tap: str) -> int:
        return int(self.peaks[tap].peak.shape[1])

    def top(self, tap: str, channel: int, k: int = 9) -> list[TopImage]:
        """The `k` images whose peak of `channel` at `tap` is largest, strongest first."""
        peaks = self.peaks[tap]
        values, order = peaks.peak[:, channel].topk(min(k, len(peaks.peak)))
        found = []
        for value, index in zip(values.tolist(), order.tolist(), strict=True):
            row, col = divmod(int(peaks.where[index, channel]), peaks.side)
            box = self.fields[tap].box(row, col, self.size)
            found.append(TopImage(index, float(value), row, col, box))
        return found

    def crops(self, found: list[TopImage]) -> list[np.ndarray]:
        """Each image's receptive-field crop, uint8 (C, h, w)."""
        return [
            self.images[t.index][:, t.box[0] : t.box[2], t.box[1] : t.box[3]].numpy().copy() for t in found
        ]


@torch.no_grad()
def index_channels(
    model: ResNet,
    images: Tensor | StoredImages,
    mean: list[float],
    std: list[float],
    *,
    batch_size: int = 250,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ChannelIndex:
    """One pass over `images` (uint8, at the model's input size) in eval mode; the model is left in
    the mode it was in. `cancelled` is asked between batches (raises `Cancelled`)."""
    taps = tap_points(model)
    found: dict[str, list[tuple[Tensor, Tensor]]] = {name: [] for name, _ in taps}
    sides: dict[str, int] = {}

    def keep(name: str) -> Callable:
        def hook(_module: torch.nn.Module, _inputs: tuple, out: Tensor) -> None:
            flat = out.float().flatten(2)
            peak, where = flat.max(2)
            found[name].append((peak.cpu(), where.cpu()))
            sides[name] = int(out.shape[-1])

        return hook

    hooks = [module.register_forward_hook(keep(name)) for name, module in taps]
    try:
        for _ in eval_pass(
            model, images, mean, std, batch_size=batch_size, progress=progress, cancelled=cancelled
        ):
            pass
    finally:
        for hook in hooks:
            hook.remove()
    peaks = {
        name: TapPeaks(torch.cat([p for p, _ in parts]), torch.cat([w for _, w in parts]), sides[name])
        for name, parts in found.items()
    }
    return ChannelIndex(model, images, peaks)


def contact_sheet(crops: list[np.ndarray], tile: int = 96, columns: int = 3, gap: int = 4) -> np.ndarray:
    """Crops (uint8 (C, h, w), any sizes) scaled to `tile` pixels and laid out in a grid on white:
    uint8 (H, W, 3). Small crops are scaled up pixel by pixel (their pixels are the data)."""
    from PIL import Image

    rows = max(1, math.ceil(len(crops) / columns))
    sheet = np.full((rows * tile + (rows - 1) * gap, columns * tile + (columns - 1) * gap, 3), 255, np.uint8)
    for i, crop in enumerate(crops):
        picture = Image.fromarray(np.ascontiguousarray(crop.transpose(1, 2, 0)).squeeze())
        small = max(crop.shape[1:]) < tile / 2
        picture = picture.convert("RGB").resize(
            (tile, tile), Image.Resampling.NEAREST if small else Image.Resampling.BILINEAR
        )
        r, c = divmod(i, columns)
        sheet[r * (tile + gap) : r * (tile + gap) + tile, c * (tile + gap) : c * (tile + gap) + tile] = (
            np.asarray(picture)
        )
    return sheet


def png_bytes(rgb: np.ndarray, scale_to: int | None = None) -> bytes:
    """A uint8 (H, W, 3) or (C, H, W) picture as PNG, optionally scaled up to `scale_to` pixels."""
    import io

    from PIL import Image

    if rgb.ndim == 3 and rgb.shape[0] in (1, 3) and rgb.shape[-1] not in (1, 3):
        rgb = rgb.transpose(1, 2, 0)
    picture = Image.fromarray(np.ascontiguousarray(rgb).squeeze()).convert("RGB")
    if scale_to is not None and max(picture.size) < scale_to:
        picture = picture.resize((scale_to, scale_to), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()
