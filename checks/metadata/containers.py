"""Bounded walks over file containers, for the few facts Pillow does not expose.

Used to size the embedded thumbnail without decoding it, and to see whether a file could carry
a C2PA manifest before asking c2pa (JPEG APP11, PNG ``caBX``, RIFF ``C2PA``, ISO BMFF ``uuid``).
Each walk visits chunk headers only and stops at the first damage, so the cost is a few
microseconds whatever the size of the picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "APP11",
    "SOS",
    "Segment",
    "frame_size",
    "iter_bmff_boxes",
    "iter_jpeg_segments",
    "iter_png_chunks",
    "iter_riff_chunks",
]

SOS = 0xDA
APP11 = 0xEB
_EOI = 0xD9
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: Start-of-frame markers (baseline, progressive, lossless, arithmetic); not DHT/JPG/DAC.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: More segments, chunks or boxes than any real file has; stops a crafted file looping long.
_MAX_PARTS = 100_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class Segment:
    """One JPEG marker segment: its marker byte and where its payload lies in the file."""

    marker: int
    start: int
    length: int


def iter_jpeg_segments(data: bytes) -> Iterator[Segment]:
    """JPEG segments from SOI up to and including SOS (entropy-coded data is never read)."""
    if not data.startswith(b"\xff\xd8"):
        return
    offset, seen = 2, 0
    while offset + 4 <= len(data) and seen < _MAX_PARTS:
        if data[offset] != 0xFF:
            return
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in _STANDALONE:
            offset += 2
            continue
        if marker == _EOI:
            return
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if length < 2:
            return
        yield Segment(marker, offset + 4, length - 2)
        if marker == SOS:
            return
        offset += 2 + length
        seen += 1


def frame_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's start-of-frame header, without decoding."""
    for segment in iter_jpeg_segments(data):
        if segment.marker in _SOF and segment.length >= 5:
            height = int.from_bytes(data[segment.start + 1 : segment.start + 3], "big")
            width = int.from_bytes(data[segment.start + 3 : segment.start + 5], "big")
            return (width, height) if width and height else None
    return None


def iter_png_chunks(data: bytes) -> Iterator[bytes]:
    """PNG chunk types in file order, up to IEND."""
    if not data.startswith(_PNG_SIGNATURE):
        return
    offset, seen = len(_PNG_SIGNATURE), 0
    while offset + 8 <= len(data) and seen < _MAX_PARTS:
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        yield kind
        if kind == b"IEND":
            return
        offset += 12 + length  # length, type, data, CRC
        seen += 1


def iter_riff_chunks(data: bytes) -> Iterator[bytes]:
    """Top-level chunk ids of a RIFF file (WebP), after the 12-byte RIFF header."""
    if not data.startswith(b"RIFF"):
        return
    offset, seen = 12, 0
    while offset + 8 <= len(data) and seen < _MAX_PARTS:
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        yield data[offset : offset + 4]
        offset += 8 + size + (size & 1)  # chunks are padded to even length
        seen += 1


def iter_bmff_boxes(data: bytes) -> Iterator[bytes]:
    """Top-level box types of an ISO base media file (HEIF, AVIF)."""
    offset, seen = 0, 0
    while offset + 8 <= len(data) and seen < _MAX_PARTS:
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        if size == 1 and offset + 16 <= len(data):  # 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        yield kind
        if size < 8:  # 0 means "to the end of the file"; anything else is damage
            return
        offset += size
        seen += 1
