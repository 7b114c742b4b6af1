"""Which augmentation a run trains with, how its images are prepared for it, and what its
checkpoints record of both.

- "crop-flip": pad, random crop at the input size, flip (He et al.'s CIFAR augmentation). Images
  are prepared at the input size, for training and evaluation alike. Networks below 64 px.
- "resized-crop-flip": ImageNet's random resized crop and flip, from training images stored at
  R x R (the shorter side resized to R, centre square), R = `margin_side(input size)` or the
  resize of the preprocessing the run starts from. Evaluation resizes to R and takes the centre
  crop; checkpoints record that as their `preprocessing`, so that Classify, Inspect, `evaluate`
  and `classify` prepare a file as the run's validation did. Networks of 64 px and more.
- "auto" (the default) picks one of them by the input size when the run starts; config.json
  records the one picked. A run from before this choice existed (its config lacks the field)
  resumes with "crop-flip", which it trained with.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from resnet_studio.architecture.spec import ArchitectureSpec
from resnet_studio.data.augmentation import RATIO, SCALE, random_resized_crop_flip
from resnet_studio.data.images import Size
from resnet_studio.data.preprocessing import (
    CROP_FLIP,
    RESIZED_CROP_FLIP,
    Preprocessing,
    PreprocessingError,
    chosen_augmentation,
    studio_preparation,
)
from resnet_studio.data.sources import DataSplits
from resnet_studio.data.transforms import random_crop_flip
from resnet_studio.nn.checkpoint import load_checkpoint
from resnet_studio.training.config import TrainConfig


def resolved_config(
    cfg: TrainConfig, spec: ArchitectureSpec, resume_state: dict[str, Any] | None
) -> TrainConfig:
    """`cfg` with "auto" replaced by the augmentation this run uses (what config.json records)."""
    if cfg.augmentation != "auto":
        return cfg
    saved = resume_state.get("config") if resume_state is not None else None
    if isinstance(saved, dict) and "augmentation" not in saved:
        return replace(cfg, augmentation=CROP_FLIP)  # trained before the choice: pad-crop-flip
    return replace(cfg, augmentation=chosen_augmentation(spec.input.size))


def kind_of(cfg: TrainConfig, input_size: int) -> str:
    """The augmentation `cfg` asks for at `input_size` ("auto" as a run resolves it)."""
    return chosen_augmentation(input_size) if cfg.augmentation == "auto" else cfg.augmentation


def train_margin(cfg: TrainConfig) -> bool:
    """Whether the training images are stored larger than the input, for random resized crops."""
    return cfg.augment and cfg.augmentation == RESIZED_CROP_FLIP


def run_preparation(
    cfg: TrainConfig, spec: ArchitectureSpec, resume_state: dict[str, Any] | None = None
) -> Size:
    """How the run's folder images are prepared (`load_data`'s `image_size`): the input size with
    "crop-flip" (as always), else resize-with-margin and centre crop: the resize of the
    preprocessing of the weights it starts from (`--init`, e.g. 256 or 232 for torchvision's
    ImageNet networks at 224) where they are at this input size, else `margin_side`. A resumed
    run keeps what its checkpoint recorded (its `--init` file may be gone by then)."""
    size = spec.input.size
    if cfg.augmentation != RESIZED_CROP_FLIP:
        return size
    own = studio_preparation(size)
    if not isinstance(own, Preprocessing):
        return own
    if resume_state is not None:
        saved = resume_state.get("preprocessing")
    elif cfg.init is not None:
        saved = load_checkpoint(cfg.init).get("preprocessing")
    else:
        return own
    if saved is None:
        return own
    try:  # checked when it was loaded, against its own architecture's channels
        initial = Preprocessing.from_dict(saved, spec.input.channels)
    except PreprocessingError:
        return own  # weights of another channel count: loading them refuses the run with a reason
    return initial if initial.crop == size else own


def augment_batch(images: Tensor, generator: torch.Generator, cfg: TrainConfig, size: int) -> Tensor:
    """One training batch augmented as `cfg` says (uint8 in, uint8 out, on the batch's device);
    the random numbers come from the epoch's `generator`, so a resumed run draws the same."""
    if not cfg.augment:
        return images
    if kind_of(cfg, size) == RESIZED_CROP_FLIP:
        return random_resized_crop_flip(images, size, generator)
    return random_crop_flip(images, generator, pad=cfg.crop_padding, fill=cfg.crop_fill)


def checkpoint_record(cfg: TrainConfig, data: DataSplits) -> dict[str, Any]:
    """What a checkpoint says of the run's augmentation and evaluation transform (FORMATS.md):
    `augmentation` always; `preprocessing` where the images were prepared by a `Preprocessing`
    (resize with a margin, centre crop), with the data's normalisation, as Classify must use it."""
    kind = cfg.augmentation if cfg.augment else "none"
    record: dict[str, Any] = {"augmentation": {"kind": kind, "flip": cfg.augment}}
    if kind == RESIZED_CROP_FLIP:
        side = int(data.train.images.shape[-1])
        record["augmentation"].update(scale=list(SCALE), ratio=list(RATIO), train_side=side)
    elif kind == CROP_FLIP:
        record["augmentation"].update(padding=cfg.crop_padding, fill=cfg.crop_fill)
    if data.preparation is not None:
        prepared = replace(data.preparation, mean=tuple(data.mean), std=tuple(data.std))
        record["preprocessing"] = prepared.to_dict()
    return record
