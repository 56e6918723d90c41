"""All the rules applied to one file, their findings most serious first.

Rules look only at the extracted metadata, the small decoded picture and the hash quality; none
goes online.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PIL import Image

from checks.findings.dates import dates_finding
from checks.findings.model import Finding
from checks.findings.platform import no_metadata_finding
from checks.findings.privacy import author_finding, gps_finding, serial_finding
from checks.findings.provenance import ai_finding, c2pa_finding, edited_finding, thumbnail_finding
from checks.findings.reliability import damage_finding, hash_quality_finding
from checks.metadata import Metadata

__all__ = ["derive_findings"]


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
        c2pa_finding(metadata),
        ai_finding(metadata),
        thumbnail_finding(metadata, image, thumbnail_pixels),
        gps_finding(metadata),
        serial_finding(metadata),
        author_finding(metadata),
        edited_finding(metadata),
        dates_finding(metadata, moment),
        no_metadata_finding(metadata, file_size),
        hash_quality_finding(pdq_quality),
        damage_finding(metadata),
    ]
    return sorted((f for f in found if f is not None), key=lambda f: f.severity.rank)
