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
_C2PA_CODE_WORDS = {
    "assertion.dataHash.mismatch": "the picture was changed after signing",
    "claimSignature.mismatch": "the signature does not match the claim",
    "signingCredential.untrusted": "the signer is not on a trust list",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired",
}


def edited_finding(metadata: Metadata) -> Finding | None:
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


def thumbnail_finding(
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


def ai_finding(metadata: Metadata) -> Finding | None:
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


def c2pa_finding(metadata: Metadata) -> Finding | None:
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
