"""Bad input gets a clear error, fast and in bounded memory; good input decodes small."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from checks.decode import DecodeLimits, decode_for_hashing, open_image
from checks.errors import (
    CorruptImage,
    FileTooLarge,
    ImageTooLarge,
    InvalidInput,
    UnsupportedFormat,
)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size; its pixel data is a few bytes of zeros (never decoded)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(size: tuple[int, int] = (1600, 1200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_decompression_bomb_is_refused_before_decoding() -> None:
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="40000x40000"):
        open_image(png_header_only(40_000, 40_000))
    assert time.perf_counter() - start < 0.5


def test_zeros_named_jpg_are_not_a_picture() -> None:
    with pytest.raises(UnsupportedFormat, match="not a picture"):
        open_image(b"\0" * 1_000_000)


def test_empty_file() -> None:
    with pytest.raises(UnsupportedFormat, match="empty"):
        open_image(b"")


def test_byte_limit() -> None:
    with pytest.raises(FileTooLarge, match="limit"):
        open_image(jpeg_bytes(), DecodeLimits(max_bytes=1000))


def test_truncated_jpeg_is_corrupt() -> None:
    data = jpeg_bytes()
    with pytest.raises(CorruptImage):
        decode_for_hashing(open_image(data[: len(data) // 3]))


def test_formats_outside_the_allow_list_are_not_parsed() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "BMP")
    with pytest.raises(UnsupportedFormat):
        open_image(buffer.getvalue())


def test_jpeg_is_drafted_small_but_keeps_its_true_size() -> None:
    opened = open_image(jpeg_bytes((4000, 3000)))
    assert opened.size == (4000, 3000)
    pixels = decode_for_hashing(opened)
    assert pixels.size == (128, 96)  # decoded at 1/8 scale, then reduced to the hash scale
    assert pixels.mode == "L"  # luminance only: all that the hashes look at


def test_transparent_png_is_flattened_on_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(buffer, "PNG")
    pixels = decode_for_hashing(open_image(buffer.getvalue()))
    assert pixels.getpixel((5, 5)) == 255


@pytest.mark.shared_data
def test_every_corpus_file_decodes_or_fails_cleanly(images: Path) -> None:
    slowest = 0.0
    failures = 0
    for path in sorted(images.rglob("*")):
        if not path.is_file():
            continue
        start = time.perf_counter()
        try:
            decode_for_hashing(open_image(path.read_bytes()))
        except InvalidInput as exc:
            assert exc.message
            failures += 1
            assert "malformed" in path.parts, f"{path} should decode: {exc.message}"
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0
    assert failures >= 80  # the README: 86 of the 98 fuzzed JPEGs do not decode in Pillow


@pytest.mark.shared_data
def test_orientation_is_applied(images: Path) -> None:
    upright = decode_for_hashing(
        open_image((images / "exif-samples/orientation/landscape_6.jpg").read_bytes())
    )
    assert upright.width > upright.height
