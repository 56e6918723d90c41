"""C2PA Content Credentials, verified offline.

A remote manifest is never fetched: fetching would tell the manifest's host that someone,
somewhere, is looking at this picture, and a tip line must not leak that. c2pa-python is told so
through its settings, and then reports such files with a "Remote:" error naming the URL, which
becomes the ``remote`` state here.

Most files carry no manifest at all, so a cheap look at the container comes first: the chunk
where each format keeps its manifest store (JPEG APP11, PNG ``caBX``, WebP ``C2PA``, a HEIF
``uuid`` box). Only files that pass reach the SDK. Measured: the walk costs under 10 us on a
4 MB JPEG or a 2 MB PNG, against 0.3-2 ms for the SDK to report "no manifest".
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from typing import Any

import c2pa as c2pa_sdk

from checks.metadata.containers import (
    APP11,
    iter_bmff_boxes,
    iter_jpeg_segments,
    iter_png_chunks,
    iter_riff_chunks,
)
from checks.metadata.model import C2paState, ContentCredentials

__all__ = ["C2PA_MIME_TYPES", "might_carry_manifest", "read_content_credentials"]

#: Picture formats c2pa-python reads (a subset of ``Reader.get_supported_mime_types()``).
C2PA_MIME_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/tiff", "image/heic", "image/heif",
     "image/avif", "image/gif"}
)  # fmt: skip

_URL = re.compile(r"https?://[^\s\"'<>()]+")
_STATES = {"valid": C2paState.VALID, "trusted": C2paState.VALID, "invalid": C2paState.INVALID}
_ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")
_NOT_FETCHED = "must fetch remote manifests"
_FETCH_ATTEMPTED = "c2pa: the SDK tried to fetch a remote manifest (remote_manifest_fetch not off?)"


@cache
def _context() -> c2pa_sdk.Context:
    """One SDK context per process, with remote manifest fetching switched off."""
    settings = c2pa_sdk.Settings.from_dict({"verify": {"remote_manifest_fetch": False}})
    return c2pa_sdk.Context(settings)


def might_carry_manifest(data: bytes, mime_type: str | None, provenance: str | None) -> bool:
    """Whether asking the SDK could find anything: an embedded JUMBF store or a remote pointer."""
    if mime_type not in C2PA_MIME_TYPES:
        return False
    if provenance:
        return True
    if mime_type == "image/jpeg":
        return any(segment.marker == APP11 for segment in iter_jpeg_segments(data))
    if mime_type == "image/png":
        return b"caBX" in iter_png_chunks(data)
    if mime_type == "image/webp":
        return b"C2PA" in iter_riff_chunks(data)
    if mime_type in ("image/heic", "image/heif", "image/avif"):
        return b"uuid" in iter_bmff_boxes(data)
    # TIFF and GIF keep the store in a tag or an application extension: look for its label.
    return b"c2pa" in data


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    generator = manifest.get("claim_generator")
    if isinstance(generator, str) and generator:
        return generator
    info = manifest.get("claim_generator_info")
    if isinstance(info, list):
        parts = [
            f"{item.get('name')}/{item.get('version')}" if item.get("version") else item["name"]
            for item in info
            if isinstance(item, dict) and item.get("name")
        ]
        return " ".join(parts) or None
    return None


def _digital_source_types(manifest: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or assertion.get("label") not in _ACTION_LABELS:
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            source = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(source, str):
                found.append(source)
    return tuple(dict.fromkeys(found))


def _from_report(report: dict[str, Any]) -> tuple[ContentCredentials, tuple[str, ...]]:
    state_name = str(report.get("validation_state") or "")
    state = _STATES.get(state_name.lower())
    if state is None:
        return ContentCredentials(), (f"c2pa: unknown validation state {state_name!r}",)
    codes = tuple(
        str(status.get("code"))
        for status in report.get("validation_status") or []
        if isinstance(status, dict) and status.get("code")
    )
    manifests = report.get("manifests") or {}
    manifest = manifests.get(report.get("active_manifest")) or {}
    signature = manifest.get("signature_info") or {}
    credentials = ContentCredentials(
        state=state,
        failure_codes=codes,
        claim_generator=_claim_generator(manifest),
        issuer=signature.get("issuer"),
        digital_source_types=_digital_source_types(manifest),
    )
    return credentials, ()


def _from_error(
    exc: Exception, provenance: str | None
) -> tuple[ContentCredentials, tuple[str, ...]]:
    message = str(exc)
    if message.startswith("Remote"):
        match = _URL.search(message)
        url = match.group(0) if match else provenance
        # With fetching off the SDK says it "must fetch"; any other remote error means it tried.
        attempted = () if _NOT_FETCHED in message else (_FETCH_ATTEMPTED,)
        return ContentCredentials(state=C2paState.REMOTE, remote_url=url), attempted
    if "ManifestNotFound" in type(exc).__name__ or message.startswith("ManifestNotFound"):
        return ContentCredentials(), ()
    first_line = message.splitlines()[0][:200] if message else type(exc).__name__
    return ContentCredentials(), (f"c2pa: could not read the manifest ({first_line})",)


def read_content_credentials(
    data: bytes, mime_type: str | None, *, provenance: str | None = None
) -> tuple[ContentCredentials, tuple[str, ...]]:
    """Verify the file's Content Credentials offline; never raises, never goes online."""
    if not might_carry_manifest(data, mime_type, provenance):
        return ContentCredentials(), ()
    try:
        reader = c2pa_sdk.Reader(
            format_or_path=mime_type, stream=io.BytesIO(data), context=_context()
        )
    except Exception as exc:  # the SDK raises C2paError subclasses and, rarely, others
        return _from_error(exc, provenance)
    try:
        report = json.loads(reader.json())
    except Exception as exc:  # a manifest that parses but cannot be reported is still damage
        return _from_error(exc, provenance)
    finally:
        reader.close()
    if not isinstance(report, dict):
        return ContentCredentials(), ("c2pa: unexpected report shape",)
    return _from_report(report)
