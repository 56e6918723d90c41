"""The flow both SQL backends share; each backend supplies only its dialect and its driver.

A backend implements a handful of small queries (the ``_``-prefixed abstract methods), its
connections and transactions, and says which of its driver's exceptions mean "unavailable" or
"conflict". Everything else is written once here: validating drafts, telling created from
updated, keeping the near-duplicate index (load at start, refresh by watermark, add on
upsert), lookups, paging, and translating driver errors into :mod:`checks.errors` at the
boundary. The bot's half of the interface (tips, reviews, roles, audit) is written once too,
in :class:`storage.tip_repository.TipRepository`, mixed in here.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from checks.errors import Conflict, StorageError, StorageUnavailable, TiplineError
from checks.matching import Match, MatchKind, accept, rank_key
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage.base import KnownItem, KnownItemDraft, Storage, UpsertResult
from storage.index import FingerprintBatch, NearDuplicateIndex
from storage.rows import (
    HASH_COLUMNS,
    Executor,
    Row,
    changes_from_rows,
    item_from_row,
    normalise_draft,
    upsert_parameters,
    utc_now,
)
from storage.tip_repository import TipRepository

__all__ = ["SqlStorage"]

#: Changed rows from which a refresh builds the new index on a thread rather than updating it
#: in place on the event loop: enough to need a rebuild, which costs ~0.7 s at 1M items.
_REFRESH_ON_A_THREAD = 8192
#: The least step between the timestamps of two statements of one batch.
_TICK = timedelta(microseconds=1)


def _upsert_result(row: Row, now: datetime) -> UpsertResult:
    """What an upsert stamped ``now`` did, read from the row it returned.

    The statement stamps ``now`` on a new row, and on an existing one only if its content
    changed, so the timestamps tell what it did.
    """
    item = item_from_row(row)
    created = item.created_at == now
    updated = not created and item.updated_at == now
    return UpsertResult(item=item, created=created, updated=updated)


def _distinct_runs(drafts: Sequence[KnownItemDraft]) -> Iterator[list[KnownItemDraft]]:
    """Consecutive runs of ``drafts`` in which no natural key repeats (usually just one)."""
    run: list[KnownItemDraft] = []
    keys: set[str] = set()
    for draft in drafts:
        if draft.natural_key in keys:
            yield run
            run, keys = [], set()
        run.append(draft)
        keys.add(draft.natural_key)
    if run:
        yield run


class SqlStorage(TipRepository, Storage):
    """A :class:`Storage` over SQL; subclasses provide the dialect.

    Besides the queries below, a dialect provides what :class:`TipRepository` declares: its
    tip statements (``_tips``), ``_transaction()``, ``_connection()``, ``_encode_time`` and
    ``_encode_list``.
    """

    #: Rows per page when loading hashes into the index (columnar, so large pages are cheap).
    HASH_PAGE = 50_000
    #: Rows per page when iterating whole items (each becomes Python objects).
    ITEM_PAGE = 1_000

    def __init__(self) -> None:
        self._index = NearDuplicateIndex()
        self._watermark = 0
        # Held while the database and the index are brought in step (upsert, refresh), so a
        # refresh that read an older row cannot overwrite what an upsert just put in the index.
        self._index_lock = asyncio.Lock()
        self._closed = False

    # -- what a dialect provides ------------------------------------------------------------

    @abstractmethod
    async def _upsert_row(self, db: Executor, parameters: tuple[object, ...]) -> Row:
        """Run the one-statement upsert on ``db``; return the full row as it now stands."""

    @abstractmethod
    async def _upsert_rows(
        self, db: Executor, parameters: Sequence[tuple[object, ...]]
    ) -> Sequence[Row]:
        """The same upsert for many rows in one statement; their natural keys are distinct.

        Returns each full row as it now stands, with its ``natural_key``, in any order.
        """

    @abstractmethod
    async def _item_row(self, item_id: int) -> Row | None: ...

    @abstractmethod
    async def _item_page(self, after_id: int, limit: int) -> Sequence[Row]:
        """Full rows with ``id > after_id``, by id."""

    @abstractmethod
    async def _hash_page(self, after: tuple[int, int], limit: int) -> Sequence[Row]:
        """:data:`storage.rows.HASH_COLUMNS` of the rows whose ``(revision, id)`` comes after
        the ``after`` pair, in that order (retired rows included)."""

    @abstractmethod
    async def _labels(self, item_ids: list[int]) -> Sequence[Row]:
        """``id, verdict, title`` of the given items."""

    @abstractmethod
    async def _count(self) -> int: ...

    @abstractmethod
    async def _next_watermark(self) -> int:
        """A revision such that every change not yet visible will have ``revision >=`` it."""

    @abstractmethod
    def _error_kind(self, exc: Exception) -> type[StorageError] | None:
        """``StorageUnavailable``, ``Conflict`` (a unique key taken, a deadlock: try again)
        or ``StorageError`` for a driver exception; None if foreign."""

    # -- the error boundary -----------------------------------------------------------------

    @contextmanager
    def _boundary(self, action: str, error: type[StorageError] = StorageError) -> Iterator[None]:
        """Translate driver exceptions; ``error`` is the class for those that are neither
        outages nor conflicts."""
        if self._closed:
            raise StorageError(f"could not {action}: the storage is closed")
        try:
            yield
        except TiplineError:
            raise
        except Exception as exc:
            kind = self._error_kind(exc)
            if kind is None:
                raise
            if kind not in (StorageUnavailable, Conflict):
                kind = error
            raise kind(f"could not {action}: {type(exc).__name__}: {exc}") from exc

    # -- the interface ----------------------------------------------------------------------

    async def upsert_known_item(self, draft: KnownItemDraft) -> UpsertResult:
        draft = normalise_draft(draft)
        async with self._index_lock:
            with self._boundary("save a known item"):
                async with self._connection() as db:
                    result = await self._upsert_in(db, draft, utc_now())
            self._learn([result])
        return result

    async def upsert_known_items(self, drafts: Sequence[KnownItemDraft]) -> list[UpsertResult]:
        drafts = [normalise_draft(draft) for draft in drafts]
        if not drafts:
            return []
        async with self._index_lock:
            with self._boundary("save known items"):
                async with self._transaction() as db:
                    results = await self._upsert_many_in(db, drafts)
            self._learn(results)
        return results

    async def _upsert_in(self, db: Executor, draft: KnownItemDraft, now: datetime) -> UpsertResult:
        """The upsert of a normalised draft, on ``db`` (alone, or in a caller's transaction).

        The index is the caller's to update, once the change is committed: an item added to
        it from a transaction that then rolls back would match with hashes it never had.
        """
        row = await self._upsert_row(db, upsert_parameters(draft, self._encode_time(now)))
        return _upsert_result(row, now)

    async def _upsert_many_in(
        self, db: Executor, drafts: Sequence[KnownItemDraft]
    ) -> list[UpsertResult]:
        """Normalised drafts upserted on ``db`` as if one by one, in order (index untouched).

        A statement may not touch one row twice (PostgreSQL refuses, and the timestamps could
        not tell a creation from the update that followed it), so a repeated key starts a new
        statement, stamped a microsecond later at least: each then reads like a single upsert.
        """
        results: list[UpsertResult] = []
        now: datetime | None = None
        for run in _distinct_runs(drafts):
            now = utc_now() if now is None else max(utc_now(), now + _TICK)
            stamp = self._encode_time(now)
            rows = await self._upsert_rows(db, [upsert_parameters(d, stamp) for d in run])
            by_key = {row["natural_key"]: row for row in rows}
            results.extend(_upsert_result(by_key[draft.natural_key], now) for draft in run)
        return results

    def _learn(self, results: Sequence[UpsertResult]) -> None:
        """Put committed creations and changes into the index, in one columnar batch."""
        items = [r.item for r in results if r.created or r.updated]
        if not items:
            return
        self._index.add_batch(
            FingerprintBatch.from_fingerprints((item.id, item.fingerprint) for item in items)
        )

    async def get_known_item(self, item_id: int) -> KnownItem | None:
        with self._boundary("read a known item"):
            row = await self._item_row(item_id)
        return None if row is None else item_from_row(row)

    async def iter_known_items(self) -> AsyncIterator[KnownItem]:
        after = 0
        while True:
            with self._boundary("read known items"):
                rows = await self._item_page(after, self.ITEM_PAGE)
            for row in rows:
                yield item_from_row(row)
            if len(rows) < self.ITEM_PAGE:
                return
            after = rows[-1]["id"]

    async def count_known_items(self) -> int:
        with self._boundary("count known items"):
            return await self._count()

    async def lookup(self, query: Fingerprint) -> list[Match]:
        accepted: dict[int, list[tuple[MatchKind, str, int]]] = {}
        for candidate in self._index.candidates(query):
            decision = accept(candidate, query.pdq_quality)
            if decision is None:
                continue
            kind = (
                MatchKind.EXACT
                if candidate.exact
                else MatchKind.MIRRORED
                if candidate.mirrored
                else MatchKind.NEAR
            )
            accepted.setdefault(candidate.item_id, []).append((kind, *decision))
        if not accepted:
            return []
        with self._boundary("look up known items"):
            labels = {row["id"]: row for row in await self._labels(sorted(accepted))}
        matches = []
        for item_id, ways in accepted.items():
            label = labels.get(item_id)
            if label is None:  # retired or deleted since the index heard of it
                continue
            verdict, title = Verdict(label["verdict"]), label["title"]
            found = [
                Match(item_id, kind, signal, dist, verdict, title) for kind, signal, dist in ways
            ]
            matches.append(min(found, key=rank_key))
        return sorted(matches, key=lambda m: (rank_key(m), m.item_id))

    async def refresh_index(self) -> int:
        async with self._index_lock:
            mark, changes = await self._read_changes(self._watermark)
            rows = sum(len(batch) + len(retired) for batch, retired in changes)
            if rows >= _REFRESH_ON_A_THREAD:
                # A bulk import elsewhere: the index it needs is built off the event loop
                # (lookups go on meanwhile; the lock keeps every change waiting) and swapped in.
                self._index, changed = await asyncio.to_thread(self._index.updated, changes)
            else:
                changed = self._index.apply(changes)
            self._watermark = mark
        return changed

    @property
    def index(self) -> NearDuplicateIndex:
        """The in-memory index (read it; change it only through this storage)."""
        return self._index

    # -- helpers for the backends -----------------------------------------------------------

    async def _load_index(self) -> None:
        """Build the index from every row in one pass: the start-up load."""
        async with self._index_lock:
            mark, changes = await self._read_changes(0)
            self._index = NearDuplicateIndex.from_batches(batch for batch, _ in changes)
            self._watermark = mark

    async def _read_changes(
        self, since: int
    ) -> tuple[int, list[tuple[FingerprintBatch, list[int]]]]:
        """Rows changed at or after ``since`` (live batch, retired ids per page), and the
        watermark for the next read.

        The watermark is taken first: a row changed while the pages are read has a revision at
        or after it, so the next read picks it up even if these pages missed it.
        """
        changes = []
        with self._boundary("load the near-duplicate index"):
            mark = await self._next_watermark()
            after = (since, 0)  # ids start at 1, so this is "revision >= since"
            while True:
                rows = await self._hash_page(after, self.HASH_PAGE)
                if rows:
                    changes.append(changes_from_rows(rows))
                if len(rows) < self.HASH_PAGE:
                    return mark, changes
                last = rows[-1]
                after = (last[HASH_COLUMNS.index("revision")], last[HASH_COLUMNS.index("id")])
