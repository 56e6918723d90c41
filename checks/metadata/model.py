"""What a picture's metadata says, as frozen values that the findings and the card read.

Each reader (EXIF, XMP, IPTC, ...) fills one of these small records; :class:`Metadata` holds them
all plus the problems met on the way. ``to_oracle_dict`` flattens the lot into the shape ExifTool's
oracle uses (``../shared/data/expected-exiftool.json``), which is also what ``tipline check
--json`` prints, so the two can be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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
]


@dataclass(frozen=True, slots=True)
class GpsFix:
    """A position in signed decimal degrees (south and west negative)."""

    latitude: float
    longitude: float

    def describe(self) -> str:
        """``43.46745° N, 11.88513° E``: readable without knowing the sign convention."""
        ns = "N" if self.latitude >= 0 else "S"
        ew = "E" if self.longitude >= 0 else "W"
        return f"{abs(self.latitude):.5f}° {ns}, {abs(self.longitude):.5f}° {ew}"


@dataclass(frozen=True, slots=True)
class ExifFields:
    """The EXIF tags a tip line cares about. Dates are the stored ``YYYY:MM:DD HH:MM:SS`` text.

    ``gps`` is None both when there is no GPS block and when it says exactly 0,0 (a phone that
    had no fix); ``gps_zero_fix`` tells the two apart.
    """

    present: bool = False
    make: str | None = None
    model: str | None = None
    serial_number: str | None = None
    #: From a Canon or Nikon MakerNote (ExifTool files it under the maker's group, not EXIF).
    makernote_serial_number: str | None = None
    software: str | None = None
    artist: str | None = None
    datetime_original: str | None = None
    create_date: str | None = None
    modify_date: str | None = None
    offset_time: str | None = None
    offset_time_original: str | None = None
    offset_time_digitized: str | None = None
    orientation: int | None = None
    gps: GpsFix | None = None
    gps_zero_fix: bool = False


@dataclass(frozen=True, slots=True)
class XmpFields:
    """XMP properties: who saved the file, its edit history, and its identity."""

    present: bool = False
    creator_tool: str | None = None
    history_software: tuple[str, ...] = ()
    document_id: str | None = None
    original_document_id: str | None = None
    serial_number: str | None = None
    creators: tuple[str, ...] = ()
    #: IPTC ``DigitalSourceType`` URI, e.g. ``.../trainedAlgorithmicMedia`` for generated images.
    digital_source_type: str | None = None
    #: ``dcterms:provenance``: where a remote C2PA manifest lives.
    provenance: str | None = None


@dataclass(frozen=True, slots=True)
class IptcFields:
    """IPTC IIM text fields, decoded (the ``bylines`` dataset may repeat)."""

    present: bool = False
    caption: str | None = None
    bylines: tuple[str, ...] = ()
    credit: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddedThumbnail:
    """The small JPEG a camera stores in EXIF IFD1. Decoded only when a finding needs it."""

    data: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class JpegQuantization:
    """A JPEG's quantization tables (natural order) and what they say about its encoder.

    ``quality_estimate`` follows ExifTool's ``JPEGQualityEstimate`` (ImageMagick's heuristic);
    ``ijg_quality`` is set only when every table is exactly the IJG standard table scaled to that
    quality, the mark of a libjpeg encoder (most servers and apps) rather than a camera.
    """

    tables: tuple[tuple[int, ...], ...] = field(repr=False)
    quality_estimate: int | None = None
    ijg_quality: int | None = None

    @property
    def is_standard(self) -> bool:
        return self.ijg_quality is not None


class C2paState(StrEnum):
    """Content Credentials, as far as a tip line can tell without going online."""

    VALID = "valid"
    INVALID = "invalid"
    NONE = "none"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class ContentCredentials:
    """The C2PA verdict on a file. ``failure_codes`` lists c2pa's validation status codes."""

    state: C2paState = C2paState.NONE
    failure_codes: tuple[str, ...] = ()
    claim_generator: str | None = None
    issuer: str | None = None
    remote_url: str | None = None
    digital_source_types: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        """Valid and signed by a certificate on a trust list (test certificates are not)."""
        return self.state is C2paState.VALID and not any(
            code.endswith(".untrusted") for code in self.failure_codes
        )

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "state": self.state.value,
            "failure_codes": list(self.failure_codes),
        }
        if self.claim_generator is not None:
            out["claim_generator"] = self.claim_generator
        if self.issuer is not None:
            out["issuer"] = self.issuer
        if self.remote_url is not None:
            out["remote_url"] = self.remote_url
        if self.digital_source_types:
            out["digital_source_types"] = list(self.digital_source_types)
        return out


def _one_or_list(values: tuple[str, ...]) -> str | list[str]:
    # ExifTool's JSON gives a single value as a string and repeated values as a list.
    return values[0] if len(values) == 1 else list(values)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Everything read from a file's metadata, and what could not be read.

    ``width``/``height`` are the stored (unrotated) pixel size, as ExifTool reports it.
    ``problems`` holds one short line per damaged or unreadable part; extraction never raises.
    """

    mime_type: str | None
    width: int
    height: int
    exif: ExifFields = ExifFields()
    xmp: XmpFields = XmpFields()
    iptc: IptcFields = IptcFields()
    thumbnail: EmbeddedThumbnail | None = None
    icc_profile: str | None = None
    jpeg: JpegQuantization | None = None
    c2pa: ContentCredentials = ContentCredentials()
    problems: tuple[str, ...] = ()

    @property
    def has_descriptive_metadata(self) -> bool:
        """Whether any EXIF, XMP or IPTC survived (an ICC profile alone does not count)."""
        return self.exif.present or self.xmp.present or self.iptc.present

    @property
    def software_names(self) -> tuple[str, ...]:
        """Every program the file names as having written it, first seen first, no repeats."""
        names = (self.exif.software, self.xmp.creator_tool, *self.xmp.history_software)
        return tuple(dict.fromkeys(n for n in names if n))

    @property
    def serial_number(self) -> str | None:
        """The camera body's serial, from EXIF, XMP or the maker's own block."""
        return (
            self.exif.serial_number or self.xmp.serial_number or self.exif.makernote_serial_number
        )

    @property
    def orientation(self) -> int:
        """The EXIF orientation to apply (1 when absent or invalid)."""
        return self.exif.orientation or 1

    def to_oracle_dict(self) -> dict[str, object]:
        """The ExifTool-oracle view (absent keys omitted), plus richer Tipline fields."""
        exif, xmp, iptc = self.exif, self.xmp, self.iptc
        candidates: dict[str, object] = {
            "make": exif.make,
            "model": exif.model,
            "software": exif.software,
            "serial_number": exif.serial_number or xmp.serial_number,
            "datetime_original": exif.datetime_original,
            "create_date": exif.create_date,
            "modify_date": exif.modify_date,
            "offset_time_original": exif.offset_time_original,
            "orientation": exif.orientation,
            "gps_latitude": exif.gps.latitude if exif.gps else None,
            "gps_longitude": exif.gps.longitude if exif.gps else None,
            "width": self.width,
            "height": self.height,
            "has_thumbnail": self.thumbnail is not None,
            "xmp_creator_tool": xmp.creator_tool,
            "xmp_history_software": _one_or_list(xmp.history_software)
            if xmp.history_software
            else None,
            "iptc_caption": iptc.caption,
            "iptc_byline": _one_or_list(iptc.bylines) if iptc.bylines else None,
            "iptc_credit": iptc.credit,
            "jpeg_quality_estimate": self.jpeg.quality_estimate if self.jpeg else None,
            "mime_type": self.mime_type,
            # Tipline's own fields below; the oracle has no such keys.
            "offset_time": exif.offset_time,
            "offset_time_digitized": exif.offset_time_digitized,
            "makernote_serial_number": exif.makernote_serial_number,
            "artist": exif.artist,
            "xmp_document_id": xmp.document_id,
            "xmp_original_document_id": xmp.original_document_id,
            "xmp_digital_source_type": xmp.digital_source_type,
            "icc_profile": self.icc_profile,
            "thumbnail_width": self.thumbnail.width if self.thumbnail else None,
            "thumbnail_height": self.thumbnail.height if self.thumbnail else None,
            "jpeg_ijg_quality": self.jpeg.ijg_quality if self.jpeg else None,
        }
        out = {key: value for key, value in candidates.items() if value is not None}
        out["c2pa"] = self.c2pa.as_dict()
        if self.problems:
            out["problems"] = list(self.problems)
        return out
