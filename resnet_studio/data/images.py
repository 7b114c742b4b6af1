"""Safe image decoding: checked before decoding, every mode to RGB, resized as the training data was.

Used both to build `folder:` data sets and to classify files, so that an image is prepared the
same way in both places (shorter side resized to the input size, then a centre crop).
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_studio.data.preprocessing import Preprocessing, resize_and_crop

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_PIXELS = 120_000_000  # a 50-megapixel photo decodes; a decompression bomb does not
# Decoded memory, after JPEG's reduced-size decoding: a 60-megapixel RGB image at most (a PNG of
# 10,900 x 10,900 RGBA is 475 MB decoded and several GB with its conversions: refused).
# Counted after conversion to RGB (every image is converted), so that a 1-bit or grey image is
# weighed by what it becomes, not by its compact mode.
MAX_DECODED_BYTES = 180 * 2**20
RGB_BYTES = 3
# Longer side to shorter side: a 1 x 70,000,000 strip passes the pixel and byte limits, but no
# picture worth classifying is 100 times longer than it is wide (a long panorama is about 10:1).
MAX_ASPECT_RATIO = 100
_MODE_NAMES = {"1": "1-bit", "L": "grey", "P": "palette"}
_BYTES_PER_SAMPLE = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
# The only formats Pillow may try, whatever a file is named: by default `Image.open` tries every
# format it knows, and some plugins do more than decode (EPS runs Ghostscript on the file).
# PPM covers PGM and PBM; JPEG covers the multi-picture JPEGs (MPO) cameras write.
DECODED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM")
_FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM/PBM"
# Magic numbers of formats people do name .jpg or .png, for a message that says what the file is.
_KNOWN_OTHERS = (
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "PostScript/EPS"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "Windows icon (ICO)"),
)


class ImageError(Exception):
    """An image that cannot be used; the message says why (the caller adds the path)."""


def image_file_filter() -> str:
    """The open dialogs' filter: every suffix the decoder takes, then all files."""
    return f"Images ({' '.join(f'*{suffix}' for suffix in sorted(IMAGE_SUFFIXES))});;All files (*)"


def is_image_name(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


Size = int | Preprocessing  # a side in pixels (the studio's preparation), or a checkpoint's own


def load_image(path: str | os.PathLike[str], size: Size, channels: int = 3) -> np.ndarray:
    """Decode `path` into uint8 (channels, size, size); raises `ImageError` with a reason."""
    return _decode(path, size, channels, 0)[0]


def load_image_or_none(path: str | os.PathLike[str], size: Size, channels: int = 3) -> np.ndarray | None:
    """`load_image`, or None (logged) for a file that cannot be used: what a data set's loader
    wants, run in worker processes (so it lives here, where torch is not imported)."""
    try:
        return load_image(path, size, channels)
    except ImageError as exc:
        log.debug("%s: %s", path, exc)
        return None


def load_image_with_preview(
    path: str | os.PathLike[str], size: Size, channels: int = 3, preview: int = 192
) -> tuple[np.ndarray, np.ndarray]:
    """The network's input as `load_image` gives it, and an RGB (h, w, 3) picture of the whole
    image at most `preview` pixels on its longer side, from one decode."""
    image, picture = _decode(path, size, channels, preview)
    assert picture is not None
    return image, picture


def _decode(
    path: str | os.PathLike[str], size: Size, channels: int, preview: int
) -> tuple[np.ndarray, np.ndarray | None]:
    path = Path(path)
    try:
        nbytes = path.stat().st_size
    except OSError as exc:
        raise ImageError(exc.strerror or str(exc)) from None
    if not path.is_file():
        raise ImageError("not a file")
    if nbytes == 0:
        raise ImageError("empty file")
    if nbytes > MAX_FILE_BYTES:
        raise ImageError(f"file too large ({nbytes / 2**20:.0f} MB, limit {MAX_FILE_BYTES // 2**20} MB)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            with open_image(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"image too large ({width}x{height}, limit {MAX_PIXELS / 1e6:.0f} megapixels)"
                    )
                if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                    raise ImageError(
                        f"image too long and narrow ({width}x{height}; the longer side may be at most "
                        f"{MAX_ASPECT_RATIO} times the shorter)"
                    )
                # JPEG can decode at 1/2, 1/4 or 1/8 scale: a large photo then costs little. The
                # scale follows the network's preparation alone, never the preview's size: the
                # window (with a preview) and `classify` (without) then see the same pixels.
                full_size = image.size
                side = _preparation(size).draft_side
                image.draft("RGB", (side, side))
                width, height = image.size  # after draft: what decoding will really allocate
                native = len(image.getbands()) * _BYTES_PER_SAMPLE.get(image.mode, 1)
                decoded = width * height * max(native, RGB_BYTES)
                if decoded > MAX_DECODED_BYTES:
                    mode = _MODE_NAMES.get(image.mode, image.mode)
                    as_rgb = " as RGB" if native < RGB_BYTES else ""
                    raise ImageError(
                        f"image too large to decode ({width}x{height} {mode}, {decoded / 2**20:.0f} MB "
                        f"decoded{as_rgb}, limit {MAX_DECODED_BYTES // 2**20} MB)"
                    )
                image.load()
                picture = _preview(path, image, full_size, preview) if preview else None
                return prepare(image, size, channels), picture
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(_unsupported(path)) from None
    except Image.DecompressionBombError:
        raise ImageError(f"image too large (limit {MAX_PIXELS / 1e6:.0f} megapixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or unsupported image ({exc})") from None
    except (MemoryError, OverflowError):
        # The checks above should make this unreachable; if not, one image fails, not the batch.
        raise ImageError("image too large to prepare (out of memory)") from None


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """`Image.open` limited to `DECODED_FORMATS`: the one way this package opens an image file."""
    return Image.open(path, formats=_decoded_formats())


@functools.cache
def _decoded_formats() -> tuple[str, ...]:
    """Those of `DECODED_FORMATS` this Pillow has. Importing a plugin registers its format, and
    `Image.open` needs each format it is given registered; only ours are imported (`Image.init()`
    would import all of them, 75 ms more in every decoding process)."""
    from PIL import (  # noqa: F401
        BmpImagePlugin,
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        PpmImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )

    return tuple(name for name in DECODED_FORMATS if name in Image.OPEN)


def _unsupported(path: Path) -> str:
    """Why no decoder took the file, naming its format where its first bytes tell."""
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError:
        head = b""
    kind = next((name for magic, name in _KNOWN_OTHERS if head.startswith(magic)), None)
    if kind is None:
        return f"not an image file in a supported format ({_FORMAT_NAMES})"
    return f"{kind} is not a supported image format (supported: {_FORMAT_NAMES})"


def _preparation(size: Size) -> Preprocessing:
    return size if isinstance(size, Preprocessing) else Preprocessing.studio(size)


def _preview(path: Path, image: Image.Image, full_size: tuple[int, int], preview: int) -> np.ndarray:
    """The picture shown beside the answer, at most `preview` pixels on its longer side. When the
    network's decode was reduced below that, the file is decoded again at the preview's scale."""
    if image.size != full_size and max(image.size) < preview:
        with open_image(path) as again:
            again.draft("RGB", (preview, preview))
            again.load()
            return _preview(path, again, again.size, preview)
    small = _to_rgb(ImageOps.exif_transpose(image))
    small.thumbnail((preview, preview), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.uint8)


def prepare(image: Image.Image, size: Size, channels: int = 3) -> np.ndarray:
    """A decoded image of any mode and size -> uint8 (channels, crop, crop), as `size` says."""
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image) if channels == 3 else _to_gray(image)
    if isinstance(size, Preprocessing) and size.convention == "torchvision":
        return _channels_first(np.asarray(resize_and_crop(image, size), dtype=np.uint8))
    preparation = _preparation(size)
    side, crop = preparation.resize, preparation.crop  # equal below 64 px (`preprocessing`)
    width, height = image.size
    scale = side / min(width, height)
    if scale != 1:
        # At most MAX_ASPECT_RATIO x side pixels on the longer side: the decoder refused longer
        # strips, so this buffer stays small (a 1 x 70,000,000 strip would have asked for 32 x
        # 2.2 billion pixels).
        target = (max(side, round(width * scale)), max(side, round(height * scale)))
        # reduce() first keeps big downscales fast; resize() then filters properly. Both follow
        # the resized side alone, so a training square and a validation crop of one file come
        # from the same resized pixels.
        factor = int(min(width, height) // (side * 2))
        if factor >= 2:
            image = image.reduce(factor)
        image = image.resize(target, Image.Resampling.BILINEAR)
    width, height = image.size
    left, top = (width - crop) // 2, (height - crop) // 2
    image = image.crop((left, top, left + crop, top + crop))
    return _channels_first(np.asarray(image, dtype=np.uint8))


def _channels_first(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _high_depth_to_l(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        # Composite on white, as an image viewer shows it.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_gray(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _high_depth_to_l(image)
    return _to_rgb(image).convert("L")


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit or float grey -> 8-bit, stretched to its own range (PIL would clip it)."""
    array = np.asarray(image, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
    return Image.fromarray(scaled.astype(np.uint8), mode="L")
