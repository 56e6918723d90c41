"""Coded findings: the facts about a file worth a line on the verdict card.

Each finding has a stable ``code`` (printed in JSON, matched by the bot and by tests), a
``severity`` and one plain sentence for a tipster or a journalist. Rules look only at the
extracted metadata, the small decoded picture and the hash quality; none goes online.

Date rules (``DATES_INCONSISTENT``), chosen to catch edits and bad clocks without flagging
ordinary files:

* taken (DateTimeOriginal, else CreateDate) more than a minute *after* last modified
  (ModifyDate): cameras write them together, so the order is only reversed by a tool that
  rewrote one of them;
* any of the three dates more than a day in the future (a day covers every time zone);
* taken and digitised (CreateDate) more than a day apart: normal for scanned film, otherwise a
  sign that one date was edited.

When both dates carry an EXIF offset (OffsetTime*), they are compared in UTC.

Thumbnail rule (``THUMBNAIL_MISMATCH``): see :mod:`checks.metadata.thumbnail`. A thumbnail that
is merely a quarter or half turn of the picture (rotated by software that left the preview) is
not reported; mirrored, cropped or different ones are.

Platform fingerprint (``NO_METADATA``): messengers and social networks strip metadata and
re-encode with libjpeg's standard tables, resizing to a fixed long side. A JPEG with no EXIF, XMP
or IPTC, exactly standard tables, at most 6 bits per pixel, no Content Credentials and a long
side on :data:`PLATFORM_LONG_SIDES` was probably saved from that platform. The caps, as
documented or measured in 2024-2026: Telegram 1280 (photo) and 2560 (HD photo); WhatsApp 1600
(standard) and 4096 (HD); Signal 1600 (standard, Android since 2021), 2048 (high) and 3072
(Desktop high quality); Facebook 2048; X/Twitter 4096 (original) and 2048 (large); Instagram
1080 wide. They change over time; a match is a hint, never proof.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from PIL import Image

from checks.metadata import C2paState, Metadata
from checks.metadata.thumbnail import ThumbnailMatch, compare_thumbnail
from checks.signals import PDQ_MIN_QUALITY

__all__ = [
    "EDITOR_NAMES",
    "PLATFORM_LONG_SIDES",
    "Finding",
    "FindingCode",
    "Severity",
    "derive_findings",
]


class Severity(StrEnum):
    INFO = "info"
    NOTICE = "notice"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """Where findings of this severity are listed: warnings first."""
        return _RANK[self]


_RANK = {Severity.WARNING: 0, Severity.NOTICE: 1, Severity.INFO: 2}


class FindingCode(StrEnum):
    """Every finding code. Values are stored and printed: never rename one."""

    EDITED_WITH_SOFTWARE = "EDITED_WITH_SOFTWARE"
    THUMBNAIL_MISMATCH = "THUMBNAIL_MISMATCH"
    DATES_INCONSISTENT = "DATES_INCONSISTENT"
    GPS_PRESENT = "GPS_PRESENT"
    SERIAL_NUMBER_PRESENT = "SERIAL_NUMBER_PRESENT"
    AUTHOR_NAMED = "AUTHOR_NAMED"
    NO_METADATA = "NO_METADATA"
    AI_GENERATED_DECLARED = "AI_GENERATED_DECLARED"
    C2PA_VALID = "C2PA_VALID"
    C2PA_INVALID = "C2PA_INVALID"
    C2PA_REMOTE = "C2PA_REMOTE"
    LOW_HASH_QUALITY = "LOW_HASH_QUALITY"
    METADATA_DAMAGED = "METADATA_DAMAGED"


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact about the file, with how much it matters and a sentence that says it."""

    code: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "severity": self.severity.value, "message": self.message}


#: Programs that edit pictures, as they appear in Software / CreatorTool / XMP history
#: (case-insensitive word match). Camera firmware, operating-system versions ("8.1" on an
#: iPhone) and file browsers (Adobe Bridge) are deliberately absent.
EDITOR_NAMES: tuple[str, ...] = (
    "Photoshop", "Lightroom", "Camera Raw", "GIMP", "Snapseed", "Affinity", "Pixelmator",
    "Canva", "Paint.NET", "PaintShop", "Paint Shop Pro", "Corel", "Fireworks", "ACDSee",
    "Capture One", "darktable", "RawTherapee", "Luminar", "Facetune", "PicsArt", "VSCO",
    "PhotoScape", "Picasa", "Photo Gallery", "Krita", "PaintTool", "PhotoDirector", "Polarr",
    "Meitu", "Remini", "FaceApp", "Fotor", "Pixlr", "Photopea", "DxO", "Aperture", "iPhoto",
    "PicMonkey",
)  # fmt: skip
_EDITOR = re.compile(
    r"(?<![A-Za-z])(" + "|".join(re.escape(name) for name in EDITOR_NAMES) + r")(?![A-Za-z])",
    re.IGNORECASE,
)

#: Long side (pixels) a platform resizes photos to -> who does it.
PLATFORM_LONG_SIDES: dict[int, str] = {
    1280: "Telegram",
    2560: "Telegram (HD photo)",
    1600: "WhatsApp or Signal",
    2048: "Facebook, Signal (high quality) or X/Twitter",
    3072: "Signal Desktop (high quality)",
    4096: "WhatsApp (HD) or X/Twitter",
}
_INSTAGRAM_WIDTH = 1080
#: Re-encoded platform copies are small; above this many bits per pixel, do not guess one.
_PLATFORM_MAX_BITS_PER_PIXEL = 6.0

_AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
_C2PA_CODE_WORDS = {
    "assertion.dataHash.mismatch": "the picture was changed after signing",
    "claimSignature.mismatch": "the signature does not match the claim",
    "signingCredential.untrusted": "the signer is not on a trust list",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired",
}

_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_SLACK_ORDER = timedelta(minutes=1)
_SLACK_FUTURE = timedelta(days=1)
_SLACK_DIGITISED = timedelta(days=1)


def _parse_date(text: str | None, offset: str | None) -> datetime | None:
    """An EXIF date as a datetime (aware when an offset is given); None for blanks and zeros."""
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()))  # EXIF: local, zone unknown
    except ValueError:
        return None
    offset_match = _OFFSET.match(offset or "")
    if offset_match:
        sign = -1 if offset_match.group(1) == "-" else 1
        delta = timedelta(hours=int(offset_match.group(2)), minutes=int(offset_match.group(3)))
        moment = moment.replace(tzinfo=timezone(sign * delta))
    return moment


def _difference(later: datetime, earlier: datetime) -> timedelta:
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return later - earlier


def _dates_finding(metadata: Metadata, now: datetime) -> Finding | None:
    exif = metadata.exif
    original = _parse_date(exif.datetime_original, exif.offset_time_original)
    digitised = _parse_date(exif.create_date, exif.offset_time_digitized)
    modified = _parse_date(exif.modify_date, exif.offset_time)
    taken, taken_text = original, exif.datetime_original
    if taken is None:
        taken, taken_text = digitised, exif.create_date
    reasons: list[str] = []
    if taken and modified and _difference(taken, modified) > _SLACK_ORDER:
        reasons.append(
            f"it says it was taken ({taken_text}) after it was last modified ({exif.modify_date})"
        )
    # EXIF wall-clock times may be up to 14 h ahead of UTC; the day of slack covers that.
    utc_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    latest_possible = utc_now + _SLACK_FUTURE
    future = [
        text
        for text, moment in (
            (exif.datetime_original, original),
            (exif.create_date, digitised),
            (exif.modify_date, modified),
        )
        if moment and moment.replace(tzinfo=None) > latest_possible
    ]
    if future:
        reasons.append(f"it carries a date in the future ({future[0]})")
    if original and digitised and abs(_difference(original, digitised)) > _SLACK_DIGITISED:
        reasons.append(
            f"it was taken on {exif.datetime_original} but digitised on {exif.create_date} "
            "(normal for a scanned print, otherwise a sign of an edited date)"
        )
    if not reasons:
        return None
    return Finding(
        FindingCode.DATES_INCONSISTENT,
        Severity.NOTICE,
        "The dates in this file do not add up: " + "; ".join(reasons) + ".",
    )


def _edited_finding(metadata: Metadata) -> Finding | None:
    editors = [name for name in metadata.software_names if _EDITOR.search(name)]
    if not editors:
        return None
    listed = ", ".join(editors[:3])
    return Finding(
        FindingCode.EDITED_WITH_SOFTWARE,
        Severity.NOTICE,
        f"The file was saved by editing software ({listed}): the picture may have been changed "
        "after it was taken.",
    )


def _thumbnail_finding(
    metadata: Metadata, image: Image.Image, decoded: Image.Image | None
) -> Finding | None:
    if metadata.thumbnail is None:
        return None
    comparison = compare_thumbnail(metadata.thumbnail, image, metadata.orientation, decoded=decoded)
    if comparison is None:
        return None
    if comparison.match is ThumbnailMatch.MIRRORED:
        message = (
            "The camera's preview stored inside the file is the mirror image of the picture: "
            "the picture was flipped left to right after it was taken, so text and directions "
            "in it are reversed."
        )
    elif comparison.match is ThumbnailMatch.DIFFERENT:
        how = "a differently shaped frame" if comparison.aspect_changed else "a different picture"
        message = (
            f"The camera's preview stored inside the file shows {how}: the picture was cropped, "
            "retouched or replaced after it was taken."
        )
    else:
        return None
    return Finding(FindingCode.THUMBNAIL_MISMATCH, Severity.WARNING, message)


def _gps_finding(metadata: Metadata) -> Finding | None:
    gps = metadata.exif.gps
    if gps is None:
        return None
    return Finding(
        FindingCode.GPS_PRESENT,
        Severity.WARNING,
        f"The file reveals where it was taken: {gps.describe()}. Anyone who gets the file can "
        "see this place; remove it before passing the file on.",
    )


def _serial_finding(metadata: Metadata) -> Finding | None:
    serial = metadata.serial_number
    if not serial:
        return None
    return Finding(
        FindingCode.SERIAL_NUMBER_PRESENT,
        Severity.WARNING,
        f"The file carries the camera's serial number ({serial}), which can link it to other "
        "photos from the same camera and to the camera's owner.",
    )


def _distinct_names(names: tuple[str | None, ...]) -> list[str]:
    """Non-blank names, first seen first, dropping any that another one merely extends.

    IPTC caps a by-line at 32 bytes, so the same author often appears cut short in IPTC and in
    full in XMP; naming them twice would read as two people.
    """
    cleaned = list(dict.fromkeys(name.strip() for name in names if name and name.strip()))
    return [n for n in cleaned if not any(o != n and o.startswith(n) for o in cleaned)]


def _author_finding(metadata: Metadata) -> Finding | None:
    named = _distinct_names((metadata.exif.artist, *metadata.iptc.bylines, *metadata.xmp.creators))
    if not named:
        return None
    return Finding(
        FindingCode.AUTHOR_NAMED,
        Severity.WARNING,
        f"The file names a person as its author ({', '.join(named[:3])}); if that is the "
        "source, the file identifies them.",
    )


def _platform_guess(metadata: Metadata, file_size: int) -> tuple[str, str] | None:
    """``(platform, what matched)`` when the file looks like a platform's re-encode."""
    jpeg = metadata.jpeg
    if jpeg is None or not jpeg.is_standard or metadata.width <= 0 or metadata.height <= 0:
        return None
    if metadata.c2pa.state is not C2paState.NONE:
        return None  # platforms strip Content Credentials along with everything else
    bits_per_pixel = file_size * 8 / (metadata.width * metadata.height)
    if bits_per_pixel > _PLATFORM_MAX_BITS_PER_PIXEL:
        return None
    long_side = max(metadata.width, metadata.height)
    if long_side in PLATFORM_LONG_SIDES:
        return PLATFORM_LONG_SIDES[long_side], f"{long_side} px on the long side"
    if metadata.width == _INSTAGRAM_WIDTH:
        return "Instagram", f"{_INSTAGRAM_WIDTH} px wide"
    return None


def _no_metadata_finding(metadata: Metadata, file_size: int) -> Finding | None:
    if metadata.has_descriptive_metadata:
        return None
    guess = _platform_guess(metadata, file_size)
    if guess is None:
        return Finding(
            FindingCode.NO_METADATA,
            Severity.INFO,
            "The file carries no camera metadata (no EXIF, XMP or IPTC): it was stripped by an "
            "app or a platform, or removed on purpose.",
        )
    platform, basis = guess
    quality = metadata.jpeg.ijg_quality if metadata.jpeg else None
    return Finding(
        FindingCode.NO_METADATA,
        Severity.NOTICE,
        f"The file carries no camera metadata, and its size and compression ({basis}, standard "
        f"JPEG quality {quality}) match a photo re-sent through {platform}: probably not the "
        "original. Ask for the original file, sent as a document.",
    )


def _ai_finding(metadata: Metadata) -> Finding | None:
    declared = [metadata.xmp.digital_source_type or "", *metadata.c2pa.digital_source_types]
    sources = [s for s in declared if any(s.endswith(kind) for kind in _AI_SOURCE_TYPES)]
    if not sources:
        return None
    kind = sources[0].rsplit("/", 1)[-1]
    return Finding(
        FindingCode.AI_GENERATED_DECLARED,
        Severity.WARNING,
        f"The file declares that it was made or altered by generative AI ({kind}).",
    )


def _c2pa_finding(metadata: Metadata) -> Finding | None:
    c2pa = metadata.c2pa
    if c2pa.state is C2paState.VALID:
        made = f" by {c2pa.claim_generator}" if c2pa.claim_generator else ""
        signer = c2pa.issuer or "an unnamed signer"
        if c2pa.trusted:
            return Finding(
                FindingCode.C2PA_VALID,
                Severity.INFO,
                f"Content Credentials (C2PA) are intact: made{made}, signed by {signer}.",
            )
        return Finding(
            FindingCode.C2PA_VALID,
            Severity.NOTICE,
            f"Content Credentials (C2PA) are intact (made{made}), but the signer, {signer}, is "
            "not on a trust list, so they show only that the file is unchanged since signing.",
        )
    if c2pa.state is C2paState.INVALID:
        problems = [
            _C2PA_CODE_WORDS[code]
            for code in dict.fromkeys(c2pa.failure_codes)
            if code in _C2PA_CODE_WORDS and not code.endswith(".untrusted")
        ]
        why = "; ".join(problems) or "verification failed"
        codes = ", ".join(dict.fromkeys(c2pa.failure_codes))
        return Finding(
            FindingCode.C2PA_INVALID,
            Severity.WARNING,
            f"Content Credentials (C2PA) are present but broken: {why} ({codes}).",
        )
    if c2pa.state is C2paState.REMOTE:
        where = f" at {c2pa.remote_url}" if c2pa.remote_url else ""
        return Finding(
            FindingCode.C2PA_REMOTE,
            Severity.NOTICE,
            f"The file points to Content Credentials stored online{where}. They were not "
            "fetched: looking them up would tell that server someone is examining this picture.",
        )
    return None


def _hash_quality_finding(pdq_quality: int | None) -> Finding | None:
    if pdq_quality is None or pdq_quality >= PDQ_MIN_QUALITY:
        return None
    return Finding(
        FindingCode.LOW_HASH_QUALITY,
        Severity.NOTICE,
        f"The picture has too little detail for reliable matching (PDQ quality {pdq_quality} of "
        "100): a match, or the lack of one, is less certain than usual.",
    )


def _damage_finding(metadata: Metadata) -> Finding | None:
    if not metadata.problems:
        return None
    count = len(metadata.problems)
    return Finding(
        FindingCode.METADATA_DAMAGED,
        Severity.INFO,
        f"Part of the file's metadata is damaged or unreadable ({count} "
        f"problem{'s' if count > 1 else ''}); what could be read is shown.",
    )


def derive_findings(
    metadata: Metadata,
    image: Image.Image,
    *,
    pdq_quality: int | None,
    file_size: int,
    now: datetime | None = None,
    thumbnail_pixels: Image.Image | None = None,
) -> list[Finding]:
    """Findings for one file, most serious first.

    ``image`` is the small decoded picture, upright and RGB. ``now`` fixes the clock for the
    date rules (tests); it defaults to the current time. ``thumbnail_pixels`` are the embedded
    thumbnail's, when the caller decoded them already (off the critical path).
    """
    moment = now or datetime.now(UTC)
    found = [
        _c2pa_finding(metadata),
        _ai_finding(metadata),
        _thumbnail_finding(metadata, image, thumbnail_pixels),
        _gps_finding(metadata),
        _serial_finding(metadata),
        _author_finding(metadata),
        _edited_finding(metadata),
        _dates_finding(metadata, moment),
        _no_metadata_finding(metadata, file_size),
        _hash_quality_finding(pdq_quality),
        _damage_finding(metadata),
    ]
    return sorted((f for f in found if f is not None), key=lambda f: f.severity.rank)
