"""Read a picture's metadata cheaply and safely: what the card and the findings say about a file.

``extract_metadata`` takes the just-opened (not decoded) Pillow image and the file's bytes. It
never decodes the main picture, never goes online, and never raises for damaged metadata: each
reader records what it could not read in ``Metadata.problems`` and the others carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pillow_heif
from PIL import Image

from checks.metadata.c2pa import read_content_credentials
from checks.metadata.exif import ExifRead, read_exif
from checks.metadata.icc import read_icc_profile
from checks.metadata.iptc import IptcRead, read_iptc
from checks.metadata.jpeg_tables import read_quantization
from checks.metadata.model import (
    C2paState,
    ContentCredentials,
    EmbeddedThumbnail,
    ExifFields,
    GpsFix,
    IptcFields,
    JpegQuantization,
    Metadata,
    XmpFields,
)
from checks.metadata.thumbnail import decode_thumbnail, read_thumbnail
from checks.metadata.xmp import XmpRead, read_xmp

__all__ = [
    "C2paState",
    "ContentCredentials",
    "EmbeddedThumbnail",
    "ExifFields",
    "GpsFix",
    "IptcFields",
    "JpegQuantization",
    "Metadata",
    "XmpFields",
    "decode_thumbnail",
    "extract_metadata",
]

pillow_heif.register_heif_opener()

_T = TypeVar("_T")
#: HEIF major brands ExifTool reports as image/heif rather than image/heic.
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_SWAPS_AXES = frozenset({5, 6, 7, 8})


def _mime_type(image: Image.Image, data: bytes) -> str | None:
    if image.format in ("JPEG", "MPO"):  # Pillow calls JPEGs with an MPF index "MPO"
        return "image/jpeg"
    if image.format == "HEIF":
        return "image/heif" if data[8:12] in _HEIF_BRANDS else "image/heic"
    return Image.MIME.get(image.format or "")


def _guarded(problems: list[str], name: str, read: Callable[[], _T], fallback: _T) -> _T:
    """Run one reader; a bug or an unforeseen library error costs that part, not the tip."""
    try:
        return read()
    except Exception as exc:  # the last line of defence: extraction must never raise
        problems.append(f"{name}: reader failed ({type(exc).__name__}: {exc})"[:200])
        return fallback


def extract_metadata(image: Image.Image, data: bytes) -> Metadata:
    """Everything the file's metadata says, read without decoding the main picture."""
    problems: list[str] = []
    mime_type = _mime_type(image, data)
    width, height = image.size

    heif_orientation = image.info.get("original_orientation") if image.format == "HEIF" else None
    if isinstance(heif_orientation, int) and heif_orientation in _SWAPS_AXES:
        # pillow-heif applies the rotation at open; report the stored size, as EXIF means it.
        width, height = height, width
    orientation = heif_orientation if isinstance(heif_orientation, int) else None

    exif = _guarded(
        problems,
        "exif",
        lambda: read_exif(image, orientation=orientation),
        ExifRead(ExifFields(), None, None, ()),
    )
    xmp = _guarded(problems, "xmp", lambda: read_xmp(image), XmpRead(XmpFields(), ()))
    iptc = _guarded(problems, "iptc", lambda: read_iptc(image), IptcRead(IptcFields(), ()))
    thumbnail, thumb_problems = _guarded(
        problems, "thumbnail", lambda: read_thumbnail(exif), (None, ())
    )
    jpeg = _guarded(problems, "jpeg", lambda: read_quantization(image), None)
    icc = _guarded(problems, "icc", lambda: read_icc_profile(image), None)
    c2pa, c2pa_problems = _guarded(
        problems,
        "c2pa",
        lambda: read_content_credentials(data, mime_type, provenance=xmp.fields.provenance),
        (ContentCredentials(), ()),
    )
    problems.extend(
        (*exif.problems, *xmp.problems, *iptc.problems, *thumb_problems, *c2pa_problems)
    )
    return Metadata(
        mime_type=mime_type,
        width=width,
        height=height,
        exif=exif.fields,
        xmp=xmp.fields,
        iptc=iptc.fields,
        thumbnail=thumbnail,
        icc_profile=icc,
        jpeg=jpeg,
        c2pa=c2pa,
        problems=tuple(problems),
    )
