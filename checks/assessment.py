"""One picture as every surface shows it: what the checks found and which known items matched.

An :class:`Assessment` is the one result the tipster card, the review card, the terminal card
and ``tipline check --json`` all render, so they cannot disagree about how sure a match is. It
owns its JSON form (what ``check --json`` prints and what a tip stores), and reads it back
after a restart without the database being asked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.findings import Finding
from checks.matching import Confidence, Match, rank_key
from checks.report import Report
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict

__all__ = ["Assessment", "Side", "best_match", "confidence_of_all", "disputed_sides", "tip_status"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """A picture's hashes, description, findings and matches (best first)."""

    fingerprint: Fingerprint
    format: str
    mime_type: str
    width: int
    height: int
    file_size: int
    #: Keyed as in ExifTool's oracle (``make``, ``model``, ``gps_latitude``, ..., ``c2pa``).
    metadata: Mapping[str, Any]
    findings: tuple[Finding, ...]
    matches: tuple[Match, ...]

    @classmethod
    def of(cls, report: Report, matches: Iterable[Match]) -> Assessment:
        return cls(
            fingerprint=report.fingerprint,
            format=report.format,
            mime_type=report.mime_type,
            width=report.width,
            height=report.height,
            file_size=report.file_size,
            metadata=report.metadata.to_oracle_dict(),
            findings=report.findings,
            matches=tuple(sorted(matches, key=lambda m: (rank_key(m), m.item_id))),
        )

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def confidence(self) -> Confidence:
        best = self.best
        return Confidence.NONE if best is None else best.confidence

    @property
    def verdict(self) -> Verdict | None:
        """The best match's verdict; None when nothing known matched."""
        best = self.best
        return None if best is None else best.verdict

    @property
    def disputed(self) -> tuple[Side, ...]:
        """Each newsroom's verdict when newsrooms disagree on this picture; empty otherwise."""
        return disputed_sides(self.matches)

    @property
    def camera(self) -> str:
        return " ".join(str(self.metadata[k]) for k in ("make", "model") if self.metadata.get(k))

    @property
    def summary(self) -> str:
        """One line a moderator reads first, e.g. ``JPEG 4032x3024, Apple iPhone 13 Pro``."""
        size = f"{self.format} {self.width}x{self.height}"
        return f"{size}, {self.camera}" if self.camera else size

    def as_dict(self) -> dict[str, Any]:
        """The fields of ``tipline check --json`` (without ``file``); also what a tip stores."""
        fp = self.fingerprint
        return {
            "sha256": fp.sha256,
            "pdq": fp.pdq,
            "pdq_quality": fp.pdq_quality,
            "pdq_mirrored": fp.pdq_mirrored,
            "phash": fp.phash,
            "phash_mirrored": fp.phash_mirrored,
            "format": self.format,
            "mime_type": self.mime_type,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
            "metadata": dict(self.metadata),
            "findings": [f.as_dict() for f in self.findings],
            "matches": [m.as_dict() for m in self.matches],
            "confidence": self.confidence.value,
            "verdict": self.verdict.value if self.verdict else "new",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assessment:
        """The inverse of :meth:`as_dict`; ``confidence`` and ``verdict`` are decided again.
        Findings stored before they carried parameters keep their English sentence."""
        return cls(
            fingerprint=Fingerprint(
                sha256=data.get("sha256"),
                pdq=data.get("pdq"),
                pdq_quality=data.get("pdq_quality"),
                phash=data.get("phash"),
                pdq_mirrored=data.get("pdq_mirrored"),
                phash_mirrored=data.get("phash_mirrored"),
            ),
            format=str(data.get("format") or ""),
            mime_type=str(data.get("mime_type") or ""),
            width=int(data.get("width") or 0),
            height=int(data.get("height") or 0),
            file_size=int(data.get("file_size") or 0),
            metadata=dict(data.get("metadata") or {}),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            matches=tuple(Match.from_dict(m) for m in data.get("matches") or ()),
        )


@dataclass(frozen=True, slots=True)
class Side:
    """One newsroom's word in a dispute: ``newsroom`` None is this newsroom."""

    newsroom: str | None
    verdict: Verdict


def disputed_sides(matches: Iterable[Match]) -> tuple[Side, ...]:
    """The sides when the newsrooms whose items are certainly this picture give different
    verdicts (ours first, then partners by name); empty when they agree. A partner trusted
    only for review is never certain, so it never disputes on a tipster's card."""
    sides = {Side(m.newsroom, m.verdict) for m in matches if m.confidence is Confidence.CERTAIN}
    if len({side.verdict for side in sides}) < 2:
        return ()
    return tuple(sorted(sides, key=lambda s: (s.newsroom is not None, s.newsroom or "", s.verdict)))


def best_match(assessments: Iterable[Assessment]) -> Match | None:
    """The best match over several pictures (an album): surest, then closest."""
    found = [a.best for a in assessments if a.best is not None]
    return min(found, key=lambda m: (rank_key(m), m.item_id)) if found else None


def confidence_of_all(assessments: Iterable[Assessment]) -> Confidence:
    best = best_match(assessments)
    return Confidence.NONE if best is None else best.confidence


def tip_status(assessments: Sequence[Assessment | None]) -> SubmissionStatus:
    """What a tip's status is once its pictures are analysed (None: a picture that failed).

    ``matched`` only when every picture that could be analysed is the identical file of a known
    item: nothing about it is new. A near copy, even a certain one, is a new variant worth a
    moderator's look (a crop or an edit may change the story), so it is ``new`` and queued.
    """
    analysed = [a for a in assessments if a is not None]
    if not analysed:
        return SubmissionStatus.FAILED
    if any(a.disputed for a in analysed):
        return SubmissionStatus.NEW  # newsrooms disagree: a moderator looks
    if all(a.best is not None and a.best.signal == "sha256" for a in analysed):
        return SubmissionStatus.MATCHED
    return SubmissionStatus.NEW
