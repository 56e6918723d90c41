"""Telling this newsroom's moderators that a partner disagrees with one of our verdicts.

Our own cards say "newsrooms disagree" from then on (see :mod:`checks.assessment`); the
moderators should hear it when it happens, not from a tipster's card weeks later. One message
per partner and sync, naming the first few items, so a large feed cannot flood the chat.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.i18n import Texts
from storage.exchange_base import Contest

__all__ = ["SHOWN", "contest_notice"]

#: Items named in one notice; the rest are counted.
SHOWN = 5


def contest_notice(partner: str, contests: Sequence[Contest], *, t: Texts) -> str:
    """The moderators' notice for one partner's sync (``contests`` is not empty)."""
    lines = [
        t.ngettext(
            "Partner newsroom {partner} disagrees with our verdict on {n} known item:",
            "Partner newsroom {partner} disagrees with our verdict on {n} known items:",
            len(contests),
            partner=t.user(partner),
        )
    ]
    for contest in contests[:SHOWN]:
        lines.append(
            t._(
                "• #{number} {title}: ours {ours}, theirs {theirs}",
                number=contest.item_id,
                title=t.user(contest.title or "—"),
                ours=t.ltr(contest.ours.value),
                theirs=t.ltr(contest.theirs.value),
            )
        )
    if len(contests) > SHOWN:
        more = len(contests) - SHOWN
        lines.append(t.ngettext("… and {n} more.", "… and {n} more.", more))
    return "\n".join(lines)
