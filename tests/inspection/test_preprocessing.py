"""One preparation per checkpoint: torchvision's `weights.transforms()` for checkpoints that carry
`preprocessing`, the studio's own 32-px preparation for the rest, the same in every path."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from resnet_studio.architecture import get_preset
from resnet_studio.data.images import load_image, load_image_with_preview
from resnet_studio.data.preprocessing import Preprocessing, PreprocessingError
from resnet_studio.errors import UserError
from resnet_studio.inspection.classify import classify_files, classify_picture
from resnet_studio.nn import build_model
from resnet_studio.nn.checkpoint import model_from_checkpoint, save_checkpoint

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like picture: gradients, shapes and noise (so that every filter has work to do)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=2)
    base += rng.normal(0, 18, base.shape)
    image = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        size = int(rng.integers(10, min(width, height) // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x0 + size, y0 + size), fill=colour)
    return image


def imagenet_checkpoint(path, classes: int = 1000, **preprocessing) -> None:
    """A ResNet-18 at 224 px with seeded random weights and torchvision's ImageNet preparation."""
    torch.manual_seed(0)
    spec = get_preset("resnet18")
    model = build_model(spec)
    with torch.no_grad():  # random BatchNorm statistics: the answer depends on every pixel
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    pre = {
        "resize": 256,
        "crop": 224,
        "interpolation": "bilinear",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }
    save_checkpoint(
        path,
        {
            "architecture": spec.to_dict(),
            "model": model.state_dict(),
            "classes": [f"class {i}" for i in range(classes)],
            "normalization": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            "preprocessing": {**pre, **preprocessing},
        },
    )


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    path = tmp_path_factory.mktemp("imagenet") / "resnet18.pt"
    imagenet_checkpoint(path)
    return model_from_checkpoint(path)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_probabilities_equal_torchvisions_own_transforms(imagenet, tmp_path, suffix):
    from torchvision.models import ResNet18_Weights

    path = tmp_path / f"photo{suffix}"
    photo(333, 251).save(path)  # non-square, odd margins: the crop's rounding matters
    transforms = ResNet18_Weights.DEFAULT.transforms()
    with Image.open(path) as image:
        reference = transforms(image.convert("RGB"))[None]
    with torch.inference_mode():
        expected = torch.softmax(imagenet.model(reference), 1)[0]
    (answer,) = classify_files(imagenet, [path], top_k=5)
    assert answer.error is None
    for name, probability in answer.top:
        assert probability == pytest.approx(float(expected[int(name.split()[1])]), abs=1e-3)
    assert answer.top[0][0] == f"class {int(expected.argmax())}"
    # The prepared pixels themselves are torchvision's, not merely close in probability.
    prepared = load_image(path, imagenet.preparation)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    restored = (reference[0] * std + mean) * 255
    assert prepared.shape == (3, 224, 224)
    assert np.abs(restored.numpy() - prepared).max() < 0.01


def test_a_pasted_picture_is_prepared_as_its_file(imagenet, tmp_path):
    path = tmp_path / "photo.png"
    picture = photo(300, 400, seed=2)
    picture.save(path)
    (from_file,) = classify_files(imagenet, [path], preview=192)
    pasted = classify_picture(imagenet, np.asarray(picture), "pasted")
    assert np.array_equal(pasted.image, from_file.image)
    assert pasted.top == from_file.top


def test_the_window_and_the_command_line_see_the_same_jpeg(tmp_path):
    """Issue 27 item 10: the window asked for a preview, and JPEG's reduced-size decoding then
    followed the preview's size instead of the network's: other pixels, another answer."""
    path = tmp_path / "cat.jpg"
    photo(451, 300, seed=3).save(path, quality=90)
    for size in (32, Preprocessing.studio(32), Preprocessing(64, 56, "bicubic", convention="torchvision")):
        alone = load_image(path, size)
        with_preview, picture = load_image_with_preview(path, size, preview=192)
        assert np.array_equal(alone, with_preview)
        assert max(picture.shape[:2]) == 192  # the preview is still sharp: decoded again at its scale


def test_the_studio_preparation_is_unchanged():
    """Networks trained here keep the 32-px preparation exactly (shorter side rounded, crop floored)."""
    image = photo(75, 50, seed=4)
    from resnet_studio.data.images import prepare

    legacy = prepare(image, 32)
    assert np.array_equal(prepare(image, Preprocessing.studio(32)), legacy)
    expected = image.resize((48, 32), Image.Resampling.BILINEAR).crop((8, 0, 40, 32))
    assert np.array_equal(legacy, np.asarray(expected).transpose(2, 0, 1))


def test_the_box_the_network_sees_maps_back_to_the_photo():
    pre = Preprocessing(256, 224, convention="torchvision")
    left, top, right, bottom = pre.visible_box(600, 400)
    assert (top, bottom) == pytest.approx((400 * 16 / 256, 400 * 240 / 256))
    assert right - left == pytest.approx(224 * 400 / 256)
    assert Preprocessing.studio(32).visible_box(64, 32) == (16.0, 0.0, 48.0, 32.0)


def test_preprocessing_round_trips_and_names_the_bad_field():
    pre = Preprocessing(256, 224, "bicubic", tuple(IMAGENET_MEAN), tuple(IMAGENET_STD), "torchvision")
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    assert Preprocessing.from_dict(Preprocessing().to_dict()) == Preprocessing()
    good = {
        "resize": 256,
        "crop": 224,
        "interpolation": "bilinear",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }
    for change, field in (
        ({"resize": "256"}, "preprocessing.resize"),
        ({"crop": 300}, "preprocessing.crop"),
        ({"interpolation": "lanczos"}, "preprocessing.interpolation"),
        ({"mean": [0.5, 0.5]}, "preprocessing.mean"),
        ({"std": [1.0, 0.0, 1.0]}, "preprocessing.std"),
        ({"colour": 1}, "preprocessing.colour"),
    ):
        with pytest.raises(PreprocessingError, match=f"^{field}:"):
            Preprocessing.from_dict({**good, **change})


def test_a_checkpoint_with_bad_preprocessing_is_refused_by_field(tmp_path):
    path = tmp_path / "bad.pt"
    imagenet_checkpoint(path, interpolation="cubic")
    with pytest.raises(UserError, match=r"bad\.pt: preprocessing\.interpolation: must be one of"):
        model_from_checkpoint(path)
    imagenet_checkpoint(path, resize=300, crop=256)
    with pytest.raises(
        UserError, match=r"preprocessing\.crop: 256 differs from the architecture's input size 224"
    ):
        model_from_checkpoint(path)


def test_evaluate_prepares_a_folder_as_the_checkpoint_says(tmp_path):
    from resnet_studio.architecture import ArchitectureSpec, InputSpec, StageSpec, StemSpec
    from resnet_studio.inspection.evaluate import validation_images

    spec = ArchitectureSpec(
        name="Small",
        input=InputSpec(3, 48),
        classes=2,
        stem=StemSpec(8),
        stages=(StageSpec("basic", 1, 8, 1),),
    )
    pre = {"resize": 64, "crop": 48, "interpolation": "bicubic", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    save_checkpoint(
        tmp_path / "small.pt",
        {
            "architecture": spec.to_dict(),
            "model": build_model(spec).state_dict(),
            "classes": ["a", "b"],
            "normalization": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            "preprocessing": pre,
        },
    )
    loaded = model_from_checkpoint(tmp_path / "small.pt")
    files = []
    for split in ("train", "val"):
        for i, name in enumerate(("a", "b")):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            files.append(tmp_path / "data" / split / name / "x.png")
            photo(120 + 10 * i, 90, seed=i).save(files[-1])
    images, _ = validation_images(loaded, f"folder:{tmp_path / 'data'}")
    expected = [load_image(path, loaded.preparation) for path in files[2:]]
    assert images.images.shape == (2, 3, 48, 48)
    assert np.array_equal(images.images.numpy(), np.stack(expected))
    assert not np.array_equal(expected[0], load_image(files[2], 48))  # not the studio's preparation


def test_one_image_runs_on_one_thread_and_the_setting_comes_back():
    from resnet_studio.inspection.classify import one_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
