import numpy as np
import pytest
from PIL import Image

from resnet_studio.data.images import ImageError, load_image


def _save(path, image, **kw):
    image.save(path, **kw)
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("rgb.png", lambda: Image.new("RGB", (64, 48), (200, 10, 10))),
        ("rgb.jpg", lambda: Image.new("RGB", (640, 480), (200, 10, 10))),
        ("gray.png", lambda: Image.new("L", (20, 30), 128)),
        ("rgba.png", lambda: Image.new("RGBA", (40, 40), (200, 10, 10, 255))),
        ("palette.gif", lambda: Image.new("RGB", (33, 33), (200, 10, 10)).convert("P")),
        ("photo.webp", lambda: Image.new("RGB", (100, 50), (200, 10, 10))),
        ("deep.png", lambda: Image.fromarray(np.full((16, 16), 40000, np.uint16))),
    ],
)
def test_any_common_format_and_mode_becomes_rgb_at_the_input_size(tmp_path, name, make):
    array = load_image(_save(tmp_path / name, make()), 32)
    assert array.shape == (3, 32, 32) and array.dtype == np.uint8
    if name == "gray.png":
        assert (array == 128).all()
    elif name != "deep.png":
        assert array[0].mean() > 150 and array[1].mean() < 60


def test_transparent_pixels_are_composited_on_white(tmp_path):
    path = _save(tmp_path / "clear.png", Image.new("RGBA", (8, 8), (0, 0, 0, 0)))
    assert load_image(path, 8).min() == 255


def test_resize_keeps_the_aspect_and_crops_the_centre(tmp_path):
    image = Image.new("RGB", (300, 100), (0, 0, 255))
    image.paste((255, 0, 0), (100, 0, 200, 100))  # red middle third
    array = load_image(_save(tmp_path / "wide.png", image), 32)
    assert array[0].mean() > 240 and array[2].mean() < 15  # only the red centre is left


def test_grayscale_output_for_single_channel_networks(tmp_path):
    array = load_image(_save(tmp_path / "c.png", Image.new("RGB", (10, 10), (255, 255, 255))), 16, channels=1)
    assert array.shape == (1, 16, 16) and array.min() == 255


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, this is text\n", "not an image file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image file"),
    ],
)
def test_bad_files_raise_image_error_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(path, 32)


def test_truncated_jpeg_is_reported_not_crashing(tmp_path):
    full = _save(
        tmp_path / "full.jpg",
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8)),
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="corrupt"):
        load_image(cut, 32)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageError, match="No such file"):
        load_image(tmp_path / "nothing.png", 32)
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path, 32)


def test_oversized_dimensions_are_refused_before_decoding(tmp_path):
    # A 12,000 x 12,000 PNG header: refused from its size alone, without decoding 432 MB.
    path = tmp_path / "huge.png"
    Image.new("1", (12_000, 12_000)).save(path)
    with pytest.raises(ImageError, match="image too large"):
        load_image(path, 32)
