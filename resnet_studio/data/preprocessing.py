"""How an image becomes a network's input: one `Preprocessing` per checkpoint, used by every path
(Classify, Inspect, `classify`, `evaluate` on a folder), so that the same file gets the same answer.

Two conventions:
- "studio" (networks trained here): the shorter side to `resize` pixels, rounded, with Pillow's
  `reduce()` first for large downscales, then a centre crop of `crop` at the floor of the margin.
  Below 64 px `resize` equals `crop` (how 32-px training images were always decoded, unchanged);
  from 64 px on a network trained here evaluates on the centre of a larger resize, as ImageNet
  networks do (`margin_side`), and trains on random resized crops of the `resize` square.
- "torchvision" (checkpoints that carry `preprocessing`, e.g. imported ImageNet weights): what
  `weights.transforms()` does to a PIL image: the shorter side to `resize` (the longer side
  truncated, as torchvision computes it) with an antialiased filter, then a centre crop of `crop`
  whose offset is rounded as torchvision rounds it, then normalisation by `mean` and `std`.

Torch-free: it runs in the data set's decode workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from PIL import Image

Interpolation = Literal["bilinear", "bicubic", "nearest"]
Convention = Literal["studio", "torchvision"]
INTERPOLATIONS: dict[str, Image.Resampling] = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}
MAX_SIDE = 4096  # a resize or crop beyond this is a typing error, not a network
# From this input size on, a network trained here trains on random resized crops of images stored
# with a margin, and evaluates on their centre; below it, pad-crop-flip at the input size.
MARGIN_MIN_SIZE = 64
CROP_FLIP, RESIZED_CROP_FLIP = "crop-flip", "resized-crop-flip"


def chosen_augmentation(input_size: int) -> str:
    """What `--augmentation auto` trains a network of this input size with (the rule above)."""
    return RESIZED_CROP_FLIP if input_size >= MARGIN_MIN_SIZE else CROP_FLIP


def margin_side(size: int) -> int:
    """The side a network trained here at `size` px resizes to before its centre crop: ImageNet's
    256 for 224, in proportion (`round(size * 256 / 224)`), made even above `size` so that the
    centre crop of the stored training square is, pixel for pixel, the validation image (64 ->
    74, 96 -> 110, 128 -> 146, 224 -> 256)."""
    margin = size * 256 / 224 - size
    return size + 2 * round(margin / 2)


def studio_preparation(size: int) -> int | Preprocessing:
    """How a network trained here at `size` px prepares images: below `MARGIN_MIN_SIZE` the size
    itself (shorter side to it, centre crop: as always); from it on, the shorter side to
    `margin_side(size)` and the centre `size` x `size`. Normalisation is the data's, set apart."""
    if size < MARGIN_MIN_SIZE:
        return size
    return Preprocessing(margin_side(size), size, "bilinear", convention="studio")


class PreprocessingError(ValueError):
    """A `preprocessing` object that cannot be used; the message starts with the field's name."""


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to `resize`, centre-crop `crop`, normalise by `mean` and `std`.

    The default is the studio's own 32-px preparation."""

    resize: int = 32
    crop: int = 32
    interpolation: Interpolation = "bilinear"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    convention: Convention = "studio"

    @classmethod
    def studio(cls, size: int, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)) -> Preprocessing:
        """The preparation of a network trained here at `size` pixels."""
        return cls(size, size, "bilinear", tuple(map(float, mean)), tuple(map(float, std)), "studio")

    @classmethod
    def from_dict(cls, data: Any, channels: int = 3) -> Preprocessing:
        """A checkpoint's `preprocessing` object; `PreprocessingError` names the field at fault.
        Without a `convention` it is torchvision's (the object comes from `weights.transforms()`)."""
        if not isinstance(data, dict):
            raise PreprocessingError(
                "preprocessing: must be an object with resize, crop, interpolation, mean, std"
            )
        unknown = sorted(set(data) - {"resize", "crop", "interpolation", "mean", "std", "convention"})
        if unknown:
            raise PreprocessingError(f"preprocessing.{unknown[0]}: unknown field")
        sides = {}
        for key in ("resize", "crop", "mean", "std"):
            if key not in data:
                raise PreprocessingError(f"preprocessing.{key}: is required")
        for key in ("resize", "crop"):
            value = data[key]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
                raise PreprocessingError(
                    f"preprocessing.{key}: must be a whole number of pixels, 1 to {MAX_SIDE}"
                )
            sides[key] = value
        if sides["crop"] > sides["resize"]:
            raise PreprocessingError(
                f"preprocessing.crop: {sides['crop']} is larger than the resized side ({sides['resize']})"
            )
        interpolation = data.get("interpolation", "bilinear")
        if interpolation not in INTERPOLATIONS:
            raise PreprocessingError(
                f"preprocessing.interpolation: must be one of {', '.join(INTERPOLATIONS)}, "
                f"not {interpolation!r}"
            )
        convention = data.get("convention", "torchvision")
        if convention not in ("studio", "torchvision"):
            raise PreprocessingError(
                f"preprocessing.convention: must be studio or torchvision, not {convention!r}"
            )
        numbers = {}
        for key in ("mean", "std"):
            values = data.get(key)
            if (
                not isinstance(values, (list, tuple))
                or len(values) != channels
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
                or not all(math.isfinite(v) for v in values)
            ):
                raise PreprocessingError(f"preprocessing.{key}: must be {channels} finite numbers")
            numbers[key] = tuple(float(v) for v in values)
        if not all(v > 0 for v in numbers["std"]):
            raise PreprocessingError("preprocessing.std: must be positive (it divides the pixels)")
        return cls(sides["resize"], sides["crop"], interpolation, numbers["mean"], numbers["std"], convention)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
            "convention": self.convention,
        }

    @property
    def draft_side(self) -> int:
        """The smallest side JPEG's reduced-size decoding may give. The studio's preparation asks
        for its own size (as training images were decoded); torchvision's decodes at full size,
        so twice the resized side keeps the DCT's coarse scaling out of the answer."""
        return self.resize if self.convention == "studio" else 2 * self.resize

    def with_margin(self) -> Preprocessing:
        """The training split's preparation: the same resize, then the centre square of `resize`
        (the margin random resized crops move in); its centre `crop` is the validation image."""
        return replace(self, crop=self.resize)

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the resize step, as torchvision computes it."""
        if width <= height:
            return self.resize, int(self.resize * height / width)
        return int(self.resize * width / height), self.resize

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The (left, top, right, bottom) crop of an image already resized to (width, height)."""
        if self.convention == "studio":
            left, top = (width - self.crop) // 2, (height - self.crop) // 2
        else:  # torchvision's center_crop: int(round(...)), Python's round-half-to-even
            left, top = int(round((width - self.crop) / 2.0)), int(round((height - self.crop) / 2.0))
        return left, top, left + self.crop, top + self.crop

    def visible_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The part of an original (width, height) image the network sees, in its own pixels:
        the crop mapped back through the resize (Grad-CAM outlines it on the photo)."""
        if self.convention == "studio":
            scale = self.resize / min(width, height)
            resized = (max(self.resize, round(width * scale)), max(self.resize, round(height * scale)))
        else:
            resized = self.resized_size(width, height)
        left, top, right, bottom = self.crop_box(*resized)
        sx, sy = width / resized[0], height / resized[1]
        return left * sx, top * sy, right * sx, bottom * sy


def resize_and_crop(image: Image.Image, preprocessing: Preprocessing) -> Image.Image:
    """An RGB or grey PIL image prepared by torchvision's convention (`Resize` then `CenterCrop`
    of a PIL image): Pillow's resize filters with a support that grows with the downscale, which
    is the antialiasing torchvision's `antialias=True` stands for."""
    width, height = image.size
    target = preprocessing.resized_size(width, height)
    if target != (width, height):
        image = image.resize(target, INTERPOLATIONS[preprocessing.interpolation])
    return image.crop(preprocessing.crop_box(*target))
