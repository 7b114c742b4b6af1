"""A folder of photo-like JPEGs in class folders, generated: what the photo benchmarks time.

Real photos may not ship with the project, and timing needs files that cost what photos cost to
decode: full 640x480 JPEGs with smooth light, edges and sensor-like noise, not flat colour (which
compresses to almost nothing and decodes faster than any photo). Each class has its own hue and
shape, so that a network can learn them, with enough variation that it is not trivial.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("ellipse", "rectangle", "triangle", "ring", "bars")


def photo_like(label: int, classes: int, seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """One RGB image of class `label` (of `classes`), a pure function of its arguments."""
    rng = np.random.default_rng([seed, label])
    # light: a low-resolution random field blown up smoothly, as a sky, a wall or a blurred scene
    field = rng.uniform(40, 215, (6, 8, 3)).astype(np.uint8)
    image = Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    hue = np.array(
        [
            np.cos(2 * np.pi * label / classes),
            np.cos(2 * np.pi * (label / classes + 1 / 3)),
            np.cos(2 * np.pi * (label / classes + 2 / 3)),
        ]
    )
    shape = SHAPES[label % len(SHAPES)]
    for _ in range(int(rng.integers(1, 4))):
        colour = tuple(int(v) for v in np.clip(128 + 110 * hue + rng.normal(0, 25, 3), 0, 255))
        w, h = rng.uniform(0.2, 0.55) * width, rng.uniform(0.2, 0.55) * height
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = (x, y, x + w, y + h)
        if shape == "ellipse":
            draw.ellipse(box, fill=colour)
        elif shape == "rectangle":
            draw.rectangle(box, fill=colour)
        elif shape == "triangle":
            draw.polygon([(x, y + h), (x + w / 2, y), (x + w, y + h)], fill=colour)
        elif shape == "ring":
            draw.ellipse(box, outline=colour, width=int(max(4, w / 8)))
        else:
            for i in range(4):
                draw.rectangle((x + i * w / 4, y, x + i * w / 4 + w / 8, y + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))  # a lens: edges are never one pixel sharp
    pixels = np.asarray(image, dtype=np.int16) + rng.normal(0, 6, (height, width, 3)).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _write(job: tuple[Path, int, int, int, int, int]) -> None:
    path, label, classes, seed, width, height = job
    photo_like(label, classes, seed, width, height).save(path, "JPEG", quality=90)


def make_photo_folder(
    root: Path,
    count: int,
    classes: int = 5,
    *,
    val_fraction: float = 0.1,
    width: int = 640,
    height: int = 480,
    seed: int = 0,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """`count` JPEGs under `root/train/<class>/` and `root/val/<class>/` (a `folder:` source).
    Files already there are kept, so a second call with the same arguments costs a listing."""
    jobs = []
    for i in range(count):
        label = i % classes
        split = "val" if (i // classes) % round(1 / val_fraction) == 0 else "train"
        path = root / split / f"class_{label}" / f"img_{i:06d}.jpg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            jobs.append((path, label, classes, seed * 1_000_003 + i, width, height))
    if len(jobs) < 200:
        for done, job in enumerate(jobs, 1):
            _write(job)
            if progress:
                progress(done, len(jobs))
        return root
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers or os.cpu_count() or 2, mp_context=context) as pool:
        for done, _ in enumerate(pool.map(_write, jobs, chunksize=64), 1):
            if progress:
                progress(done, len(jobs))
    return root
