"""IPTC IIM: caption, by-line and credit, decoded from the raw datasets.

IIM stores bytes with no encoding unless dataset 1:90 names one, so the text is decoded the way
ExifTool does: UTF-8 when 1:90 says so or the bytes are valid UTF-8, otherwise Windows-1252
(ExifTool's "Latin" default, a superset of Latin-1's printable characters), and Latin-1 for the
few bytes Windows-1252 leaves undefined. The parser is a plain bounded walk, so a truncated or
corrupt block yields what came before the damage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from checks.metadata.model import IptcFields
from checks.metadata.values import strip_trailing

__all__ = ["IptcRead", "decode_iim_text", "parse_iim", "raw_iptc", "read_iptc"]

_TAG_MARKER = 0x1C
_CODED_CHARACTER_SET = (1, 90)
_BYLINE, _CREDIT, _CAPTION = (2, 80), (2, 110), (2, 120)
#: ISO 2022 escape sequences for UTF-8 (``ESC % G``) in dataset 1:90.
_UTF8_ESCAPES = (b"\x1b%G", b"\x1b%/I")
_PHOTOSHOP_IPTC = 0x0404
_TIFF_IPTC_TAG = 33723
_TIFF_LONG = 4
#: A sane ceiling on datasets, so a crafted block cannot make the walk long.
_MAX_DATASETS = 10_000


@dataclass(frozen=True, slots=True)
class IptcRead:
    """The IPTC fields and what was wrong with the block, if anything."""

    fields: IptcFields
    problems: tuple[str, ...]


def raw_iptc(image: Image.Image) -> bytes | None:
    """The IIM block: Photoshop resource 0x0404 in JPEG APP13, or TIFF tag 33723."""
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict):
        block = photoshop.get(_PHOTOSHOP_IPTC)
        if isinstance(block, bytes) and block:
            return block
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return None
    value: Any = tags.get(_TIFF_IPTC_TAG)
    if isinstance(value, bytes | bytearray):
        return bytes(value) or None
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        # Photoshop types this tag LONG; Pillow unpacked it with the file's byte order.
        endian = getattr(tags, "_endian", ">")
        width = 4 if tags.tagtype.get(_TIFF_IPTC_TAG) == _TIFF_LONG else 1
        return b"".join(v.to_bytes(width, "little" if endian == "<" else "big") for v in value)
    return None


def parse_iim(block: bytes) -> tuple[dict[tuple[int, int], list[bytes]], str | None]:
    """Datasets keyed by (record, dataset), and a problem line if the block ended badly."""
    datasets: dict[tuple[int, int], list[bytes]] = {}
    offset, count = 0, 0
    while offset + 5 <= len(block) and count < _MAX_DATASETS:
        if block[offset] != _TAG_MARKER:
            # Padding (NULs) after the last dataset is normal; anything else is damage.
            if any(block[offset:]):
                return datasets, f"iptc: unexpected byte 0x{block[offset]:02x} at {offset}"
            return datasets, None
        record, number = block[offset + 1], block[offset + 2]
        length = int.from_bytes(block[offset + 3 : offset + 5], "big")
        offset += 5
        if length & 0x8000:  # extended dataset: the low bits say how many length bytes follow
            size = length & 0x7FFF
            if size > 8 or offset + size > len(block):
                return datasets, "iptc: bad extended dataset length"
            length = int.from_bytes(block[offset : offset + size], "big")
            offset += size
        if offset + length > len(block):
            return datasets, f"iptc: dataset {record}:{number} runs past the end"
        datasets.setdefault((record, number), []).append(block[offset : offset + length])
        offset += length
        count += 1
    return datasets, None


def decode_iim_text(raw: bytes, *, utf8: bool) -> str:
    """One IIM string as text (see the module docstring for the order of guesses)."""
    if utf8:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_iptc(image: Image.Image) -> IptcRead:
    """Caption, by-lines and credit from the file's IPTC IIM block, if it has one."""
    block = raw_iptc(image)
    if block is None:
        return IptcRead(IptcFields(), ())
    datasets, problem = parse_iim(block)
    charset = datasets.get(_CODED_CHARACTER_SET, [b""])[0]
    utf8 = any(escape in charset for escape in _UTF8_ESCAPES)

    def texts(key: tuple[int, int]) -> tuple[str, ...]:
        return tuple(
            strip_trailing(decode_iim_text(raw, utf8=utf8)) for raw in datasets.get(key, [])
        )

    captions, credits = texts(_CAPTION), texts(_CREDIT)
    fields = IptcFields(
        present=bool(datasets),
        caption=captions[0] if captions else None,
        bylines=texts(_BYLINE),
        credit=credits[0] if credits else None,
    )
    return IptcRead(fields, (problem,) if problem else ())
