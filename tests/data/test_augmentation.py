"""Random resized crops at real resolution: torchvision's crop of a box, drawn from the loop's
generator, and the evaluation view of training images stored with a margin."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from resnet_studio.data.augmentation import (
    eval_view,
    random_resized_crop_flip,
    resized_crop_boxes,
    resized_crops,
)
from resnet_studio.data.folder_overview import folder_overview
from resnet_studio.data.images import load_image
from resnet_studio.data.preprocessing import Preprocessing, margin_side, studio_preparation
from resnet_studio.data.sources import load_data, preview_samples
from resnet_studio.data.transforms import random_crop_flip
from resnet_studio.training.augmentation import augment_batch
from resnet_studio.training.config import TrainConfig


def smooth_batch(n: int = 2, side: int = 74, seed: int = 0) -> torch.Tensor:
    """uint8 images with detail at every scale but no single-pixel noise."""
    coarse = torch.rand(n, 3, side // 3, side // 3, generator=torch.Generator().manual_seed(seed)) * 255
    return F.interpolate(coarse, size=(side, side), mode="bilinear").round().to(torch.uint8)


@pytest.mark.parametrize("box", [(3, 5, 50, 40), (10, 2, 64, 70), (0, 0, 74, 74), (20, 20, 30, 30)])
def test_the_crop_of_a_known_box_is_torchvisions_resized_crop_of_it(box):
    images = smooth_batch()
    boxes = torch.tensor([box, box], dtype=torch.float64)
    ours = resized_crops(images, boxes, 64, flips=torch.tensor([False, True])).int()
    reference = TF.resized_crop(images, *box, size=[64, 64], antialias=False).int()
    reference[1] = reference[1].flip(-1)
    # The same bilinear sampling points; only the outer pixels of an enlarged box differ (they
    # read the image around the box instead of repeating its edge), and uint8 rounding.
    assert (ours - reference)[..., 1:-1, 1:-1].abs().max() <= 1
    assert (ours - reference).abs().float().mean() < 1.0


def test_boxes_keep_torchvisions_area_and_aspect_ranges_inside_the_image():
    boxes = resized_crop_boxes(4000, 74, 74, torch.Generator().manual_seed(1))
    top, left, h, w = boxes.unbind(1)
    assert top.min() >= 0 and left.min() >= 0 and (top + h).max() <= 74 and (left + w).max() <= 74
    area = h * w / 74**2
    assert 0.07 < area.min() < 0.1 and area.max() == 1.0  # 8% to 100%, whole pixels
    ratio = w / h
    assert ratio.min() > 0.7 and ratio.max() < 1.4
    assert boxes.unique(dim=0).shape[0] > 3000  # drawn, not a handful of fixed boxes


def test_the_same_generator_state_gives_the_same_batch():
    images = smooth_batch(8)
    a = random_resized_crop_flip(images, 64, torch.Generator().manual_seed(5))
    b = random_resized_crop_flip(images, 64, torch.Generator().manual_seed(5))
    c = random_resized_crop_flip(images, 64, torch.Generator().manual_seed(6))
    assert a.dtype == torch.uint8 and a.shape == (8, 3, 64, 64)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Resumed mid-epoch: a generator restored from the saved state draws the next batch again.
    running = torch.Generator().manual_seed(9)
    random_resized_crop_flip(images, 64, running)
    saved = running.get_state()
    after = random_resized_crop_flip(images, 64, running)
    restored = torch.Generator()
    restored.set_state(saved)
    assert torch.equal(random_resized_crop_flip(images, 64, restored), after)


def test_32_px_batches_are_pad_crop_flip_as_before():
    images = smooth_batch(16, side=32)
    for cfg in (TrainConfig(), TrainConfig(crop_fill="reflect", crop_padding=2)):
        ours, theirs = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        got = augment_batch(images, ours, cfg, 32)
        expected = random_crop_flip(images, theirs, pad=cfg.crop_padding, fill=cfg.crop_fill)
        assert torch.equal(got, expected)
        assert torch.equal(ours.get_state(), theirs.get_state())  # the same numbers drawn
    assert studio_preparation(32) == 32  # decoded as always: no margin, no other resize
    unchanged = torch.Generator().manual_seed(3)
    assert augment_batch(images, unchanged, TrainConfig(augment=False), 32) is images


def test_margin_side_keeps_imagenets_proportion_and_an_even_margin():
    assert [margin_side(s) for s in (64, 96, 128, 224)] == [74, 110, 146, 256]
    assert all((margin_side(s) - s) % 2 == 0 for s in range(64, 600))


def write_photo(path, width, height, seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    picture = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    picture.save(path, quality=90) if path.suffix == ".jpg" else picture.save(path)
    return path


@pytest.mark.parametrize(
    "preparation",
    [
        studio_preparation(64),
        Preprocessing(256, 224, convention="torchvision"),
        Preprocessing(232, 224, convention="torchvision"),
    ],
)
def test_the_eval_view_of_a_training_image_is_the_validation_decode_of_its_file(tmp_path, preparation):
    assert isinstance(preparation, Preprocessing)
    for i, (w, h, suffix) in enumerate([(97, 71, ".png"), (640, 480, ".jpg"), (300, 451, ".jpg")]):
        path = write_photo(tmp_path / f"p{i}{suffix}", w, h, i)
        stored = load_image(path, preparation.with_margin())
        assert stored.shape == (3, preparation.resize, preparation.resize)
        validation = load_image(path, preparation)
        view = eval_view(torch.from_numpy(stored)[None], preparation.crop)[0]
        assert torch.equal(view, torch.from_numpy(validation)), (preparation, w, h)


def test_a_folder_stored_with_a_margin_has_the_same_evaluation_view_and_statistics(tmp_path):
    root = tmp_path / "photos"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            write_photo(root / label / f"{i}.jpg", 90 + 7 * i, 70, i + (label == "b") * 10)
    preparation = studio_preparation(64)
    margin = load_data(f"folder:{root}", image_size=preparation, train_margin=True)
    plain = load_data(f"folder:{root}", image_size=preparation)
    assert margin.train.images.shape[-2:] == (74, 74) and margin.crop == 64
    assert margin.val.images.shape[-2:] == (64, 64) and plain.crop is None
    assert torch.equal(margin.train_eval_view(), plain.train.images)
    assert torch.equal(margin.val.images, plain.val.images)
    assert (margin.mean, margin.std) == (plain.mean, plain.std)
    # validation held out of the training images is validated at its evaluation view too
    held = load_data(f"folder:{root}", image_size=preparation, train_margin=True, val_fraction=0.2)
    assert held.val.images.shape[-2:] == (64, 64) and held.train.images.shape[-2:] == (74, 74)
    # the Setup panel's preview (which may be pinned) is what evaluation sees
    images, _ = preview_samples(f"folder:{root}", 4, image_size=64)
    assert images.shape[-2:] == (64, 64)
    assert any(np.array_equal(image, view) for image in images for view in plain.train.images.numpy())
    # and so is the folder grid's
    samples = [sample for entry in folder_overview(root, 64, per_class=1).classes for sample in entry.samples]
    assert len(samples) == 2
    for sample in samples:
        assert np.array_equal(sample.image, load_image(sample.path, preparation))
        assert not np.array_equal(sample.image, load_image(sample.path, 64))  # no longer the whole square
