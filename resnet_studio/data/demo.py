"""The built-in demo data set: 10 classes of 32x32 coloured shapes, generated deterministically.

Each image is one shape with a random colour, size, position and rotation on a noisy background
of another random colour (a gradient plus pixel noise). Shapes are drawn at 2x and averaged down,
so edges are anti-aliased. Position, rotation and colour vary enough that a linear model on the
pixels does poorly, while a small ResNet learns the shapes in a couple of epochs.
"""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = (
    "circle",
    "ring",
    "square",
    "frame",
    "triangle",
    "cross",
    "star",
    "crescent",
    "bar",
    "half-disc",
)
SIZE = 32
_SUPER = 2  # supersampling factor for anti-aliased edges


def _masks(label: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-mask of shape `label` in rotated, scaled coordinates (u, v); the shape spans ~[-1, 1]."""
    rho = np.hypot(u, v)
    name = CLASSES[label]
    if name == "circle":
        return rho < 0.8
    if name == "ring":
        return (rho < 0.9) & (rho > 0.55)
    if name == "square":
        return np.maximum(abs(u), abs(v)) < 0.7
    if name == "frame":
        m = np.maximum(abs(u), abs(v))
        return (m < 0.8) & (m > 0.5)
    if name == "triangle":
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            a = np.pi / 2 + k * 2 * np.pi / 3
            inside &= u * np.cos(a) + v * np.sin(a) < 0.45
        return inside
    if name == "cross":
        return ((abs(u) < 0.25) & (abs(v) < 0.85)) | ((abs(v) < 0.25) & (abs(u) < 0.85))
    if name == "star":
        theta = np.arctan2(v, u)
        return rho < 0.4 + 0.45 * np.maximum(np.cos(2.5 * theta) ** 2, 0) ** 2
    if name == "crescent":
        return (rho < 0.85) & (np.hypot(u - 0.45, v) > 0.7)
    if name == "bar":
        return (abs(u) < 0.9) & (abs(v) < 0.25)
    if name == "half-disc":
        return (rho < 0.85) & (v > 0)
    raise ValueError(label)


def generate(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` images as uint8 (N, 3, 32, 32) and balanced labels (N,), the same for the same seed."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    rng.shuffle(labels)
    images = np.empty((count, 3, SIZE, SIZE), dtype=np.uint8)
    side = SIZE * _SUPER
    grid = (np.arange(side, dtype=np.float32) + 0.5) / _SUPER  # pixel centres in output pixels
    ys, xs = np.meshgrid(grid, grid, indexing="ij")
    for start in range(0, count, 512):
        chunk = labels[start : start + 512]
        n = len(chunk)
        scale = rng.uniform(6.0, 12.0, n).astype(np.float32)  # half-width of the shape, pixels
        cx = rng.uniform(scale, SIZE - scale).astype(np.float32)
        cy = rng.uniform(scale, SIZE - scale).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
        dx = (xs[None] - cx[:, None, None]) / scale[:, None, None]
        dy = (ys[None] - cy[:, None, None]) / scale[:, None, None]
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        mask = np.empty((n, side, side), dtype=np.float32)
        for label in range(len(CLASSES)):
            idx = np.nonzero(chunk == label)[0]
            if len(idx):
                mask[idx] = _masks(label, u[idx], v[idx])
        mask = mask.reshape(n, SIZE, _SUPER, SIZE, _SUPER).mean(axis=(2, 4))[:, None]

        background, foreground = _colours(rng, n)
        # A gentle linear gradient in a random direction, then per-pixel noise.
        g_angle = rng.uniform(0, 2 * np.pi, n)
        ramp = (
            np.cos(g_angle)[:, None, None] * (xs[None, ::_SUPER, ::_SUPER] - SIZE / 2)
            + np.sin(g_angle)[:, None, None] * (ys[None, ::_SUPER, ::_SUPER] - SIZE / 2)
        ) / SIZE
        bg = background[:, :, None, None] + 0.25 * ramp[:, None] * rng.uniform(0.5, 1, (n, 1, 1, 1))
        img = bg * (1 - mask) + foreground[:, :, None, None] * mask
        img += rng.normal(0, rng.uniform(0.03, 0.12, (n, 1, 1, 1)), img.shape)
        images[start : start + n] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def _colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Background and shape colours in [0, 1] that differ clearly in brightness or hue."""
    background = rng.uniform(0, 1, (n, 3))
    foreground = rng.uniform(0, 1, (n, 3))
    for _ in range(20):
        close = np.abs(foreground - background).sum(axis=1) < 0.9
        if not close.any():
            break
        foreground[close] = rng.uniform(0, 1, (int(close.sum()), 3))
    return background.astype(np.float32), foreground.astype(np.float32)
