"""How many messages the moderators' chat gets a minute, and the digest that stands in for the
review cards over that.

Telegram lets a bot post about 20 messages a minute to one group. The rate limiter would queue
the rest, so under a flood of tips the review cards would arrive hours late. Instead, a card that
does not fit the minute's budget is not posted: its tip is counted, and a digest ("14 new tips
waiting — /queue") tells the moderators how many are waiting. The tip itself stays in /queue,
so nothing is lost; only its card is.

No Telegram and no sleeping here: time comes from an injected clock, so a test moves it by hand.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_MESSAGES_PER_MINUTE", "DIGEST_SETTLE_SECONDS", "ReviewPacer"]

#: Telegram's published limit for one group.
DEFAULT_MESSAGES_PER_MINUTE = 20
#: How long held-back tips gather before a digest names them, so a burst gives one digest with
#: its count rather than a digest per tip.
DIGEST_SETTLE_SECONDS = 10.0
_WINDOW = 60.0


@dataclass
class ReviewPacer:
    """A sliding minute of messages posted to the moderators' chat, shared by every tip this
    instance processes. ``budget`` 0 paces nothing (every card goes out)."""

    budget: int = DEFAULT_MESSAGES_PER_MINUTE
    #: Seconds on any steady scale (``time.monotonic`` in production).
    clock: Callable[[], float] = time.monotonic
    settle: float = DIGEST_SETTLE_SECONDS
    _sent: deque[float] = field(default_factory=deque, init=False, repr=False)
    _held: int = field(default=0, init=False)
    _held_since: float | None = field(default=None, init=False)

    @property
    def held(self) -> int:
        """Tips whose cards were held back and that no digest has named yet."""
        return self._held

    def _room(self) -> int:
        now = self.clock()
        while self._sent and now - self._sent[0] >= _WINDOW:
            self._sent.popleft()
        return self.budget - len(self._sent)

    def record(self, messages: int = 1) -> None:
        """Count messages posted to the chat outside a review (a notice)."""
        if self.budget:
            now = self.clock()
            self._sent.extend([now] * messages)

    def admit_review(self, messages: int) -> bool:
        """Whether a review of ``messages`` messages (pictures and card) fits this minute; if
        it does, they are counted now, before they are sent, so concurrent tips cannot all
        take the last slot. One slot is kept for a digest. A review that does not fit is
        held back, to be named by the next digest."""
        if not self.budget:
            return True
        reserve = 1 if self.budget > 1 else 0
        if self._room() - reserve >= messages:
            self.record(messages)
            return True
        if self._held == 0:
            self._held_since = self.clock()
        self._held += 1
        return False

    def take_digest(self) -> int:
        """How many held-back tips a digest should name now (and counts the digest), or 0
        when none are held, they have not settled yet, or the minute has no room."""
        if self._held == 0 or self._held_since is None:
            return 0
        if self.clock() - self._held_since < self.settle or self._room() < 1:
            return 0
        count, self._held, self._held_since = self._held, 0, None
        self.record(1)
        return count

    def give_back(self, count: int) -> None:
        """A digest could not be posted: its tips are named by the next one."""
        if count and self._held == 0:
            self._held_since = self.clock()
        self._held += count
