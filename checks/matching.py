"""Matching rules: which candidate hashes count as the same picture, and how sure that is.

The near-duplicate index (in ``storage/``) finds candidates cheaply; these rules decide. Keeping
the decision here means one definition of "a match", and one of "how sure", whatever backend
or index served it and whichever surface (tipster card, review card, terminal, JSON) shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from checks.alignment import Alignment
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
    "judge_alignment",
    "local_confidence",
    "rank_key",
    "same_picture",
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
    CROPPED = "cropped"  # a part of it, cut out
    PERSPECTIVE = "perspective"  # photographed at an angle (a screen, a print)


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


class Candidate(NamedTuple):
    """A stored item whose hashes are close to the query's, before the rules decide.

    ``exact``: the database holds the query's very file (same SHA-256); the index never says
    so. ``pdq_distance`` / ``phash_distance`` are None when either side lacks that hash.
    ``mirrored`` means the distances were measured against the query's mirror image.

    A named tuple, not a frozen dataclass: the index makes one per item near a query, often
    dozens a look-up (a picture that circulates in many versions), and a tuple is made in a
    fifth of the time.
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
    #: A partner newsroom's item: its name, and whether its word may reach tipsters (trust
    #: ``certain``) or only moderators (trust ``review``). None: this newsroom's own item.
    newsroom: str | None = None
    trusted: bool = True

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
            "newsroom": self.newsroom,
            "trusted": self.trusted,
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
            newsroom=_text_or_none(data.get("newsroom")),
            trusted=bool(data.get("trusted", True)),
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
    if match.newsroom is not None and not match.trusted:
        # A partner whose word only informs moderators: never "known" to a tipster.
        return Confidence.SIMILAR
    return Confidence.CERTAIN if same_picture(match) else Confidence.SIMILAR


def same_picture(match: Match) -> bool:
    """Whether the match is certainly the known picture, whoever's word it carries: what a
    moderator's verdict on the query also says about that item (an opinion on a partner's)."""
    return match.kind is MatchKind.EXACT or match.signal in ("pdq", LOCAL_CERTAIN)


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
    bits = _BITS.get(match.signal, 1)
    return (match.confidence.rank, order, match.distance / bits)


#: The signals of a match found by aligning local features: the pixels agreed strongly enough
#: to be sure, or only enough for a person to look. Their distance is 100 x (1 - correlation).
LOCAL_CERTAIN = "local"
LOCAL_SIMILAR = "local-weak"
_BITS = {"pdq": Pdq.bits, "phash": Phash.bits, LOCAL_CERTAIN: 100, LOCAL_SIMILAR: 100}

#: Calibrated on edits of corpus photos and on hard negatives (docs/calibration.md): inliers
#: of the homography, correlation of the aligned pixels, and the worst tile's residual against
#: its own detail (a copy stays under 0.25 in nine cases of ten; a moved subject goes above).
_CERTAIN_INLIERS = 20
_CERTAIN_CORRELATION = 0.9
#: Fewer inliers do when the pixels agree even more (a photo small in a screenshot has few
#: keypoints, but its aligned pixels leave no doubt).
_CERTAIN_FEW_INLIERS = 12
_CERTAIN_FEW_CORRELATION = 0.95
_CERTAIN_FEW_WORST_TILE = 0.15
_CERTAIN_WORST_TILE = 0.2
_CERTAIN_MIN_TILES = 8
_SIMILAR_INLIERS = 12
_SIMILAR_CORRELATION = 0.5
#: As few inliers as a placement can have (a photo ~100 px wide in a screenshot, a flat one)
#: do for a person to look only when one picture holds the other and the pixels agree as a
#: certain match's do, tile by tile.
_SIMILAR_FEW_INLIERS = 10
_SIMILAR_FEW_CORRELATION = 0.95
_SIMILAR_FEW_AGREEING = 0.9
#: One picture holds the other: the query inside the known one (a crop keeps at least
#: _CROP_SHOWN of it) or the known one inside the query (a frame, a screenshot).
_FILLED = 0.85
_CROP_SHOWN = 0.5
_WHOLE = 0.9
#: Beyond this departure from a flat copy, the copy was photographed at an angle.
_PERSPECTIVE = 0.15
#: A turn beyond this many degrees (and not a quarter) is a tilt.
_TILT = 1.5
#: The known picture filling less than this share of the query is inside a screenshot.
_SCREENSHOT = 0.5


def _contained(alignment: Alignment) -> bool:
    crop = alignment.query_filled >= _FILLED and alignment.known_shown >= _CROP_SHOWN
    return crop or alignment.known_shown >= _WHOLE


def local_confidence(alignment: Alignment) -> Confidence:
    """How sure an alignment makes us. ``certain`` needs one picture inside the other, many
    inliers, and the pixels agreeing both overall and in every tile: two photographs of one
    scene overlap without one holding the other, and a moved subject or another background
    breaks a tile. Anything weaker that still lines up is ``similar``, for a person."""
    if (
        _contained(alignment)
        and alignment.correlation >= _CERTAIN_CORRELATION
        and (
            alignment.inliers >= _CERTAIN_INLIERS
            or (
                alignment.inliers >= _CERTAIN_FEW_INLIERS
                and alignment.correlation >= _CERTAIN_FEW_CORRELATION
                and alignment.worst_tile <= _CERTAIN_FEW_WORST_TILE
            )
        )
        and alignment.tiles >= _CERTAIN_MIN_TILES
        and alignment.worst_tile <= _CERTAIN_WORST_TILE
    ):
        return Confidence.CERTAIN
    if alignment.inliers >= _SIMILAR_INLIERS and alignment.correlation >= _SIMILAR_CORRELATION:
        return Confidence.SIMILAR
    if (
        alignment.inliers >= _SIMILAR_FEW_INLIERS
        and _contained(alignment)
        and alignment.correlation >= _SIMILAR_FEW_CORRELATION
        and alignment.tiles >= _CERTAIN_MIN_TILES
        and alignment.tiles_agreeing >= _SIMILAR_FEW_AGREEING
    ):
        return Confidence.SIMILAR
    return Confidence.NONE


def _local_kind(alignment: Alignment) -> MatchKind:
    if alignment.perspective > _PERSPECTIVE:
        return MatchKind.PERSPECTIVE
    turn = abs(alignment.angle) % 90
    if min(turn, 90 - turn) > _TILT or abs(alignment.angle) > 45:
        return MatchKind.ROTATED
    if alignment.known_shown < _WHOLE:
        return MatchKind.CROPPED
    if alignment.query_filled < _SCREENSHOT:
        return MatchKind.SCREENSHOT
    if alignment.query_filled < _WHOLE:
        return MatchKind.FRAMED
    return MatchKind.NEAR


def judge_alignment(alignment: Alignment) -> Way | None:
    """The way an aligned known picture was recognised, or None when it was not."""
    confidence = local_confidence(alignment)
    if confidence is Confidence.NONE:
        return None
    signal = LOCAL_CERTAIN if confidence is Confidence.CERTAIN else LOCAL_SIMILAR
    distance = round(100 * (1 - alignment.correlation))
    whole = (0.0, 0.0, 1.0, 1.0)
    region = None if alignment.region == whole else alignment.region
    return Way(_local_kind(alignment), signal, distance, region)
