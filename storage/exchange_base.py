"""The exchange's half of the storage interface: this newsroom's feed and its partners' feeds.

What is published is a decision, never a side effect: an item made from a tip enters the feed
only through :meth:`Exchange.publish` (a moderator's command); items imported from public
fact-checks enter it through :meth:`Exchange.publish_imported` when the newsroom says so
(``TIPLINE_PUBLISH_IMPORTED``). A partner's entry is a known item of its own, so lookups find
it; :meth:`Exchange.opinions_on` says, for matched items, who said what, and
:func:`is_disputed` whether they disagree. The wire format is :mod:`storage.exchange.feed_format`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from checks.signals import Fingerprint
from checks.verdicts import Verdict

__all__ = [
    "ApplyResult",
    "Contest",
    "Exchange",
    "FeedRow",
    "Opinion",
    "Partner",
    "PartnerDraft",
    "PartnerEntry",
    "Trust",
    "disputed_for_tipsters",
    "entry_key_of",
    "is_disputed",
]


class Trust(StrEnum):
    """How far a partner's verdict goes: ``certain`` may answer a tipster, ``review`` only
    informs the moderators."""

    CERTAIN = "certain"
    REVIEW = "review"


def entry_key_of(fingerprint: Fingerprint) -> str:
    """An item's identity between newsrooms: the same as in this database
    (:attr:`checks.signals.Fingerprint.identity`)."""
    return fingerprint.identity


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One change in this newsroom's feed: a published item as it now stands, or a tombstone
    (``live`` false: withdrawn with ``/unpublish`` or retired by an undo)."""

    sequence: int
    key: str
    live: bool
    updated_at: datetime
    fingerprint: Fingerprint
    verdict: Verdict
    title: str = ""
    note: str = ""
    fact_check_url: str | None = None
    original_date: str | None = None
    original_place: str | None = None


@dataclass(frozen=True, slots=True)
class PartnerEntry:
    """A partner's entry whose signature and fields were verified: an item (``verdict`` set)
    or a tombstone (``verdict`` None, no hashes)."""

    key: str
    sequence: int
    updated_at: datetime
    newsroom: str
    fingerprint: Fingerprint | None = None
    verdict: Verdict | None = None
    title: str = ""
    note: str = ""
    fact_check_url: str | None = None
    original_date: str | None = None
    original_place: str | None = None


@dataclass(frozen=True, slots=True)
class PartnerDraft:
    """A partner as ``tipline partners add`` gives it (checked by :meth:`Exchange.add_partner`)."""

    name: str
    url: str
    public_key: str
    trust: Trust = Trust.REVIEW
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Partner:
    """A stored partner and where its sync stands."""

    id: int
    name: str
    url: str
    public_key: str
    trust: Trust
    token: str | None
    cursor: str | None
    added_at: datetime
    last_sync_at: datetime | None
    last_result: str | None
    failures: int
    retry_at: datetime | None

    def __repr__(self) -> str:  # the token is a secret: never in a log line or a traceback
        return f"Partner(id={self.id}, name={self.name!r}, url={self.url!r}, trust={self.trust})"


@dataclass(frozen=True, slots=True)
class Contest:
    """A partner's entry, just applied, whose verdict differs from ours on the same picture:
    the moderators are told, since our own cards now say newsrooms disagree."""

    key: str
    #: Our own item with that key, its title and verdict; the partner's verdict.
    item_id: int
    title: str
    ours: Verdict
    theirs: Verdict


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one page of a partner's feed did: entries applied, the keys of those refused
    because this database already holds the same or a newer entry for them (a replay), and
    the applied ones that disagree with our own verdict."""

    applied: int
    replayed: tuple[str, ...] = ()
    contested: tuple[Contest, ...] = ()


@dataclass(frozen=True, slots=True)
class Opinion:
    """One newsroom's word on an item: ``newsroom`` None is this newsroom (then ``trust`` is
    None too); ``verdict`` None is a partner's retraction."""

    item_id: int | None
    key: str
    newsroom: str | None
    trust: Trust | None
    verdict: Verdict | None
    title: str
    fact_check_url: str | None
    updated_at: datetime


def is_disputed(opinions: Sequence[Opinion]) -> bool:
    """Newsrooms disagree: two standing opinions with different verdicts (a retraction is no
    opinion). Cards must then name each side rather than pick one."""
    return len({o.verdict for o in opinions if o.verdict is not None}) > 1


def disputed_for_tipsters(opinions: Sequence[Opinion]) -> bool:
    """:func:`is_disputed` among the words that may reach a tipster: ours and those of
    partners trusted as ``certain`` (a review-only partner's word informs moderators alone,
    as :func:`checks.matching.confidence_of` has it)."""
    return is_disputed([o for o in opinions if o.trust is not Trust.REVIEW])


class Exchange(Protocol):
    """This newsroom's feed (publishing decisions, pages of changes) and its partners."""

    @abstractmethod
    async def publish(self, item_id: int, by: str) -> bool:
        """Put a known item of this newsroom into the feed (``by``: the moderator's pseudonym).
        True if that changed anything. A partner's item is refused (InvalidInput): publishing
        it would pass off another newsroom's word as ours; a missing item is NotFound."""

    @abstractmethod
    async def unpublish(self, item_id: int, by: str) -> bool:
        """Take an item out of the feed: subscribers get a tombstone. True if it was in it."""

    @abstractmethod
    async def is_published(self, item_id: int) -> bool:
        """Whether the feed carries the item now (published, and not retired)."""

    @abstractmethod
    async def publish_imported(self) -> int:
        """Publish every imported item no one has decided on yet (``TIPLINE_PUBLISH_IMPORTED``);
        an item a moderator withdrew stays withdrawn. Returns how many were published."""

    @abstractmethod
    async def feed_page(self, after: int, limit: int) -> list[FeedRow]:
        """Changes with a sequence above ``after``, in sequence order, at most ``limit``."""

    @abstractmethod
    async def add_partner(self, draft: PartnerDraft) -> Partner:
        """Subscribe to a partner's feed; a name already taken is InvalidInput."""

    @abstractmethod
    async def partners(self) -> list[Partner]:
        """Every partner, by name."""

    @abstractmethod
    async def partner(self, name: str) -> Partner | None: ...

    @abstractmethod
    async def remove_partner(self, name: str) -> bool:
        """Unsubscribe: the partner's items leave lookups (retired) and its entries are
        forgotten. False if there was no such partner."""

    @abstractmethod
    async def apply_partner_page(
        self, partner_id: int, entries: Sequence[PartnerEntry], cursor: str | None
    ) -> ApplyResult:
        """Apply verified entries and move the partner's cursor, all in one transaction (never
        half-applied); an entry not newer than the one stored for its key is refused, the rest
        apply. The near-duplicate index learns the change before this returns."""

    @abstractmethod
    async def record_partner_sync(
        self, partner_id: int, result: str, *, failed: bool, retry_at: datetime | None
    ) -> None:
        """Note how a sync ended: a one-line ``result``; a failure counts towards the backoff
        (``retry_at``: not before then), a success clears it."""

    @abstractmethod
    async def opinions_on(self, item_ids: Sequence[int]) -> list[Opinion]:
        """Every newsroom's word on the pictures behind these items (matched items, ours or
        partners'): this newsroom's own item with the same key, and each partner's entry,
        retractions included. For cards: ``is_disputed`` and "per NEWSROOM"."""
