"""Findings about how far the analysis itself can be trusted: hash quality, damaged metadata."""

from __future__ import annotations

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import Metadata
from checks.signals import PDQ_MIN_QUALITY

__all__ = ["damage_finding", "hash_quality_finding"]


def hash_quality_finding(pdq_quality: int | None) -> Finding | None:
    if pdq_quality is None or pdq_quality >= PDQ_MIN_QUALITY:
        return None
    return Finding(
        FindingCode.LOW_HASH_QUALITY,
        Severity.NOTICE,
        f"The picture has too little detail for reliable matching (PDQ quality {pdq_quality} of "
        "100): a match, or the lack of one, is less certain than usual.",
    )


def damage_finding(metadata: Metadata) -> Finding | None:
    if not metadata.problems:
        return None
    count = len(metadata.problems)
    return Finding(
        FindingCode.METADATA_DAMAGED,
        Severity.INFO,
        f"Part of the file's metadata is damaged or unreadable ({count} "
        f"problem{'s' if count > 1 else ''}); what could be read is shown.",
    )
