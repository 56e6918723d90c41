"""Which JPEGs already carry nothing but pixels (so the moderators' copy needs no re-encode)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from checks.clean_jpeg import is_clean_jpeg
from checks.strip import stripped_copy


def _jpeg(size: tuple[int, int] = (320, 240), **options: object) -> bytes:
    image = Image.new("RGB", size, (40, 90, 160))
    image.paste((200, 30, 30), (10, 10, 120, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    return exif


@pytest.mark.parametrize(
    "options",
    [{}, {"progressive": True}, {"restart_marker_blocks": 2}, {"quality": 95, "subsampling": 0}],
)
def test_a_plain_jpeg_is_clean(options: dict[str, object]) -> None:
    assert is_clean_jpeg(_jpeg(**options))


def test_a_stripped_copy_is_clean() -> None:
    assert is_clean_jpeg(stripped_copy(_jpeg(exif=_exif())))


@pytest.mark.parametrize(
    "data",
    [
        _jpeg(exif=_exif()),  # EXIF: make, model, GPS ...
        _jpeg(comment=b"taken by someone"),
        _jpeg(icc_profile=b"\0" * 64),
        _jpeg() + b"trailing bytes",
        _jpeg() + _jpeg(),  # a second picture appended
        _jpeg(size=(3000, 200)),  # larger than the stripped copy keeps
        _jpeg()[:-200],  # cut short
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"",
    ],
)
def test_anything_else_is_not(data: bytes) -> None:
    assert not is_clean_jpeg(data)


def test_a_png_is_not() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    assert not is_clean_jpeg(out.getvalue())
