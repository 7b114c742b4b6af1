"""Image files that are not what they say, or of extreme shapes, and folder data sets laid out in
unexpected ways: each gets a message naming the file or folder, and the rest goes on."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from resnet_studio.cli import main
from resnet_studio.data.images import IMAGE_SUFFIXES, ImageError, load_image
from resnet_studio.nn.shipped import resolve

EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n%%EndComments\n"
    b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_grey(path, width: int, height: int) -> None:
    """A valid 8-bit grey PNG of any size, written in well under a second: one megabyte of rows is
    compressed once and its compressed form repeated (a full flush makes each copy independent of
    what came before), so 1 x 70,000,000 costs 140 KB and 0.1 s, not 140 MB through zlib."""
    row = b"\0" + b"\x80" * width
    rows = max(1, 2**20 // len(row))
    block = row * rows
    whole, rest = divmod(height, rows)
    squeeze = zlib.compressobj(9)
    first = squeeze.compress(block) + squeeze.flush(zlib.Z_FULL_FLUSH)  # with the zlib header
    again = squeeze.compress(block) + squeeze.flush(zlib.Z_FULL_FLUSH)
    tail = squeeze.compress(row * rest) + squeeze.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(whole):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    body = first + again * (whole - 1) + tail + b"\x03\x00" + struct.pack(">I", adler)  # final block
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )


@pytest.fixture
def fake_ghostscript(tmp_path, monkeypatch):
    """A `gs` first on PATH that leaves a marker when anything starts it; the marker's path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "gs-ran"
    gs = bin_dir / "gs"
    gs.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks for gs once, then remembers
    return marker


def test_the_png_helper_writes_a_valid_image(tmp_path):
    png_grey(tmp_path / "g.png", 300, 7000)
    with Image.open(tmp_path / "g.png") as image:
        assert image.size == (300, 7000) and np.asarray(image).min() == np.asarray(image).max() == 128


def test_postscript_named_jpg_never_starts_ghostscript(tmp_path, fake_ghostscript, capsys):
    eps = tmp_path / "x.jpg"
    eps.write_bytes(EPS)
    with pytest.raises(ImageError, match=r"PostScript/EPS is not a supported image format"):
        load_image(eps, 32)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photo.png")
    code = main(["classify", str(resolve("resnet20-demo")), str(eps), str(tmp_path / "photo.png")])
    out = capsys.readouterr().out
    assert code == 0  # the good image is classified
    assert f"{eps}: error: PostScript/EPS is not a supported image format" in out
    assert f"{tmp_path / 'photo.png'}: " in out and "photo.png: error" not in out
    assert not fake_ghostscript.exists()


def test_postscript_in_a_folder_data_set_is_skipped_without_ghostscript(tmp_path, fake_ghostscript):
    from resnet_studio.data.sources import load_data

    for name, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (12, 12), colour).save(tmp_path / "data" / name / f"{i}.png")
    (tmp_path / "data" / "red" / "trap.jpg").write_bytes(EPS)
    splits = load_data(f"folder:{tmp_path / 'data'}", image_size=8)
    assert splits.skipped == 1 and len(splits.train) + len(splits.val) == 6
    assert not fake_ghostscript.exists()


def test_a_1_by_70_million_strip_and_a_5_million_by_1_line_fail_alone(tmp_path, capsys):
    tall, wide = tmp_path / "tall.png", tmp_path / "wide.png"
    png_grey(tall, 1, 70_000_000)  # 70 megapixels, 70 MB grey: under the pixel and byte limits
    png_grey(wide, 5_000_000, 1)
    assert tall.stat().st_size < 200_000 and wide.stat().st_size < 10_000
    for path, shape in ((tall, "1x70000000"), (wide, "5000000x1")):
        with pytest.raises(ImageError, match=rf"too long and narrow \({shape};"):
            load_image(path, 32)
    Image.new("RGB", (64, 48), (30, 200, 30)).save(tmp_path / "photo.png")
    code = main(
        ["classify", str(resolve("resnet20-demo")), str(tall), str(tmp_path / "photo.png"), str(wide)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"{tall}: error: image too long and narrow" in out and f"{wide}: error: image too long" in out
    assert f"{tmp_path / 'photo.png'}: " in out and "photo.png: error" not in out


def test_a_long_but_sane_image_is_resized_without_a_buffer_of_its_length(tmp_path):
    """A 99:1 strip is allowed; only its centre square is resized, so preparing it at 64 px costs
    64 x 64, not 64 x 6,336 (what resizing it whole then cropping allocated)."""
    strip = Image.new("RGB", (9900, 100), (0, 0, 255))
    strip.paste((255, 0, 0), (4900, 0, 5000, 100))  # the red centre square
    strip.save(tmp_path / "strip.png")
    image = load_image(tmp_path / "strip.png", 64)
    assert image.shape == (3, 64, 64) and image[0].mean() > 240 and image[2].mean() < 15


def _class_folders(parent, names, count=10):
    """`count` small PNGs in each of `parent`/<name>, each class its own colour."""
    for i, name in enumerate(names):
        (parent / name).mkdir(parents=True)
        for j in range(count):
            Image.new("RGB", (10, 10), (40 * i + j, 100, 200 - 40 * i)).save(parent / name / f"{j}.png")


def test_train_beside_a_stray_folder_without_val_uses_train_split_90_10(tmp_path, caplog):
    from resnet_studio.data.sources import load_data

    _class_folders(tmp_path / "train", ["cat", "dog"])
    _class_folders(tmp_path, ["samples"], count=3)  # not a class: the user's own folder
    splits = load_data(f"folder:{tmp_path}", image_size=8)
    assert splits.classes == ["cat", "dog"]  # not ['samples', 'train']
    assert (len(splits.train), len(splits.val)) == (18, 2)
    assert set(splits.val.labels.tolist()) == {0, 1}
    assert "no val/" in caplog.text and "samples" in caplog.text


def test_train_alone_with_one_class_says_what_it_lacks_not_its_own_layout(tmp_path):
    from resnet_studio.data.sources import load_data
    from resnet_studio.errors import UserError

    _class_folders(tmp_path / "train", ["cat"])
    with pytest.raises(UserError) as caught:
        load_data(f"folder:{tmp_path}", image_size=8)
    message = str(caught.value)
    assert "train/ needs at least 2 class folders with images, found 1 (cat)" in message
    assert "PATH/train/<class>" not in message and "expected" not in message


def test_a_class_whose_only_file_is_unreadable_is_left_out_and_counted(tmp_path, caplog):
    from resnet_studio.data.sources import load_data
    from resnet_studio.errors import UserError

    _class_folders(tmp_path, ["cat", "dog"])
    (tmp_path / "ghost").mkdir()
    (tmp_path / "ghost" / "only.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    splits = load_data(f"folder:{tmp_path}", image_size=8)
    assert splits.classes == ["cat", "dog"] and splits.skipped == 1
    assert "ghost" in splits.empty_classes and set(splits.train.labels.tolist()) == {0, 1}
    assert "left out 1 class folders whose images are all unreadable: ghost" in caplog.text
    for name in ("0.png", "1.png", "2.png"):  # now dog holds nothing readable either
        (tmp_path / "dog" / name).write_bytes(b"not an image")
    for extra in range(3, 10):
        (tmp_path / "dog" / f"{extra}.png").unlink()
    with pytest.raises(UserError, match=r"found 1 \(cat\).*with only unreadable images: dog, ghost"):
        load_data(f"folder:{tmp_path}", image_size=8)


def test_a_limit_below_the_class_count_keeps_every_class(tmp_path):
    """Evaluation loads a folder with --limit-train 1: classes with no image tried are kept."""
    from resnet_studio.data.sources import load_data

    _class_folders(tmp_path, ["a", "b", "c"], count=3)
    splits = load_data(f"folder:{tmp_path}", image_size=8, limit_train=1)
    assert splits.classes == ["a", "b", "c"] and len(splits.train) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--preset", "resnet20", "--limit-train", "-5"],
        ["train", "--preset", "resnet20", "--limit-val", "-5"],
        ["evaluate", "resnet20-demo", "--limit-val", "-5"],
        ["lesion", "resnet20-demo", "--limit-val", "-5"],
        ["contributions", "resnet20-demo", "--limit-val", "0"],
        ["similarity", "resnet20-demo", "--limit-val", "-1"],
        ["landscape", "resnet20-demo", "--limit-val", "-5"],
    ],
)
def test_a_limit_below_one_is_refused_by_name(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main(command)
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert "--limit-" in err and "must be a positive integer" in err and "Traceback" not in err


def test_load_data_refuses_a_negative_limit_instead_of_all_but_n():
    from resnet_studio.data.sources import load_data
    from resnet_studio.errors import UserError

    with pytest.raises(UserError, match=r"--limit-val: must be a positive integer, got -5"):
        load_data("demo", limit_val=-5)


@pytest.mark.parametrize("suffix", sorted(IMAGE_SUFFIXES))
def test_every_listed_suffix_still_decodes_and_a_png_named_jpg_too(tmp_path, suffix):
    """The formats the decoder may try are limited, not the files we read: every suffix the open
    dialogs offer decodes, and a file whose content is another listed format than its name too."""
    image = Image.new("RGB", (20, 12), (200, 10, 10))
    if suffix == ".pbm":
        image = image.convert("1")
    elif suffix == ".pgm":
        image = image.convert("L")
    image.save(tmp_path / f"x{suffix}")
    assert load_image(tmp_path / f"x{suffix}", 8).shape == (3, 8, 8)
    image.save(tmp_path / "really-a.png", format="PNG")
    (tmp_path / "really-a.png").rename(tmp_path / "named.jpg")
    assert load_image(tmp_path / "named.jpg", 8).shape == (3, 8, 8)
