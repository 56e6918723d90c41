"""The words every surface uses for a confidence, a verdict and a kind of match.

The tipster card, the review card and the terminal card all take their words from here, so a
match that one calls "similar" no other calls "known". Plain text: each surface adds its own
markup (HTML for Telegram, styles for the terminal).
"""

from __future__ import annotations

from checks.matching import Confidence, Match, MatchKind
from checks.verdicts import Verdict

__all__ = ["CLOSENESS", "VERDICT_WORDS", "headline_words", "is_known", "moderator_label"]

CLOSENESS = {
    MatchKind.EXACT: "identical file",
    MatchKind.NEAR: "near-identical copy",
    MatchKind.MIRRORED: "mirrored copy",
    MatchKind.ROTATED: "rotated copy",
    MatchKind.FRAMED: "the known picture inside borders",
    MatchKind.CAPTIONED: "the known picture with a caption added",
    MatchKind.SCREENSHOT: "a screenshot containing the known picture",
}
VERDICT_WORDS = {
    Verdict.AUTHENTIC: "verified as authentic",
    Verdict.MISATTRIBUTED: "real, but shown with the wrong time or place",
    Verdict.EDITED: "edited or cropped to mislead",
    Verdict.STAGED: "staged",
    Verdict.SYNTHETIC: "generated or composited",
    Verdict.SATIRE: "satire or parody",
    Verdict.INCONCLUSIVE: "checked, but inconclusive",
}


def is_known(match: Match | None) -> bool:
    """Whether a surface may say "known": only for a certain match."""
    return match is not None and match.confidence is Confidence.CERTAIN


def headline_words(match: Match | None) -> str:
    """The headline for the best match of a picture or a tip (None: nothing known is near)."""
    if match is None:
        return "New: not seen before"
    if not is_known(match):
        return "Similar to a picture we know"
    if match.verdict is Verdict.AUTHENTIC:
        return "Known and verified"
    if match.verdict.is_debunked:
        return "Known and debunked"
    return "Known to us, but not resolved"


def moderator_label(pseudonym: str | None) -> str:
    """How a moderator is shown: a short pseudonym, never a Telegram name."""
    return f"mod·{pseudonym[:6]}" if pseudonym else "—"
