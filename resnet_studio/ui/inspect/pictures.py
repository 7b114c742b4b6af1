"""Inspect's pictures as RGB arrays: Grad-CAM over the photo (at its own aspect ratio, with the crop
the network saw outlined) or over the network's input, and the first layer's filters as patches."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PIL import Image, ImageDraw

VIEW = 256  # on-screen box of the photo and its Grad-CAM
_HEAT = pg.colormap.get("turbo").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.float32)


def _blend(base: np.ndarray, heat: np.ndarray, alpha: float) -> np.ndarray:
    """`heat` (uint8 0..255, same h, w) as turbo colours over the RGB float `base`."""
    colour = _HEAT[heat]
    weight = alpha * (heat[..., None] / 255) ** 0.5  # cold regions stay see-through
    return (base * (1 - weight) + colour * weight).clip(0, 255).astype(np.uint8)


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W), C = 1 or 3 -> (H, W, 3)."""
    return image.transpose(1, 2, 0) if image.shape[0] == 3 else np.repeat(image[0][..., None], 3, axis=2)


def overlay(image: np.ndarray, heatmap: np.ndarray, side: int = VIEW, alpha: float = 0.45) -> np.ndarray:
    """The network's input enlarged to `side` pixels with the Grad-CAM heat map blended over it."""
    base = np.asarray(
        Image.fromarray(_rgb(image)).resize((side, side), Image.Resampling.BILINEAR), np.float32
    )
    heat = np.asarray(Image.fromarray((heatmap * 255).astype(np.uint8)).resize((side, side)), np.uint8)
    return _blend(base, heat, alpha)


def photo_overlay(
    photo: np.ndarray,
    heatmap: np.ndarray,
    box: tuple[float, float, float, float],
    side: int = VIEW,
    alpha: float = 0.45,
) -> np.ndarray:
    """The whole photo (h, w, 3), fitted into `side` x `side` at its own aspect ratio, with the heat
    map laid over `box` (left, top, right, bottom in the photo's pixels: the part the network saw)
    and that box outlined; outside it the photo is dimmed, since the network never saw it."""
    height, width = photo.shape[:2]
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    base = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR), np.float32)
    left, top, right, bottom = (round(v * scale) for v in box)
    left, top = max(0, left), max(0, top)
    right, bottom = min(size[0], max(left + 1, right)), min(size[1], max(top + 1, bottom))
    picture = (base * 0.55).astype(np.uint8)
    inside = base[top:bottom, left:right]
    heat = np.asarray(
        Image.fromarray((heatmap * 255).astype(np.uint8)).resize(
            (right - left, bottom - top), Image.Resampling.BILINEAR
        ),
        np.uint8,
    )
    picture[top:bottom, left:right] = _blend(inside, heat, alpha)
    canvas = Image.fromarray(picture)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((left, top, right - 1, bottom - 1), outline=(0, 0, 0), width=3)
    draw.rectangle((left + 1, top + 1, right - 2, bottom - 2), outline=(255, 255, 255), width=1)
    return np.asarray(canvas)


def filter_tiles(filters: np.ndarray, columns: int = 8, side: int = 24) -> np.ndarray:
    """First-layer kernels (out, in, k, k) as one RGB mosaic of colour patches: the 3 input
    channels are the patch's red, green and blue, each filter stretched over its own range (a
    7x7 ImageNet stem then shows its edge and colour detectors); grey for one input channel."""
    out, cin, k, _ = filters.shape
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    tiles = ((filters - low) / np.maximum(high - low, 1e-12) * 255).clip(0, 255).astype(np.uint8)
    tiles = tiles[:, :3] if cin >= 3 else np.repeat(tiles[:, :1], 3, axis=1)
    factor = max(1, side // k)
    tiles = tiles.repeat(factor, axis=2).repeat(factor, axis=3).transpose(0, 2, 3, 1)  # (out, s, s, 3)
    rows = -(-out // columns)
    cell = k * factor
    canvas = np.zeros((rows * (cell + 2), columns * (cell + 2), 3), np.uint8)
    for i in range(out):
        r, c = divmod(i, columns)
        canvas[r * (cell + 2) : r * (cell + 2) + cell, c * (cell + 2) : c * (cell + 2) + cell] = tiles[i]
    return canvas
