"""Known items' local features: saved with the item, kept in a :class:`FeatureIndex`, and used
to find a known picture in a query that global hashes miss (cropped, tilted, in a screenshot).

The index holds only descriptors (~6.4 KB an item in memory); the few candidates a query
brings are read from the database and aligned (:func:`checks.alignment.align`) on a thread,
so the event loop never waits for OpenCV.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from checks.alignment import align
from checks.errors import InvalidInput
from checks.local_features import KnownFeatures, QueryFeatures
from checks.matching import Way, judge_alignment
from checks.signals import Fingerprint
from storage.feature_index import EXHAUSTIVE, FeatureIndex
from storage.rows import Executor
from storage.sql_runner import SqlRunner

__all__ = ["FeatureRepository"]

log = logging.getLogger(__name__)

#: Items read per page when the index is loaded at start.
_PAGE = 2_000


def _descriptors(features: bytes) -> np.ndarray:
    """The descriptors in a stored record, without decoding its thumbnail."""
    try:
        return KnownFeatures.descriptors_in(features)
    except InvalidInput:
        return np.zeros((0, 32), np.uint8)  # a damaged record only loses local matching


def _entries(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[int, np.ndarray]]:
    """Stored records (item id, features) as the descriptor index takes them."""
    return ((row[0], _descriptors(bytes(row[1]))) for row in rows)


class FeatureRepository(SqlRunner):
    """The local-feature half of the known items (mixed into :class:`SqlStorage`)."""

    def _init_features(self) -> None:
        self._features = FeatureIndex()
        #: While a large index is built off the event loop: the changes made meanwhile, to
        #: apply to it before it replaces the one in use.
        self._feature_changes: list[tuple[list[tuple[int, np.ndarray]], list[int]]] | None = None
        self._feature_build: asyncio.Task[None] | None = None

    @property
    def feature_index(self) -> FeatureIndex:
        """The in-memory descriptor index (read it; it changes through this storage)."""
        return self._features

    async def _save_features(self, db: Executor, item_id: int, fp: Fingerprint) -> None:
        if fp.known_features:
            await db.fetch(self._feature_sql.save, item_id, fp.known_features)

    def _learn_features(self, learned: Iterable[tuple[int, Fingerprint]]) -> None:
        """Put committed items' features into the index."""
        self._change_features(
            [(i, _descriptors(fp.known_features)) for i, fp in learned if fp.known_features], []
        )

    def _change_features(self, entries: list[tuple[int, np.ndarray]], gone: list[int]) -> None:
        self._features.remove(gone)
        self._features.set_many(entries)
        if self._feature_changes is not None:
            self._feature_changes.append((entries, gone))
        elif self._features.stale and (self._feature_build is None or self._feature_build.done()):
            # Grown far past what it was built for (an import, say): build it again.
            self._feature_changes = []
            self._feature_build = asyncio.get_running_loop().create_task(self._reload_features())

    async def _reload_features(self) -> None:
        try:
            await self._load_features()
        except Exception:
            log.exception("could not reload the local features; the index in use stays")
            self._feature_changes = None

    async def _load_features(self) -> None:
        """Read every item's features and index them. A small collection is indexed at once;
        a large one (minutes at 100,000 items) off the event loop while the bot runs: until
        it is ready, lookups use what has been learned since start (global hashes find the
        rest), and every change made meanwhile is applied to it before it takes over."""
        entries: list[tuple[int, np.ndarray]] = []
        after = 0
        while True:
            rows = await self._run("load local features", self._feature_sql.page, after, _PAGE)
            entries.extend(_entries(rows))
            if len(rows) < _PAGE:
                break
            after = rows[-1][0]
        if sum(len(d) for _, d in entries) <= EXHAUSTIVE:
            self._features = FeatureIndex.build(entries)
            self._apply_changes_to(self._features)
            return
        if self._feature_changes is None:
            self._feature_changes = []
        if self._feature_build is None or self._feature_build.done():
            self._feature_build = asyncio.create_task(self._build_features(entries))
        else:  # reloading: this is the build task itself
            await self._build_features(entries)

    async def _build_features(self, entries: list[tuple[int, np.ndarray]]) -> None:
        try:
            index = await asyncio.to_thread(FeatureIndex.build, entries)
        except Exception:
            log.exception(
                "could not build the local-feature index; crops and screenshots "
                "of known pictures are found only among items learned since start"
            )
            self._feature_changes = None
            return
        self._apply_changes_to(index)
        self._features = index
        log.info("local-feature index ready: %d items", len(index))

    def _apply_changes_to(self, index: FeatureIndex) -> None:
        """Replay on a new index the changes made while it was read and built."""
        for changed, gone in self._feature_changes or []:
            index.remove(gone)
            index.set_many(changed)
        self._feature_changes = None

    async def features_ready(self) -> None:
        """Wait until the local-feature index is built (tests, benchmarks, the CLI)."""
        if self._feature_build is not None:
            await asyncio.shield(self._feature_build)

    async def _refresh_features(self, changed: Sequence[int], retired: Sequence[int]) -> None:
        """Follow other instances' changes: re-read changed items' features, drop retired."""
        entries: list[tuple[int, np.ndarray]] = []
        # A page at a time: after another instance's bulk import, all of its items' records
        # (~8 KB each) at once would be hundreds of megabytes in one result.
        for start in range(0, len(changed), _PAGE):
            page = self._encode_list(list(changed[start : start + _PAGE]))
            rows = await self._run("read local features", self._feature_sql.of_items, page)
            entries.extend(_entries(rows))
        self._change_features(entries, list(retired))

    async def _local_ways(self, query: QueryFeatures, skip: set[int]) -> dict[int, Way]:
        """Known items found in the query by aligning their local features with it."""
        descriptors = query.keypoints.descriptors
        ids = await asyncio.to_thread(self._features.candidates, descriptors)
        ids = [item_id for item_id in ids if item_id not in skip]
        if not ids:
            return {}
        rows = await self._run(
            "read local features", self._feature_sql.of_items, self._encode_list(ids)
        )

        def verify() -> dict[int, Way]:
            found = {}
            for item_id, features in rows:
                try:
                    known = KnownFeatures.from_bytes(bytes(features))
                except InvalidInput:
                    continue
                alignment = align(known, query)
                if alignment is not None and (way := judge_alignment(alignment)) is not None:
                    found[item_id] = way
            return found

        return await asyncio.to_thread(verify)
