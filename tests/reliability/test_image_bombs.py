"""Images that decode to far more memory than their files weigh are refused before decoding."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image

from resnet_studio.data.images import MAX_DECODED_BYTES, ImageError, load_image


def png_header_only(path, width: int, height: int, colour_type: int = 6) -> None:
    """A PNG that claims `width` x `height` (RGBA by default) in a few hundred bytes: a bomb's
    header, with a tiny compressed body. Nothing here allocates the image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    body = zlib.compress(b"\0" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def test_a_png_just_under_the_pixel_limit_is_refused_by_its_decoded_size(tmp_path):
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, 10_900, 10_900)  # 119 megapixels: under the pixel limit, 453 MB decoded
    assert bomb.stat().st_size < 1_000
    with pytest.raises(ImageError, match=r"too large to decode \(10900x10900 RGBA, 453 MB decoded"):
        load_image(bomb, 32)


def test_a_large_jpeg_still_decodes_at_a_reduced_size(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8000, 6000), (10, 200, 30)).save(photo, quality=50)  # 137 MB at full size
    assert MAX_DECODED_BYTES > 8000 * 6000 * 3
    image = load_image(photo, 32)
    assert image.shape == (3, 32, 32) and abs(int(image[1].mean()) - 200) < 3


def test_a_1_bit_png_is_weighed_by_its_size_in_rgb(tmp_path):
    """A 14 KB 1-bit PNG of 10,900 x 10,900 is 113 MB at a byte a pixel, under the limit; every
    image is converted to RGB, and that is 340 MB: refused before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    side = 10_900
    rows = (b"\0" + b"\0" * -(-side // 8)) * side  # filter byte, then 1,363 bytes of 8 pixels
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, grey
    bomb = tmp_path / "bits.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
    assert bomb.stat().st_size < 20_000
    with pytest.raises(ImageError, match=r"too large to decode \(10900x10900 1-bit, 340 MB decoded as RGB"):
        load_image(bomb, 32)
