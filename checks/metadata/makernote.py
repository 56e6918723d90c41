"""Camera serial numbers hidden in Canon and Nikon MakerNotes.

Pillow does not parse these vendor blocks, and EXIF's own BodySerialNumber is rare, yet the
serial in a MakerNote ties a picture to one camera body, and through it to other photos its
owner has published. For a source that is a real exposure, so the two commonest layouts are read
here with a small bounded IFD walk: Canon (an IFD whose offsets count from the EXIF TIFF header)
and Nikon type 3 (its own embedded TIFF header).
"""

from __future__ import annotations

import warnings
from typing import Literal

from PIL import Image

from checks.metadata.values import as_text

__all__ = ["makernote_serial"]

_EXIF_IFD_POINTER = 0x8769
_MAKERNOTE = 0x927C
_CANON_SERIAL = 0x000C
_NIKON_SERIAL = 0x001D
_NIKON_PREFIX = b"Nikon\x00\x02"
_NIKON_TIFF_START = 10
_LONG = 4
#: More entries than any real IFD has; a corrupt count stops the walk here.
_MAX_ENTRIES = 512

ByteOrder = Literal["little", "big"]


def _entries(tiff: bytes, offset: int, order: ByteOrder) -> dict[int, tuple[int, int, bytes]]:
    """``tag -> (type, count, 4-byte value field)`` for the IFD at ``offset``; {} if damaged."""
    if offset < 8 or offset + 2 > len(tiff):
        return {}
    count = int.from_bytes(tiff[offset : offset + 2], order)
    entries = {}
    for index in range(min(count, _MAX_ENTRIES)):
        start = offset + 2 + index * 12
        if start + 12 > len(tiff):
            break
        tag = int.from_bytes(tiff[start : start + 2], order)
        kind = int.from_bytes(tiff[start + 2 : start + 4], order)
        number = int.from_bytes(tiff[start + 4 : start + 8], order)
        entries[tag] = (kind, number, tiff[start + 8 : start + 12])
    return entries


def _canon_serial(tiff: bytes, exif_ifd: int, order: ByteOrder) -> str | None:
    makernote = _entries(tiff, exif_ifd, order).get(_MAKERNOTE)
    if makernote is None:
        return None
    offset = int.from_bytes(makernote[2], order)
    serial = _entries(tiff, offset, order).get(_CANON_SERIAL)
    if serial is None or serial[0] != _LONG or serial[1] != 1:
        return None
    number = int.from_bytes(serial[2], order)
    return str(number) if number else None


def _nikon_serial(makernote: bytes) -> str | None:
    if not makernote.startswith(_NIKON_PREFIX):
        return None
    exif = Image.Exif()
    with warnings.catch_warnings():
        # Pillow reads every tag of the block and warns about those whose data lies outside
        # it (Coolpix previews, for one). Only the serial is wanted here, and a vendor block's
        # loose offsets say nothing about the file's own metadata being damaged.
        warnings.simplefilter("ignore")
        exif.load(makernote[_NIKON_TIFF_START:])
    return as_text(exif.get(_NIKON_SERIAL)) or None


def makernote_serial(
    tiff: bytes | None, make: str | None, ifd0: dict[int, object], makernote: object
) -> str | None:
    """The body serial number from a Canon or Nikon MakerNote, or None."""
    if tiff is None or not make or len(tiff) < 8:
        return None
    maker = make.strip().lower()
    if maker.startswith("canon"):
        order: ByteOrder = "little" if tiff[:2] == b"II" else "big"
        pointer = ifd0.get(_EXIF_IFD_POINTER)
        return _canon_serial(tiff, pointer, order) if isinstance(pointer, int) else None
    if maker.startswith("nikon") and isinstance(makernote, bytes):
        return _nikon_serial(makernote)
    return None
