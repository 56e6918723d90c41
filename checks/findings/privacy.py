"""Findings about what the file gives away about its source: place, camera serial, author."""

from __future__ import annotations

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import Metadata

__all__ = ["author_finding", "gps_finding", "serial_finding"]


def gps_finding(metadata: Metadata) -> Finding | None:
    gps = metadata.exif.gps
    if gps is None:
        return None
    return Finding(
        FindingCode.GPS_PRESENT,
        Severity.WARNING,
        {"latitude": gps.latitude, "longitude": gps.longitude},
    )


def serial_finding(metadata: Metadata) -> Finding | None:
    serial = metadata.serial_number
    if not serial:
        return None
    return Finding(FindingCode.SERIAL_NUMBER_PRESENT, Severity.WARNING, {"serial": serial})


def _distinct_names(names: tuple[str | None, ...]) -> list[str]:
    """Non-blank names, first seen first, dropping any that another one merely extends.

    IPTC caps a by-line at 32 bytes, so the same author often appears cut short in IPTC and in
    full in XMP; naming them twice would read as two people.
    """
    cleaned = list(dict.fromkeys(name.strip() for name in names if name and name.strip()))
    return [n for n in cleaned if not any(o != n and o.startswith(n) for o in cleaned)]


def author_finding(metadata: Metadata) -> Finding | None:
    named = _distinct_names((metadata.exif.artist, *metadata.iptc.bylines, *metadata.xmp.creators))
    if not named:
        return None
    return Finding(FindingCode.AUTHOR_NAMED, Severity.WARNING, {"names": named[:3]})
