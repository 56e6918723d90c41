"""The one storage interface. SQLite and PostgreSQL implement it; one contract suite tests both.

:class:`Storage` is the union of small protocols, so a part of the bot can ask for only
what it uses: :class:`KnownItems` here, and the tip flow's in :mod:`storage.tips`.

Frozen dataclasses go in and come out; no backend type leaks past this module's callers, and
every driver exception is translated into :mod:`checks.errors` where it enters.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from checks.matching import Match
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage.exchange_base import Exchange
from storage.tips import TipStorage

__all__ = ["KnownItem", "KnownItemDraft", "KnownItems", "Storage", "UpsertResult"]


@dataclass(frozen=True, slots=True)
class KnownItemDraft:
    """A known item as written: its hashes, the verdict and the context a newsroom records.

    Its identity (for idempotent imports) is the first of sha256, pdq, phash that it has.
    """

    fingerprint: Fingerprint
    verdict: Verdict
    title: str = ""
    note: str = ""
    fact_check_url: str | None = None
    original_date: str | None = None
    original_place: str | None = None
    source: str | None = None
    #: Pseudonym of whoever recorded it (a moderator's HMAC, or "import").
    recorded_by: str | None = None

    @property
    def natural_key(self) -> str:
        return self.fingerprint.identity


@dataclass(frozen=True, slots=True)
class KnownItem:
    """A stored known item."""

    id: int
    draft: KnownItemDraft
    created_at: datetime
    updated_at: datetime
    updated_by: str | None = field(default=None)

    @property
    def fingerprint(self) -> Fingerprint:
        return self.draft.fingerprint

    @property
    def verdict(self) -> Verdict:
        return self.draft.verdict

    @property
    def title(self) -> str:
        return self.draft.title


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert did: ``created`` a new row, ``updated`` a changed one, or neither."""

    item: KnownItem
    created: bool
    updated: bool


class KnownItems(Protocol):
    """The shared database of known items: written by imports and verdicts, read by lookups."""

    @abstractmethod
    async def upsert_known_item(self, draft: KnownItemDraft) -> UpsertResult:
        """Insert, or update the item with the same natural key; the index follows at once."""

    @abstractmethod
    async def upsert_known_items(self, drafts: Sequence[KnownItemDraft]) -> list[UpsertResult]:
        """Upsert many in one transaction, as one by one in order would; the index follows.

        All or nothing: if it raises, none of them is saved. Bulk imports call it in batches
        (thousands of drafts) to save a round trip and a commit per item.
        """

    @abstractmethod
    async def get_known_item(self, item_id: int) -> KnownItem | None: ...

    @abstractmethod
    def iter_known_items(self) -> AsyncIterator[KnownItem]:
        """Every known item of this newsroom, oldest first (for export); partners' items
        (:mod:`storage.partners`) are theirs to export, not ours."""

    @abstractmethod
    async def count_known_items(self) -> int: ...

    @abstractmethod
    async def lookup(self, query: Fingerprint) -> list[Match]:
        """Known items matching the query, best first (see :func:`checks.matching.accept`)."""

    @abstractmethod
    async def features_ready(self) -> None:
        """Wait until every stored item's local features are searchable (a large collection's
        are indexed in the background after opening; lookups meanwhile find the rest by
        their global hashes)."""

    @abstractmethod
    async def refresh_index(self) -> int:
        """Pick up items other instances added since the last refresh; returns how many."""


class Storage(KnownItems, TipStorage, Exchange):
    """A Tipline database. Open with :func:`storage.open_storage`; close with :meth:`close`.

    The known items, and the bot's tips, reviews, roles and audit log
    (:class:`storage.tips.TipStorage`), and the exchange with partner newsrooms
    (:class:`storage.exchange_base.Exchange`), in one object every backend implements.
    """

    @abstractmethod
    async def backup(self, destination: Path) -> None:
        """Copy the whole database, consistent, into the new file ``destination`` while the
        bot keeps running. SQLite only: a PostgreSQL database is pg_dump's to back up, and
        saying so (a :class:`storage.errors.StorageError`) beats a half-done copy."""

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
