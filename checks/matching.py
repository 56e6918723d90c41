"""Matching rules: which candidate hashes count as the same picture, and how sure that is.

The near-duplicate index (in ``storage/``) finds candidates cheaply; these rules decide. Keeping
the decision here means one definition of "a match", and one of "how sure", whatever backend
or index served it and whichever surface (tipster card, review card, terminal, JSON) shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from checks.signals import Pdq, Phash
from checks.signals.fingerprint import Region, View
from checks.verdicts import Verdict

__all__ = [
    "Candidate",
    "Confidence",
    "Match",
    "MatchKind",
    "Region",
    "Way",
    "accept",
    "confidence_of",
    "judge",
    "rank_key",
]


class MatchKind(StrEnum):
    """How the known picture appears in the submitted one. Values are stored and printed."""

    EXACT = "exact"  # the same file
    NEAR = "near"  # the whole picture, re-encoded, resized or retouched
    MIRRORED = "mirrored"  # flipped left to right (or top to bottom)
    ROTATED = "rotated"  # turned by a quarter, a half or three quarters
    FRAMED = "framed"  # inside flat borders or letterbox bars
    CAPTIONED = "captioned"  # with a band of text above or below it
    SCREENSHOT = "screenshot"  # inside a screenshot (of a chat, a feed, a page)


class Confidence(StrEnum):
    """How sure Tipline is that a picture is a known one. Only ``certain`` lets a tipster be
    told "known"; ``similar`` goes to a human; ``none`` means nothing known is near."""

    CERTAIN = "certain"
    SIMILAR = "similar"
    NONE = "none"

    @property
    def rank(self) -> int:
        """Surer first."""
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {Confidence.CERTAIN: 0, Confidence.SIMILAR: 1, Confidence.NONE: 2}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored item whose hashes are close to the query's, before the rules decide.

    ``pdq_distance`` / ``phash_distance`` are None when either side lacks that hash.
    ``mirrored`` means the distances were measured against the query's mirror image.
    """

    item_id: int
    exact: bool
    mirrored: bool
    pdq_distance: int | None
    phash_distance: int | None
    item_pdq_quality: int | None


@dataclass(frozen=True, slots=True)
class Match:
    """A known item recognised in the query, with how it was recognised."""

    item_id: int
    kind: MatchKind
    signal: str
    distance: int
    verdict: Verdict
    title: str
    #: What the newsroom recorded with the verdict, for the cards.
    fact_check_url: str | None = None
    original_date: str | None = None
    original_place: str | None = None
    #: Where the known picture sits in the submitted one, when it fills only part of it.
    region: Region | None = None

    @property
    def confidence(self) -> Confidence:
        return confidence_of(self)

    def as_dict(self) -> dict[str, object]:
        """One entry of ``matches`` in ``tipline check --json`` (and in a stored tip)."""
        return {
            "item_id": self.item_id,
            "verdict": self.verdict.value,
            "title": self.title,
            "kind": self.kind.value,
            "signal": self.signal,
            "distance": self.distance,
            "confidence": self.confidence.value,
            "fact_check_url": self.fact_check_url,
            "original_date": self.original_date,
            "original_place": self.original_place,
            "region": list(self.region) if self.region else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Match:
        """The inverse of :meth:`as_dict` (``confidence`` is decided again, never read)."""
        return cls(
            item_id=int(str(data["item_id"])),
            kind=MatchKind(data["kind"]),
            signal=str(data["signal"]),
            distance=int(str(data["distance"])),
            verdict=Verdict(data["verdict"]),
            title=str(data.get("title") or ""),
            fact_check_url=_text_or_none(data.get("fact_check_url")),
            original_date=_text_or_none(data.get("original_date")),
            original_place=_text_or_none(data.get("original_place")),
            region=_region(data.get("region")),
        )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _region(value: object) -> Region | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    left, top, right, bottom = (float(v) for v in value)
    return (left, top, right, bottom)


@dataclass(frozen=True, slots=True)
class Way:
    """How one candidate was recognised: what :func:`judge` accepted."""

    kind: MatchKind
    signal: str
    distance: int
    region: Region | None = None


def judge(
    candidate: Candidate, query_pdq_quality: int | None, view: View | None = None
) -> Way | None:
    """Whether a candidate the index found for the query (or for one of its views) is the same
    picture, and how it appears. A view counts only through PDQ at usable quality: its hash is
    of a turned or reframed picture, and pHash was not computed for it."""
    decision = accept(candidate, query_pdq_quality)
    if decision is None:
        return None
    signal, distance = decision
    if view is not None:
        return Way(MatchKind(view.kind), signal, distance, view.region) if signal == "pdq" else None
    if candidate.exact:
        return Way(MatchKind.EXACT, signal, distance)
    return Way(MatchKind.MIRRORED if candidate.mirrored else MatchKind.NEAR, signal, distance)


def confidence_of(match: Match) -> Confidence:
    """The one decision of how sure a match is.

    ``certain``: the identical file, or PDQ within Meta's threshold at usable quality on both
    sides (:func:`accept` only lets PDQ decide then), whether of the whole picture or of the
    query turned, flipped or cut out of its frame (each view is hashed from its own pixels).
    ``similar``: pHash alone, when a picture is too flat for PDQ to vouch for it; a person
    confirms it.
    """
    if match.kind is MatchKind.EXACT or match.signal == "pdq":
        return Confidence.CERTAIN
    return Confidence.SIMILAR


def accept(candidate: Candidate, query_pdq_quality: int | None) -> tuple[str, int] | None:
    """Decide one candidate: ``(signal, distance)`` if it is the same picture, else None.

    PDQ decides when both hashes are of usable quality (Meta's operating point). When either
    side's quality is low, or PDQ is missing, pHash decides with its calibrated threshold.
    """
    if candidate.exact:
        return ("sha256", 0)
    # A stored hash of unknown quality (imported by hash alone) is trusted: exchanges such as
    # ThreatExchange share only PDQ hashes that passed the quality gate.
    item_quality_ok = candidate.item_pdq_quality is None or Pdq.usable(candidate.item_pdq_quality)
    pdq_ok = (
        candidate.pdq_distance is not None and Pdq.usable(query_pdq_quality) and item_quality_ok
    )
    if pdq_ok:
        assert candidate.pdq_distance is not None
        if candidate.pdq_distance <= Pdq.threshold:
            return ("pdq", candidate.pdq_distance)
        return None
    if candidate.phash_distance is not None and candidate.phash_distance <= Phash.threshold:
        return ("phash", candidate.phash_distance)
    return None


def rank_key(match: Match) -> tuple[int, int, float]:
    """Surer first; then by kind in :class:`MatchKind`'s order (the whole picture before a
    transformed or reframed one); closer first within each."""
    order = list(MatchKind).index(match.kind)
    bits = Pdq.bits if match.signal == "pdq" else Phash.bits if match.signal == "phash" else 1
    return (match.confidence.rank, order, match.distance / bits)
