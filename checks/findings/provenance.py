"""Findings about how the picture was made or changed: editors, thumbnail, AI, C2PA.

Editing software named in the metadata, an embedded thumbnail that disagrees with the picture,
generative AI the file declares, and its Content Credentials (C2PA).

Thumbnail rule (``THUMBNAIL_MISMATCH``): see :mod:`checks.metadata.thumbnail`. A thumbnail that
is merely a quarter or half turn of the picture (rotated by software that left the preview) is
not reported; mirrored, cropped or different ones are.
"""

from __future__ import annotations

import re

from PIL import Image

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import C2paState, Metadata
from checks.metadata.thumbnail import ThumbnailMatch, compare_thumbnail

__all__ = ["EDITOR_NAMES", "ai_finding", "c2pa_finding", "edited_finding", "thumbnail_finding"]

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

_AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")


def edited_finding(metadata: Metadata) -> Finding | None:
    editors = [name for name in metadata.software_names if _EDITOR.search(name)]
    if not editors:
        return None
    return Finding(FindingCode.EDITED_WITH_SOFTWARE, Severity.NOTICE, {"software": editors[:3]})


def thumbnail_finding(
    metadata: Metadata, image: Image.Image, decoded: Image.Image | None
) -> Finding | None:
    if metadata.thumbnail is None:
        return None
    comparison = compare_thumbnail(metadata.thumbnail, image, metadata.orientation, decoded=decoded)
    if comparison is None:
        return None
    if comparison.match is ThumbnailMatch.MIRRORED:
        shows = "mirrored"
    elif comparison.match is ThumbnailMatch.DIFFERENT:
        shows = "other_frame" if comparison.aspect_changed else "other_picture"
    else:
        return None
    return Finding(FindingCode.THUMBNAIL_MISMATCH, Severity.WARNING, {"thumbnail": shows})


def ai_finding(metadata: Metadata) -> Finding | None:
    declared = [metadata.xmp.digital_source_type or "", *metadata.c2pa.digital_source_types]
    sources = [s for s in declared if any(s.endswith(kind) for kind in _AI_SOURCE_TYPES)]
    if not sources:
        return None
    kind = sources[0].rsplit("/", 1)[-1]
    return Finding(FindingCode.AI_GENERATED_DECLARED, Severity.WARNING, {"source_type": kind})


def c2pa_finding(metadata: Metadata) -> Finding | None:
    c2pa = metadata.c2pa
    if c2pa.state is C2paState.VALID:
        severity = Severity.INFO if c2pa.trusted else Severity.NOTICE
        params = {
            "trusted": bool(c2pa.trusted),
            "generator": c2pa.claim_generator,
            "signer": c2pa.issuer,
        }
        return Finding(FindingCode.C2PA_VALID, severity, params)
    if c2pa.state is C2paState.INVALID:
        failures = list(dict.fromkeys(c2pa.failure_codes))
        return Finding(FindingCode.C2PA_INVALID, Severity.WARNING, {"failures": failures})
    if c2pa.state is C2paState.REMOTE:
        return Finding(FindingCode.C2PA_REMOTE, Severity.NOTICE, {"url": c2pa.remote_url})
    return None
