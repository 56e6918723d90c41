"""The verdict vocabulary, aligned with schema.org ClaimReview / MediaReview ratings."""

from __future__ import annotations

from enum import StrEnum

from checks.errors import InvalidInput

__all__ = ["SubmissionStatus", "Verdict"]


class Verdict(StrEnum):
    """A moderator's verdict on a picture. The value is what is stored and exported."""

    AUTHENTIC = "authentic"
    MISATTRIBUTED = "misattributed"
    EDITED = "edited"
    STAGED = "staged"
    SYNTHETIC = "synthetic"
    SATIRE = "satire"
    INCONCLUSIVE = "inconclusive"

    @property
    def media_review_rating(self) -> str:
        """The schema.org MediaReview ``mediaAuthenticityCategory`` for exchange."""
        return _MEDIA_REVIEW[self]

    @property
    def is_debunked(self) -> bool:
        """Whether a copy of this picture should be flagged as false or misleading."""
        return self in _DEBUNKED

    @classmethod
    def parse(cls, value: str) -> Verdict:
        """Accept any case and surrounding space; refuse unknown words with the list."""
        norm = (value or "").strip().lower()
        try:
            return cls(norm)
        except ValueError:
            known = ", ".join(v.value for v in cls)
            raise InvalidInput(f"unknown verdict {value!r}; use one of: {known}") from None


_MEDIA_REVIEW = {
    Verdict.AUTHENTIC: "OriginalMediaContent",
    Verdict.MISATTRIBUTED: "DecontextualizedContent",
    Verdict.EDITED: "EditedOrCroppedContent",
    Verdict.STAGED: "StagedContent",
    Verdict.SYNTHETIC: "TransformedContent",
    Verdict.SATIRE: "SatireOrParodyContent",
    Verdict.INCONCLUSIVE: "",
}
_DEBUNKED = frozenset(
    {Verdict.MISATTRIBUTED, Verdict.EDITED, Verdict.STAGED, Verdict.SYNTHETIC, Verdict.SATIRE}
)


class SubmissionStatus(StrEnum):
    """Where a tip stands. ``received`` is written before any analysis, so nothing is lost."""

    RECEIVED = "received"
    NEW = "new"
    IN_REVIEW = "in_review"
    MATCHED = "matched"
    REVIEWED = "reviewed"
    FAILED = "failed"
