"""Whether a JPEG already carries nothing but its pixels, so it needs no stripping.

A photo Telegram compressed has had its metadata removed; decoding and re-encoding it only to
strip what is not there costs three times its analysis. The answer comes from the markers alone
(no pixel is decoded): only the segments a decoder needs, no APPn but a bare JFIF header, no
comment, nothing after the end of the image, and no side longer than a stripped copy's.
Anything unusual answers False, and the caller strips as before.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CLEAN_SIDE", "is_clean_jpeg"]

#: The longest side a stripped copy keeps (``checks.strip``): a larger picture is re-encoded.
MAX_CLEAN_SIDE = 2560

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
#: Tables and frame headers a decoder needs: DHT, DQT, DRI, SOF0-2 (baseline, extended,
#: progressive Huffman). Arithmetic coding, lossless and hierarchical frames are refused.
_TABLES = frozenset({0xC4, 0xDB, 0xDD})
_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_APP0 = 0xE0
#: A JFIF APP0 with no thumbnail: "JFIF\0", version, units, densities, 0x0 thumbnail.
_BARE_JFIF_LENGTH = 16
#: In entropy-coded data 0xFF is followed by a stuffed 0x00 or a restart marker; any other
#: byte after it is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _segment(data: bytes, at: int) -> tuple[int, int, int] | None:
    """The marker at ``at`` (after fill bytes), where it starts and where its segment ends;
    None if damaged."""
    if at + 1 >= len(data) or data[at] != 0xFF:
        return None
    while at + 1 < len(data) and data[at + 1] == 0xFF:  # fill bytes before a marker
        at += 1
    if at + 3 >= len(data):
        return None
    marker = data[at + 1]
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    end = at + 2 + length
    if length < 2 or end > len(data):
        return None
    return marker, at, end


def is_clean_jpeg(data: bytes, max_side: int = MAX_CLEAN_SIDE) -> bool:
    """True only for a well-formed JPEG with no metadata segment, no trailing bytes and no side
    over ``max_side``: such a file is already what a stripped copy would be for."""
    if len(data) < 4 or data[0] != 0xFF or data[1] != _SOI:
        return False
    at, framed = 2, False
    while True:
        segment = _segment(data, at)
        if segment is None:
            return False
        marker, at, end = segment
        if marker == _SOS:
            if not framed:
                return False
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                return False
            if data[found.start() + 1] == _EOI:
                return found.end() == len(data)  # nothing may follow the image
            at = found.start()
            continue
        if marker in _FRAMES:
            if end - at < 9 or framed:
                return False
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            if not (0 < width <= max_side and 0 < height <= max_side):
                return False
            framed = True
        elif marker == _APP0:
            if end - at != 2 + _BARE_JFIF_LENGTH or data[at + 4 : at + 9] != b"JFIF\x00":
                return False
        elif marker not in _TABLES:
            return False  # APP1-15 (EXIF, XMP, ICC, IPTC, C2PA), COM, or anything unknown
        at = end
