"""Callback data for inline buttons: short prefixed strings, all defined here.

Telegram allows 64 bytes of callback data; a submission id and a verdict fit easily. The data
comes back from the client and can be forged, so every press is parsed here and role-checked by
the gatekeeper before any handler acts on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checks.verdicts import Verdict

__all__ = [
    "CLAIM_PREFIX",
    "LANGUAGE_PATTERN",
    "LANGUAGE_PREFIX",
    "REVIEW_PATTERN",
    "VERDICT_PREFIX",
    "ReviewAction",
    "claim_data",
    "language_data",
    "parse_language",
    "parse_review_action",
    "verdict_data",
]

VERDICT_PREFIX = "rv:"
CLAIM_PREFIX = "cl:"
#: Every moderator button; the review handlers and the gatekeeper match on it.
REVIEW_PATTERN = r"^(rv|cl):"
#: A tipster's choice of language (anyone may press it: it changes only their own).
LANGUAGE_PREFIX = "lg:"
LANGUAGE_PATTERN = r"^lg:"

_VERDICT_CODES = {
    "a": Verdict.AUTHENTIC,
    "m": Verdict.MISATTRIBUTED,
    "e": Verdict.EDITED,
    "s": Verdict.SYNTHETIC,
    "i": Verdict.INCONCLUSIVE,
    "t": Verdict.STAGED,
    "r": Verdict.SATIRE,
}
_CODE_OF = {v: k for k, v in _VERDICT_CODES.items()}


@dataclass(frozen=True, slots=True)
class ReviewAction:
    """A parsed button press: claim a submission, or give it a verdict."""

    submission_id: int
    verdict: Verdict | None  # None means "claim"


def verdict_data(submission_id: int, verdict: Verdict) -> str:
    return f"{VERDICT_PREFIX}{_CODE_OF[verdict]}:{submission_id}"


def claim_data(submission_id: int) -> str:
    return f"{CLAIM_PREFIX}{submission_id}"


def parse_review_action(data: str | None) -> ReviewAction | None:
    """Parse button data; anything malformed (forged or stale) gives None."""
    if not data or len(data) > 64:
        return None
    try:
        if data.startswith(VERDICT_PREFIX):
            code, _, number = data[len(VERDICT_PREFIX) :].partition(":")
            action = ReviewAction(int(number), _VERDICT_CODES[code])
        elif data.startswith(CLAIM_PREFIX):
            action = ReviewAction(int(data[len(CLAIM_PREFIX) :]), None)
        else:
            return None
    except (KeyError, ValueError):
        return None
    return action if action.submission_id > 0 else None


def language_data(code: str) -> str:
    return f"{LANGUAGE_PREFIX}{code}"


def parse_language(data: str | None, known: Iterable[str]) -> str | None:
    """The language a /language button names, if it is one of ``known`` (forged or stale
    data gives None)."""
    if not data or not data.startswith(LANGUAGE_PREFIX):
        return None
    code = data[len(LANGUAGE_PREFIX) :]
    return code if code in set(known) else None
