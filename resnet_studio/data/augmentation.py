"""ImageNet-style augmentation at real resolution, batched: random resized crops and flips of
training images stored with a margin (R x R, `Preprocessing.with_margin`), and their evaluation
view (the centre C x C, which is the validation decode of the same file).

One call per batch, on whatever device holds it: the crop boxes are drawn on the CPU from the
loop's generator (so a resumed run draws what it would have drawn), then one `roi_align`
resamples every box bilinearly to C x C, and half of them are mirrored.
"""

from __future__ import annotations

import math
from typing import overload

import torch
from torch import Tensor

from resnet_studio.data.stored import StoredImages

# torchvision's RandomResizedCrop: a box of 8% to 100% of the image's area, of aspect ratio 3:4 to
# 4:3 (drawn uniformly in log space), ten tries for a box that fits before a centre crop instead.
SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)
TRIES = 10


@overload
def eval_view(images: Tensor, crop: int | None) -> Tensor: ...
@overload
def eval_view(images: StoredImages, crop: int | None) -> StoredImages: ...
def eval_view(images: Tensor | StoredImages, crop: int | None) -> Tensor | StoredImages:
    """The centre `crop` x `crop` of (N, C, R, R) training images: what evaluation sees of them
    (resize to R, centre crop C), equal to the validation decode of the same file. Images no
    larger than `crop`, or `crop` None (no margin), are returned as they are. A view, no copy
    (images in the on-disk cache: a view whose reads are cropped)."""
    side = images.shape[-1]
    if crop is None or side <= crop:
        return images
    if isinstance(images, StoredImages):
        return images.cropped(crop)
    top, left = (images.shape[-2] - crop) // 2, (side - crop) // 2
    return images[..., top : top + crop, left : left + crop]


def resized_crop_boxes(
    n: int,
    height: int,
    width: int,
    generator: torch.Generator,
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
) -> Tensor:
    """(n, 4) float64 boxes (top, left, height, width) in whole pixels, drawn as torchvision's
    `RandomResizedCrop.get_params` draws them, for n images at once: ten candidates each, the
    first that fits kept, else the centre crop with the ratio clamped. Every draw is made for
    every image whether used or not, so a batch always takes the same count of random numbers."""
    area = height * width
    areas = area * torch.empty(n, TRIES, dtype=torch.float64).uniform_(*scale, generator=generator)
    log_ratio = torch.empty(n, TRIES, dtype=torch.float64).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=generator
    )
    aspect = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(areas * aspect))
    h = torch.round(torch.sqrt(areas / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(fits.to(torch.int8), dim=1)  # the first candidate that fits (0 if none)
    rows = torch.arange(n)
    h, w, found = h[rows, first], w[rows, first], fits.any(dim=1)
    # Fallback (rare at these ranges): the whole image, its ratio clamped into `ratio`.
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fallback = (float(round(width / ratio[0])), float(width))
    elif in_ratio > ratio[1]:
        fallback = (float(height), float(round(height * ratio[1])))
    else:
        fallback = (float(height), float(width))
    h = torch.where(found, h, torch.tensor(fallback[0], dtype=torch.float64))
    w = torch.where(found, w, torch.tensor(fallback[1], dtype=torch.float64))
    # The offset: uniform over the places the box fits (torchvision's randint(0, H - h + 1)).
    where = torch.rand(n, 2, dtype=torch.float64, generator=generator)
    top = torch.where(found, torch.floor(where[:, 0] * (height - h + 1)), torch.floor((height - h) / 2))
    left = torch.where(found, torch.floor(where[:, 1] * (width - w + 1)), torch.floor((width - w) / 2))
    return torch.stack([top, left, h, w], dim=1)


def resized_crops(images: Tensor, boxes: Tensor, size: int, flips: Tensor | None = None) -> Tensor:
    """Each box (top, left, height, width) of its uint8 image resampled bilinearly to `size` x
    `size` (mirrored where `flips` says), as uint8: one `roi_align` for the whole batch (on a
    loaded 2-core CPU as fast as `affine_grid` + `grid_sample`, within the noise, and plainer).

    The sampling points are those of `F.interpolate(crop, size, mode="bilinear",
    align_corners=False)` on the cropped box (one point per output pixel, at its centre); where a
    point falls outside the box (enlarging, at the edges) it reads the image's own neighbouring
    pixels instead of repeating the box's edge."""
    from torchvision.ops import roi_align  # imports torchvision's compiled ops: only when training

    n = images.shape[0]
    top, left, h, w = boxes.to(torch.float64).unbind(1)
    rois = torch.stack([torch.arange(n, dtype=torch.float64), left, top, left + w, top + h], dim=1)
    rois = _to(rois.to(torch.float32), images.device)
    # aligned=True: pixel centres at +0.5, as interpolate's align_corners=False; sampling_ratio=1:
    # one bilinear sample per output pixel, at its centre (no averaging: a plain bilinear resize).
    out = roi_align(images.float(), rois, (size, size), spatial_scale=1.0, sampling_ratio=1, aligned=True)
    out = out.round_().clamp_(0, 255).to(torch.uint8)
    if flips is not None:  # only the mirrored half is copied, in uint8
        mirrored = _to(torch.nonzero(flips.cpu()).flatten(), images.device)
        out[mirrored] = out[mirrored].flip(3)
    return out


def random_resized_crop_flip(
    images: Tensor,
    size: int,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
    flip: bool = True,
) -> Tensor:
    """uint8 (N, C, R, R) -> uint8 (N, C, size, size): a random resized crop of each image (area
    and aspect ratio as torchvision's `RandomResizedCrop`, bilinear) mirrored half the time. The
    random numbers come from `generator` (on the CPU), so a resumed run draws the same crops."""
    n, _, height, width = images.shape
    boxes = resized_crop_boxes(n, height, width, generator, scale, ratio)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else None
    return resized_crops(images, boxes, size, flips)


def _to(t: Tensor, device: torch.device) -> Tensor:
    """A small CPU tensor to `device`, asynchronously through pinned memory on CUDA (a copy from
    pageable memory would wait for the step's queued work)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
