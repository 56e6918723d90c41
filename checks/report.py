"""One picture's analysis: decode, hashes, metadata and findings, as a single pure call.

``analyse`` is what runs in a worker process for every tip and every ``tipline check`` file; it
raises only :class:`checks.errors.InvalidInput` for bad input (anything else is a bug and is
wrapped as :class:`checks.errors.CheckError`, so one bad file never stops a batch).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from checks.decode import (
    DEFAULT_LIMITS,
    WORK_SIDE,
    DecodeLimits,
    decode_reduced,
    mime_type,
    open_image,
    shrink,
    upright,
)
from checks.errors import CheckError, TiplineError
from checks.findings import Finding, derive_findings
from checks.local_features import QUERY_SIDE, describe_both, describe_query
from checks.metadata import Metadata, extract_metadata
from checks.metadata.thumbnail import decode_thumbnail
from checks.signals import Fingerprint, Sha256, compute_fingerprint
from checks.views import query_views

__all__ = ["Report", "analyse"]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the checks learned about one picture, before any database lookup."""

    fingerprint: Fingerprint
    metadata: Metadata
    findings: tuple[Finding, ...]
    format: str
    mime_type: str
    width: int
    height: int
    file_size: int


def _helper_thread() -> ThreadPoolExecutor:
    return _helper_thread_of(os.getpid())


@functools.cache
def _helper_thread_of(pid: int) -> ThreadPoolExecutor:
    """One helper thread per process. Pillow's JPEG decoder releases the GIL (decode_for_hashing
    hands it the whole file at once), so metadata and the SHA-256 are done on this thread while
    the pixels decode: a check then costs little more than the 1/8-scale decode itself.
    Keyed by process id: a forked worker must not inherit its parent's (thread-less) pool."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="tipline-metadata")


def _side_work(data: bytes, limits: DecodeLimits) -> tuple[Metadata, str, Image.Image | None]:
    """Everything that needs no main-picture pixels: metadata, SHA-256, thumbnail pixels."""
    metadata = extract_metadata(open_image(data, limits), data)
    sha256 = Sha256.compute(data)
    thumbnail = decode_thumbnail(metadata.thumbnail) if metadata.thumbnail else None
    return metadata, sha256, thumbnail


def _feature_pixels(data: bytes, limits: DecodeLimits, decoded: Image.Image) -> Image.Image:
    """The picture at the local features' scale: decoded again at a finer scale where the
    first decode skipped detail (a JPEG at 1/8), else the pixels already decoded."""
    if max(decoded.size) >= QUERY_SIDE:
        return decoded
    opened = open_image(data, limits)
    if max(opened.size) <= max(decoded.size):
        return decoded
    return decode_reduced(opened, long_side=QUERY_SIDE)


def _with_local(
    fingerprint: Fingerprint, upright_pixels: Image.Image, *, known: bool
) -> Fingerprint:
    if not known:
        return dataclasses.replace(fingerprint, local=describe_query(upright_pixels))
    # The stored features on the helper thread (idle by now) beside the query's: on a free core
    # a tip's analysis takes no longer for them.
    local, stored = describe_both(upright_pixels, _helper_thread())
    return dataclasses.replace(fingerprint, local=local, known_features=stored.to_bytes())


def analyse(
    data: bytes, limits: DecodeLimits = DEFAULT_LIMITS, *, known: bool = False, local: bool = True
) -> Report:
    """Analyse one file's bytes. Raises ``InvalidInput`` subclasses for unusable files.

    ``known``: the picture is to become a known item, so its stored local features
    (:class:`checks.local_features.KnownFeatures`) are computed too. ``local=False`` leaves
    local features out altogether (global hashes only: what benchmarks compare against)."""
    try:
        # Each thread parses the header into its own Image (they are not safe to share), and
        # each checks the limits on it before anything is decoded.
        side_work = _helper_thread().submit(_side_work, data, limits)
        try:
            opened = open_image(data, limits)
            fmt, mime = opened.format or "", mime_type(opened)
            width, height = opened.size
            decoded = decode_reduced(opened)
        finally:
            metadata, sha256, thumbnail = side_work.result()
        pixels = upright(shrink(decoded), metadata.orientation, fmt)
        work = upright(shrink(decoded, WORK_SIDE), metadata.orientation, fmt)
        fingerprint = compute_fingerprint(data, pixels, sha256=sha256)
        fingerprint = dataclasses.replace(fingerprint, views=query_views(pixels, work))
        if local:
            features = upright(_feature_pixels(data, limits, decoded), metadata.orientation, fmt)
            fingerprint = _with_local(fingerprint, features, known=known)
        findings = derive_findings(
            metadata,
            pixels,
            pdq_quality=fingerprint.pdq_quality,
            file_size=len(data),
            thumbnail_pixels=thumbnail,
        )
    except TiplineError:
        raise
    except Exception as exc:  # a bug, not the input's fault: report it, don't crash the batch
        raise CheckError(f"analysis failed unexpectedly: {type(exc).__name__}: {exc}") from exc
    return Report(
        fingerprint=fingerprint,
        metadata=metadata,
        findings=tuple(findings),
        format=fmt,
        mime_type=mime,
        width=width,
        height=height,
        file_size=len(data),
    )
