"""What the intake remembers about sources over their fair-use limits, so that a flood from one
source costs the bot little and never delays anyone else.

Without it, each of a flood's pictures waits for the source's lock, then counts the source's
tips in the database, then is answered: hundreds of updates queued behind one source, and
hundreds of replies spending the bot's 30 messages a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TypeVar

from handlers.i18n import N_, Texts
from storage.tips import SourceActivity

__all__ = [
    "PENDING_RECHECK_SECONDS",
    "REFUSAL_QUIET_SECONDS",
    "FairUse",
    "OverLimit",
    "over_fair_use",
]

REFUSE_OVER_PICTURES = N_(
    "Thank you. To keep the tip line open for everyone, it takes a limited number of pictures "
    "from one person in {window} (up to {limit}), so this was not recorded. Please send it "
    "again {when}."
)
REFUSE_ALBUM_OVER_PICTURES = N_(
    "Thank you. To keep the tip line open for everyone, it takes a limited number of pictures "
    "from one person in {window} (up to {limit}), so the pictures of this album over that "
    "limit were not recorded; those before it were. Please send the rest again {when}."
)
REFUSE_OVER_PENDING = N_(
    "Thank you. Tips of yours waiting for the moderators: {count}, the most the tip line holds "
    "from one person at a time, so this was not recorded. Please send it again once some of "
    "them have been checked; /status shows where they stand."
)

#: A source told it is over its limit is not told again for this long (an album is answered
#: once, whatever this says): the reply already says when to send again.
REFUSAL_QUIET_SECONDS = 60.0
#: A source at its limit of waiting tips is counted again after this long at most: a
#: moderator's verdict may have made room.
PENDING_RECHECK_SECONDS = 5.0
_SOURCES_KEPT = 4096

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FairUse:
    """How much one source may send, so that one account cannot fill the review queue and the
    disk; 0 turns a limit off."""

    #: Pictures (and links) accepted from one pseudonym per :attr:`window`.
    pictures: int = 30
    window: timedelta = timedelta(minutes=10)
    #: Tips of one pseudonym waiting for the moderators at a time.
    pending: int = 20


def over_fair_use(
    limits: FairUse, activity: SourceActivity, pictures: int, album: bool
) -> Callable[[Texts], str] | None:
    """Why a tip of ``pictures`` (part of an album or not) is over its source's fair use, as a
    reply in the reader's language; None if it may be recorded."""
    if limits.pending and activity.pending >= limits.pending:
        return lambda t: t._(REFUSE_OVER_PENDING, count=activity.pending)
    if limits.pictures and activity.pictures + pictures > limits.pictures:
        # The window frees up as its oldest tip leaves it.
        oldest = activity.oldest or activity.as_of
        wait = oldest + limits.window - activity.as_of
        refusal = REFUSE_ALBUM_OVER_PICTURES if album else REFUSE_OVER_PICTURES
        return lambda t: t._(
            refusal,
            window=t.duration(limits.window),
            limit=limits.pictures,
            when=t.duration(wait, ahead=True),
        )
    return None


class OverLimit:
    """Sources over a limit (by pseudonym) and sources recently told so, on the event loop's
    clock; each map keeps the most recent few thousand sources."""

    def __init__(self) -> None:
        #: source -> (the activity that refused it, loop time it was counted, valid until).
        self._full: dict[str, tuple[SourceActivity, float, float]] = {}
        #: source -> loop time until which it is not told again.
        self._quiet: dict[str, float] = {}

    def recall(self, source: str, now: float) -> SourceActivity | None:
        """The activity that refused ``source``, as it stands ``now``, while any picture from it
        would still be refused; None when it has to be counted again."""
        found = self._full.get(source)
        if found is None:
            return None
        activity, counted, until = found
        if now >= until:
            del self._full[source]
            return None
        return replace(activity, as_of=activity.as_of + timedelta(seconds=now - counted))

    def remember(self, source: str, activity: SourceActivity, limits: FairUse, now: float) -> None:
        """Keep ``activity`` if it refuses any picture from ``source``, for as long as it must:
        a full window until its oldest tip leaves it (counts only grow until then), waiting
        tips until :data:`PENDING_RECHECK_SECONDS` have passed."""
        until = None
        if limits.pictures and activity.pictures >= limits.pictures:
            oldest = activity.oldest or activity.as_of
            until = now + (oldest + limits.window - activity.as_of).total_seconds()
        if limits.pending and activity.pending >= limits.pending:
            until = max(until or 0.0, now + PENDING_RECHECK_SECONDS)
        if until is not None and until > now:
            _put_last(self._full, source, (activity, now, until))

    def tell(self, source: str, now: float) -> bool:
        """Whether to tell ``source`` it is over its limit now (at most once a quiet period)."""
        if self._quiet.get(source, 0.0) > now:
            return False
        _put_last(self._quiet, source, now + REFUSAL_QUIET_SECONDS)
        return True


def _put_last(entries: dict[str, T], key: str, value: T) -> None:
    """Set ``key`` as the newest entry, dropping the oldest beyond the bound."""
    entries.pop(key, None)
    entries[key] = value
    while len(entries) > _SOURCES_KEPT:
        del entries[next(iter(entries))]
