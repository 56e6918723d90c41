"""One picture's analysis: decode, hashes, metadata and findings, as a single pure call.

``analyse`` is what runs in a worker process for every tip and every ``tipline check`` file; it
raises only :class:`checks.errors.InvalidInput` for bad input (anything else is a bug and is
wrapped as :class:`checks.errors.CheckError`, so one bad file never stops a batch).
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.decode import DEFAULT_LIMITS, DecodeLimits, decode_for_hashing, mime_type, open_image
from checks.errors import CheckError, TiplineError
from checks.findings import Finding, derive_findings
from checks.metadata import Metadata, extract_metadata
from checks.signals import Fingerprint, compute_fingerprint

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

    def as_dict(self) -> dict[str, object]:
        """The hash, metadata and findings fields of ``tipline check --json``."""
        fp = self.fingerprint
        return {
            "sha256": fp.sha256,
            "pdq": fp.pdq,
            "pdq_quality": fp.pdq_quality,
            "pdq_mirrored": fp.pdq_mirrored,
            "phash": fp.phash,
            "format": self.format,
            "mime_type": self.mime_type,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
            "metadata": self.metadata.to_oracle_dict(),
            "findings": [f.as_dict() for f in self.findings],
        }


def analyse(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> Report:
    """Analyse one file's bytes. Raises ``InvalidInput`` subclasses for unusable files."""
    try:
        opened = open_image(data, limits)
        fmt, mime = opened.format or "", mime_type(opened)
        width, height = opened.size
        metadata = extract_metadata(opened, data)  # header only: before draft() shrinks it
        pixels = decode_for_hashing(opened)
        fingerprint = compute_fingerprint(data, pixels)
        findings = derive_findings(
            metadata, pixels, pdq_quality=fingerprint.pdq_quality, file_size=len(data)
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
