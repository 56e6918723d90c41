"""Matching rules: which candidate hashes count as the same picture, and the resulting verdict.

The near-duplicate index (in ``storage/``) finds candidates cheaply; these rules decide. Keeping
the decision here means one definition of "a match" whatever backend or index served it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from checks.signals import Fingerprint, Pdq, Phash
from checks.verdicts import Verdict

__all__ = [
    "Candidate",
    "KnownItemLookup",
    "Match",
    "MatchKind",
    "accept",
    "overall_verdict",
    "rank_key",
]


class MatchKind(StrEnum):
    EXACT = "exact"
    NEAR = "near"
    MIRRORED = "mirrored"


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

    def as_dict(self) -> dict[str, object]:
        return {
            "item_id": self.item_id,
            "verdict": self.verdict.value,
            "title": self.title,
            "kind": self.kind.value,
            "signal": self.signal,
            "distance": self.distance,
        }


class KnownItemLookup(Protocol):
    """What the checks need from the database: known items near a fingerprint."""

    async def lookup(self, query: Fingerprint) -> list[Match]: ...


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


def rank_key(match: Match) -> tuple[int, float]:
    """Exact first, then direct near copies, then mirrored; closer first within each."""
    order = {MatchKind.EXACT: 0, MatchKind.NEAR: 1, MatchKind.MIRRORED: 2}[match.kind]
    bits = Pdq.bits if match.signal == "pdq" else Phash.bits if match.signal == "phash" else 1
    return (order, match.distance / bits)


def overall_verdict(matches: list[Match]) -> str:
    """The best match's verdict, or ``new`` when nothing known matched."""
    if not matches:
        return "new"
    return min(matches, key=rank_key).verdict.value
