"""Findings about how far the analysis itself can be trusted: hash quality, damaged metadata."""

from __future__ import annotations

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import Metadata
from checks.signals import PDQ_MIN_QUALITY

__all__ = ["damage_finding", "hash_quality_finding"]


def hash_quality_finding(pdq_quality: int | None) -> Finding | None:
    if pdq_quality is None or pdq_quality >= PDQ_MIN_QUALITY:
        return None
    return Finding(FindingCode.LOW_HASH_QUALITY, Severity.NOTICE, {"quality": pdq_quality})


def damage_finding(metadata: Metadata) -> Finding | None:
    if not metadata.problems:
        return None
    return Finding(
        FindingCode.METADATA_DAMAGED, Severity.INFO, {"problems": len(metadata.problems)}
    )
