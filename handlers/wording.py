"""The words every surface uses for a confidence, a verdict and a kind of match.

The tipster card, the review card and the terminal card all take their words from here, so a
match that one calls "similar" no other calls "known". The words are English gettext messages
in plain text: each surface translates them for its reader (:class:`handlers.i18n.Texts`) and
adds its own markup (HTML for Telegram, styles for the terminal).
"""

from __future__ import annotations

from checks.matching import Confidence, Match, MatchKind
from checks.verdicts import SubmissionStatus, Verdict
from handlers.i18n import N_
from storage.tips import Role

__all__ = [
    "CLOSENESS",
    "ERROR_REASONS",
    "QUEUE_STATUS_WORDS",
    "ROLE_WORDS",
    "STATUS_WORDS",
    "VERDICT_WORDS",
    "error_reason",
    "headline_words",
    "is_known",
    "moderator_label",
]

CLOSENESS = {
    MatchKind.EXACT: N_("identical file"),
    MatchKind.NEAR: N_("near-identical copy"),
    MatchKind.MIRRORED: N_("mirrored copy"),
    MatchKind.ROTATED: N_("rotated copy"),
    MatchKind.FRAMED: N_("the known picture inside borders"),
    MatchKind.CAPTIONED: N_("the known picture with a caption added"),
    MatchKind.SCREENSHOT: N_("a screenshot containing the known picture"),
    MatchKind.CROPPED: N_("a crop of the known picture"),
    MatchKind.PERSPECTIVE: N_("the known picture photographed at an angle"),
}
VERDICT_WORDS = {
    Verdict.AUTHENTIC: N_("verified as authentic"),
    Verdict.MISATTRIBUTED: N_("real, but shown with the wrong time or place"),
    Verdict.EDITED: N_("edited or cropped to mislead"),
    Verdict.STAGED: N_("staged"),
    Verdict.SYNTHETIC: N_("generated or composited"),
    Verdict.SATIRE: N_("satire or parody"),
    Verdict.INCONCLUSIVE: N_("checked, but inconclusive"),
}
#: A tip's status as its tipster reads it in /status.
STATUS_WORDS = {
    SubmissionStatus.RECEIVED: N_("received, being checked"),
    SubmissionStatus.NEW: N_("new: waiting for a reviewer"),
    SubmissionStatus.IN_REVIEW: N_("a reviewer is on it"),
    SubmissionStatus.MATCHED: N_("matched a known picture"),
    SubmissionStatus.REVIEWED: N_("reviewed"),
    SubmissionStatus.FAILED: N_("could not be checked"),
}
#: A tip's status as moderators read it in /queue: where it stands in their work.
QUEUE_STATUS_WORDS = {
    SubmissionStatus.RECEIVED: N_("being checked"),
    SubmissionStatus.NEW: N_("waiting"),
    SubmissionStatus.IN_REVIEW: N_("in review"),
    SubmissionStatus.MATCHED: N_("matched"),
    SubmissionStatus.REVIEWED: N_("reviewed"),
    SubmissionStatus.FAILED: N_("could not be checked"),
}
#: A role as /mods lists it.
ROLE_WORDS = {
    Role.MODERATOR: N_("moderator"),
    Role.ADMIN: N_("admin"),
}
#: Why a picture could not be checked, by error code (the exception's own message is English
#: and technical; these are what a tipster reads).
ERROR_REASONS = {
    "unsupported_format": N_("it is not in a picture format we can read"),
    "file_too_large": N_("the file is too large to check"),
    "image_too_large": N_("the picture is too large to check"),
    "link_too_large": N_("the picture behind the link is too large to check"),
    "corrupt_image": N_("the file is damaged and cannot be opened"),
    "unreadable_file": N_("the file is damaged and cannot be opened"),
    "link_not_image": N_("the link does not lead to a picture"),
}
_LINK_FAILED = N_("we could not fetch the picture from that link")
_UNCHECKED = N_("it could not be checked")


def error_reason(code: str | None) -> str:
    """The message (to translate) that says why a picture failed, from its error code."""
    if code in ERROR_REASONS:
        return ERROR_REASONS[code]
    if code and code.startswith("link_"):
        return _LINK_FAILED
    return _UNCHECKED


def is_known(match: Match | None) -> bool:
    """Whether a surface may say "known": only for a certain match."""
    return match is not None and match.confidence is Confidence.CERTAIN


def headline_words(match: Match | None) -> str:
    """The headline for the best match of a picture or a tip (None: nothing known is near)."""
    if match is None:
        return N_("New: not seen before")
    if not is_known(match):
        return N_("Similar to a picture we know")
    if match.verdict is Verdict.AUTHENTIC:
        return N_("Known and verified")
    if match.verdict.is_debunked:
        return N_("Known and debunked")
    return N_("Known to us, but not resolved")


def moderator_label(pseudonym: str | None) -> str:
    """How a moderator is shown: a short pseudonym, never a Telegram name."""
    return f"mod·{pseudonym[:6]}" if pseudonym else "—"
