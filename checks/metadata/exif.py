"""EXIF: camera, dates, orientation and GPS, read through Pillow without decoding pixels.

Pillow's reader is lenient but reports damage as warnings and, on some corrupt files, raises.
Here every warning becomes a problem line and every IFD is read on its own, so a broken GPS
block still leaves the camera and dates readable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image

from checks.metadata.makernote import makernote_serial
from checks.metadata.model import ExifFields, GpsFix
from checks.metadata.values import as_float, as_int, as_text

__all__ = ["ExifRead", "raw_exif", "read_exif"]

_EXIF_HEADER = b"Exif\x00\x00"

# Tag numbers (EXIF 2.32 / TIFF 6). Named here because Pillow's enums lack the newer ones.
_MAKE, _MODEL, _SOFTWARE, _ARTIST, _MODIFY_DATE, _ORIENTATION = 271, 272, 305, 315, 306, 274
_CAMERA_SERIAL = 0xC62F  # DNG CameraSerialNumber, in IFD0
_DATETIME_ORIGINAL, _CREATE_DATE = 0x9003, 0x9004
_OFFSET_TIME, _OFFSET_TIME_ORIGINAL, _OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
_BODY_SERIAL = 0xA431
_MAKERNOTE = 0x927C
_THUMB_OFFSET, _THUMB_LENGTH = 0x0201, 0x0202
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class ExifRead:
    """What :func:`read_exif` found: the fields, where the thumbnail sits, and the problems."""

    fields: ExifFields
    #: The TIFF structure the thumbnail offsets point into (None when there is none).
    tiff: bytes | None
    thumbnail_span: tuple[int, int] | None
    problems: tuple[str, ...]


def raw_exif(image: Image.Image) -> bytes | None:
    """The EXIF TIFF block stored in the file (JPEG APP1, PNG eXIf, WebP, HEIF), or None.

    TIFF files carry their tags in the file itself and have no such block.
    """
    raw = image.info.get("exif")
    if raw is None and "Raw profile type exif" in image.info:
        # ImageMagick's PNG text chunk: three header lines, then hex.
        text = str(image.info["Raw profile type exif"])
        try:
            raw = bytes.fromhex("".join(text.split("\n")[3:]))
        except ValueError:
            return None
    if not isinstance(raw, bytes | bytearray) or not raw:
        return None
    raw = bytes(raw)
    while raw.startswith(_EXIF_HEADER):
        raw = raw[len(_EXIF_HEADER) :]
    return raw or None


def _load(image: Image.Image, tiff: bytes | None) -> Image.Exif | None:
    if tiff is not None:
        exif = Image.Exif()
        exif.load(tiff)
        return exif
    if image.format == "TIFF":
        return image.getexif()
    return None


def _ifd(exif: Image.Exif, tag: int, problems: list[str], name: str) -> dict[int, Any]:
    """One sub-IFD as a plain dict (values decoded now), or {} with a problem line."""
    try:
        ifd = exif.get_ifd(tag)
        return dict(ifd) if isinstance(ifd, dict) else {}
    except Exception as exc:  # Pillow raises many kinds on corrupt IFDs; none may escape
        problems.append(f"exif: {name} IFD unreadable ({type(exc).__name__})")
        return {}


def _dms_to_degrees(value: Any) -> float | None:
    """Degrees from a (deg, min, sec) triple, a (deg, min) pair or plain degrees.

    A 0/0 rational in minutes or seconds (common in Nikon files) counts as 0, so the position
    is still reported rather than silently lost; a 0/0 in the degrees leaves no position.
    """
    parts = value if isinstance(value, tuple | list) else (value,)
    if not parts or len(parts) > 3:
        return None
    degrees = as_float(parts[0])
    if degrees is None:
        return None
    total = degrees
    for part, scale in zip(parts[1:], (60.0, 3600.0), strict=False):
        number = as_float(part)
        total += (number or 0.0) / scale
    return total


def _signed(value: Any, ref: Any, negative: str) -> float | None:
    degrees = _dms_to_degrees(value)
    if degrees is None:
        return None
    ref_text = (as_text(ref) or "").strip().upper()
    if ref_text.startswith(negative):
        degrees = -abs(degrees)
    return degrees


def _gps(gps: dict[int, Any], problems: list[str]) -> tuple[GpsFix | None, bool]:
    """The fix, and whether the block said exactly 0,0 (no fix)."""
    if _GPS_LAT not in gps or _GPS_LON not in gps:
        return None, False
    lat = _signed(gps[_GPS_LAT], gps.get(_GPS_LAT_REF), "S")
    lon = _signed(gps[_GPS_LON], gps.get(_GPS_LON_REF), "W")
    if lat is None or lon is None:
        problems.append("exif: GPS position unreadable")
        return None, False
    if lat == 0.0 and lon == 0.0:
        return None, True
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        problems.append(f"exif: GPS position out of range ({lat:.4f}, {lon:.4f})")
        return None, False
    return GpsFix(latitude=lat, longitude=lon), False


def _tag_text(ifd: dict[int, Any], tag: int) -> str | None:
    """A tag of ``ifd`` as trimmed text, or None."""
    return as_text(ifd.get(tag))


def _thumbnail_span(
    ifd1: dict[int, Any], tiff: bytes | None, problems: list[str]
) -> tuple[int, int] | None:
    """Where IFD1's JPEG thumbnail lies in the TIFF block.

    A length that overruns the block by a little (seen in Sony camcorder files, one byte short)
    is cut to what is there, as ExifTool does; the JPEG decoder copes with a missing EOI.
    """
    if tiff is None or _THUMB_OFFSET not in ifd1:
        return None
    start = as_int(ifd1.get(_THUMB_OFFSET), low=8)
    length = as_int(ifd1.get(_THUMB_LENGTH), low=1)
    if start is None or length is None or start >= len(tiff):
        problems.append("exif: thumbnail offset or length unreadable")
        return None
    if start + length > len(tiff):
        problems.append(f"exif: thumbnail runs {start + length - len(tiff)} bytes past the block")
        length = len(tiff) - start
    return start, length


def _read(image: Image.Image, orientation: int | None, problems: list[str]) -> ExifRead:
    tiff = raw_exif(image)
    try:
        exif = _load(image, tiff)
        ifd0: dict[int, Any] = dict(exif) if exif is not None else {}
    except Exception as exc:  # corrupt TIFF headers raise SyntaxError, struct.error, ...
        problems.append(f"exif: unreadable ({type(exc).__name__})")
        return ExifRead(ExifFields(), None, None, ())
    if exif is None or (not ifd0 and tiff is None):
        return ExifRead(ExifFields(), None, None, ())

    sub = _ifd(exif, ExifTags.IFD.Exif, problems, "Exif") if ExifTags.IFD.Exif in ifd0 else {}
    gps_ifd = (
        _ifd(exif, ExifTags.IFD.GPSInfo, problems, "GPS") if ExifTags.IFD.GPSInfo in ifd0 else {}
    )
    ifd1 = _ifd(exif, ExifTags.IFD.IFD1, problems, "IFD1") if tiff is not None else {}
    gps, zero_fix = _gps(gps_ifd, problems)

    if orientation is None:
        orientation = as_int(ifd0.get(_ORIENTATION), low=1, high=8)
        if _ORIENTATION in ifd0 and orientation is None:
            problems.append(f"exif: orientation {ifd0.get(_ORIENTATION)!r} is not 1-8")
    make = _tag_text(ifd0, _MAKE)
    try:
        vendor_serial = makernote_serial(tiff, make, ifd0, sub.get(_MAKERNOTE))
    except Exception as exc:  # a vendor block is the least trustworthy part of a file
        problems.append(f"exif: MakerNote unreadable ({type(exc).__name__})")
        vendor_serial = None
    fields = ExifFields(
        present=bool(ifd0 or sub or gps_ifd),
        make=make,
        model=_tag_text(ifd0, _MODEL),
        serial_number=_tag_text(sub, _BODY_SERIAL) or _tag_text(ifd0, _CAMERA_SERIAL),
        makernote_serial_number=vendor_serial,
        software=_tag_text(ifd0, _SOFTWARE),
        artist=_tag_text(ifd0, _ARTIST),
        datetime_original=_tag_text(sub, _DATETIME_ORIGINAL),
        create_date=_tag_text(sub, _CREATE_DATE),
        modify_date=_tag_text(ifd0, _MODIFY_DATE),
        offset_time=_tag_text(sub, _OFFSET_TIME),
        offset_time_original=_tag_text(sub, _OFFSET_TIME_ORIGINAL),
        offset_time_digitized=_tag_text(sub, _OFFSET_TIME_DIGITIZED),
        orientation=orientation,
        gps=gps,
        gps_zero_fix=zero_fix,
    )
    return ExifRead(fields, tiff, _thumbnail_span(ifd1, tiff, problems), ())


def read_exif(image: Image.Image, *, orientation: int | None = None) -> ExifRead:
    """Read IFD0, the EXIF and GPS IFDs and IFD1 (thumbnail location) from ``image``.

    ``orientation`` overrides the tag for decoders that apply it themselves and reset it
    (pillow-heif keeps the original value in ``info["original_orientation"]``). Pillow decodes
    tag values lazily and warns about damage as it goes, so the whole read is watched.
    """
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = _read(image, orientation, problems)
    problems.extend(f"exif: {warning.message}" for warning in caught)
    return ExifRead(read.fields, read.tiff, read.thumbnail_span, tuple(problems))
