"""The known items over SQL, and :class:`SqlStorage`: every part of the storage in one class.

A backend supplies its connections, transactions, the statements of its dialect and the few
queries that really differ (the batch upsert, the index's hash pages, the watermark), and
says which of its driver's exceptions mean "unavailable" or "conflict". Everything else is
written once: here for the known items (validating drafts, telling created from updated,
keeping the near-duplicate index: load at start, refresh by watermark, add on upsert,
lookups, paging), and in the tip flow's parts for the rest.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import ClassVar

from checks.matching import Candidate, Match, MatchKind, Way, judge, rank_key
from checks.signals import Fingerprint, Sha256
from checks.verdicts import Verdict
from storage.answers import AnswerRepository
from storage.base import KnownItem, KnownItemDraft, Storage, UpsertResult
from storage.clock import Clock
from storage.exchange_base import Trust
from storage.features import FeatureRepository
from storage.index import FingerprintBatch, NearDuplicateIndex
from storage.moderation import ModerationRepository
from storage.partners import ExchangeRepository
from storage.preferences import PreferencesRepository
from storage.retention import RetentionRepository
from storage.reviews import ReviewRepository
from storage.rows import (
    HASH_COLUMNS,
    Executor,
    Row,
    changes_from_rows,
    item_from_row,
    normalise_draft,
    upsert_parameters,
)
from storage.submissions import SubmissionRepository

__all__ = ["SqlStorage"]

#: Changed rows from which a refresh builds the new index on a thread rather than updating it
#: in place on the event loop: enough to need a rebuild, which costs ~0.7 s at 1M items.
_REFRESH_ON_A_THREAD = 8192


def _upsert_result(row: Row, now: datetime) -> UpsertResult:
    """What an upsert stamped ``now`` did, read from the row it returned.

    The statement stamps ``now`` on a new row, and on an existing one only if its content
    changed, so the timestamps tell what it did.
    """
    item = item_from_row(row)
    created = item.created_at == now
    updated = not created and item.updated_at == now
    return UpsertResult(item=item, created=created, updated=updated)


#: What the database's answer for the identical file is judged as.
_IDENTICAL = Candidate(
    0, exact=True, mirrored=False, pdq_distance=None, phash_distance=None, item_pdq_quality=None
)


def _certain(way: Way) -> bool:
    """Whether a way of recognising settles the item (no alignment needed)."""
    return way.kind is MatchKind.EXACT or way.signal == "pdq"


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


class SqlStorage(
    SubmissionRepository,
    AnswerRepository,
    ReviewRepository,
    ModerationRepository,
    RetentionRepository,
    PreferencesRepository,
    ExchangeRepository,
    FeatureRepository,
    Storage,
):
    """A :class:`Storage` over SQL; subclasses provide the dialect (see
    :class:`storage.sql_runner.SqlRunner` for what they must provide besides the below)."""

    #: Rows per page when loading hashes into the index (columnar, so large pages are cheap).
    HASH_PAGE = 50_000
    #: Rows per page when iterating whole items (each becomes Python objects).
    ITEM_PAGE = 1_000
    #: () -> a revision such that every change not yet visible will have ``revision >=`` it.
    _next_watermark: ClassVar[str]

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self._watermark = 0
        self._init_features()

    # -- what a dialect provides ------------------------------------------------------------

    @abstractmethod
    async def _upsert_rows(
        self, db: Executor, parameters: Sequence[tuple[object, ...]]
    ) -> Sequence[Row]:
        """The upsert for many rows in one statement; their natural keys are distinct.

        Returns each full row as it now stands, with its ``natural_key``, in any order.
        """

    @abstractmethod
    async def _hash_page(self, after: tuple[int, int], limit: int) -> Sequence[Row]:
        """:data:`storage.rows.HASH_COLUMNS` of the rows whose ``(revision, id)`` comes after
        the ``after`` pair, in that order (retired rows included), readable by position."""

    # -- the interface ----------------------------------------------------------------------

    async def upsert_known_item(self, draft: KnownItemDraft) -> UpsertResult:
        draft = normalise_draft(draft)
        async with self._index_lock:
            with self._boundary("save a known item"):
                async with self._transaction() as db:
                    result = await self._upsert_in(db, draft, self._stamp())
            self._learn([result])
            self._learn_features([(result.item.id, draft.fingerprint)])
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
            self._learn_features(
                (r.item.id, d.fingerprint) for r, d in zip(results, drafts, strict=True)
            )
        return results

    async def _upsert_in(self, db: Executor, draft: KnownItemDraft, now: datetime) -> UpsertResult:
        """The upsert of a normalised draft, on ``db`` (alone, or in a caller's transaction).

        The index is the caller's to update, once the change is committed: an item added to
        it from a transaction that then rolls back would match with hashes it never had.
        """
        parameters = upsert_parameters(draft, self._encode_time(now))
        row = (await db.fetch(self._known.upsert, *parameters))[0]
        result = _upsert_result(row, now)
        await self._save_features(db, result.item.id, draft.fingerprint)
        return result

    async def _upsert_many_in(
        self, db: Executor, drafts: Sequence[KnownItemDraft]
    ) -> list[UpsertResult]:
        """Normalised drafts upserted on ``db`` as if one by one, in order (index untouched).

        A statement may not touch one row twice (PostgreSQL refuses, and the timestamps could
        not tell a creation from the update that followed it), so a repeated key starts a new
        statement with a stamp of its own (:meth:`_stamp` never gives one twice, whatever the
        clock says): each then reads like a single upsert.
        """
        results: list[UpsertResult] = []
        for run in _distinct_runs(drafts):
            now = self._stamp()
            stamp = self._encode_time(now)
            rows = await self._upsert_rows(db, [upsert_parameters(d, stamp) for d in run])
            by_key = {row["natural_key"]: row for row in rows}
            for draft in run:
                result = _upsert_result(by_key[draft.natural_key], now)
                await self._save_features(db, result.item.id, draft.fingerprint)
                results.append(result)
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
        rows = await self._run("read a known item", self._known.item, item_id)
        return item_from_row(rows[0]) if rows else None

    async def iter_known_items(self) -> AsyncIterator[KnownItem]:
        after = 0
        while True:
            rows = await self._run("read known items", self._known.item_page, after, self.ITEM_PAGE)
            for row in rows:
                yield item_from_row(row)
            if len(rows) < self.ITEM_PAGE:
                return
            after = rows[-1]["id"]

    async def count_known_items(self) -> int:
        return (await self._run("count known items", self._known.count))[0][0]

    async def lookup(self, query: Fingerprint) -> list[Match]:
        accepted: dict[int, list[Way]] = {}
        for candidate in self._index.candidates(query):
            if (way := judge(candidate, query.pdq_quality)) is not None:
                accepted.setdefault(candidate.item_id, []).append(way)
        per_view = self._index.pdq_candidates([view.pdq for view in query.views])
        for view, candidates in zip(query.views, per_view, strict=True):
            for candidate in candidates:
                if (way := judge(candidate, view.pdq_quality, view)) is not None:
                    accepted.setdefault(candidate.item_id, []).append(way)
        if query.local is not None:
            # Local features find what the hashes cannot (a crop, a tilt, a screenshot); an
            # item already found for certain needs no alignment.
            sure = {i for i, ways in accepted.items() if any(_certain(w) for w in ways)}
            for item_id, way in (await self._local_ways(query.local, sure)).items():
                accepted.setdefault(item_id, []).append(way)
        # The identical file is the database's to find, by its SHA-256 (an indexed column): one
        # read brings it with what a match shows of the items found above.
        sha256 = None if query.sha256 is None else Sha256.validate(query.sha256)
        if sha256 is None and not accepted:
            return []
        ids = self._encode_list(sorted(accepted))
        rows = await self._run("look up known items", self._known.labels, ids, sha256)
        labels = {row["id"]: row for row in rows}
        for row in rows:
            if row["identical"] and (way := judge(_IDENTICAL, query.pdq_quality)) is not None:
                accepted.setdefault(row["id"], []).append(way)
        matches = []
        for item_id, ways in accepted.items():
            label = labels.get(item_id)
            if label is None:  # retired or deleted since the index heard of it
                continue
            found = [
                Match(
                    item_id,
                    way.kind,
                    way.signal,
                    way.distance,
                    Verdict(label["verdict"]),
                    label["title"],
                    fact_check_url=label["fact_check_url"],
                    original_date=label["original_date"],
                    original_place=label["original_place"],
                    region=way.region,
                    newsroom=label["newsroom"],
                    trusted=label["trust"] in (None, Trust.CERTAIN.value),
                )
                for way in ways
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
            live = [int(i) for batch, _ in changes for i in batch.ids]
            await self._refresh_features(live, [i for _, gone in changes for i in gone])
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
            await self._load_features()
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
            async with self._connection() as db:
                mark = (await db.fetch(self._next_watermark))[0][0]
            after = (since, 0)  # ids start at 1, so this is "revision >= since"
            while True:
                rows = await self._hash_page(after, self.HASH_PAGE)
                if rows:
                    changes.append(changes_from_rows(rows))
                if len(rows) < self.HASH_PAGE:
                    return mark, changes
                last = rows[-1]
                after = (last[HASH_COLUMNS.index("revision")], last[HASH_COLUMNS.index("id")])
