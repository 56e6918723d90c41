"""When what a tipster was told no longer holds: the one rule for sending a correction.

A tipster answered "known" (or given a moderator's verdict) was told something about the known
items behind their picture. Later a verdict can be undone or changed here, a partner can
retract its item, or newsrooms can come to disagree about it. :func:`correction` compares what
they were told with where things stand now and says which correction, if any, is due; the
caller records the new standing as told, so each change is told once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from checks.verdicts import Verdict

__all__ = ["Change", "Standing", "correction"]


class Change(StrEnum):
    """What changed for the tipster, most serious first."""

    #: Every item behind the answer is gone (undone here, retracted by the partner).
    WITHDRAWN = "withdrawn"
    #: Newsrooms now disagree about the picture.
    DISPUTED = "disputed"
    #: The verdict is another one now (changed here or by the partner, or a dispute settled).
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the answer about one tip stands: the verdicts of its known items still in force,
    and whether newsrooms disagree about any of them."""

    verdicts: frozenset[Verdict]
    disputed: bool = False

    @classmethod
    def of(cls, verdicts: Iterable[Verdict | None], disputed: bool = False) -> Standing:
        """From each item's verdict (None: the item is no longer in force)."""
        live = frozenset(v for v in verdicts if v is not None)
        return cls(live, disputed or len(live) > 1)

    @property
    def verdict(self) -> Verdict | None:
        """The one verdict in force, when there is exactly one and no dispute."""
        if self.disputed or len(self.verdicts) != 1:
            return None
        return next(iter(self.verdicts))


def correction(told: Standing, now: Standing) -> Change | None:
    """The correction a tipster told ``told`` is owed now, or None if what they were told
    still holds (a withdrawn answer that comes back with a verdict is a change too)."""
    if now == told:
        return None
    if not now.verdicts:
        return Change.WITHDRAWN
    if now.disputed and not told.disputed:
        return Change.DISPUTED
    if now.verdicts != told.verdicts or told.disputed != now.disputed:
        return Change.CHANGED
    return None
