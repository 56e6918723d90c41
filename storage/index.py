"""The in-memory near-duplicate index: which known items are close to a picture's hashes.

Pure Python and numpy, no SQL: both backends load it from their rows and keep it current. It
finds candidates; :func:`checks.matching.accept` decides. Items live in one store
(:mod:`storage.index_store`): main slots served by multi-index tables (:mod:`storage.mih`),
recent slots served by small tables of their own, and a tail of the latest additions,
compared whole, all searched in one pass. When the tail passes ``min_tail`` slots, new recent
tables are built over it and the recent slots; when the recent slots pass a 64th of the main
ones (or dead main slots pile up), everything is merged into a new store with new main
tables. Either runs on a thread, reading the store as it was when it began while the store
goes on answering and taking additions (rows never move, so those need no care); removals
made meanwhile are made again in a new store, which the next call then swaps in. Nothing is
lost, and the caller never waits for a rebuild (half a minute at 10 million items).

Memory decides the layout at 10 million items as much as speed (under 1 GB there, half of
it the hashes themselves): see :mod:`storage.index_tables`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from checks.signals import Fingerprint, Pdq, Phash
from storage.fingerprint_batch import FingerprintBatch
from storage.index_search import IndexSearch
from storage.index_store import Store, merge
from storage.index_tables import (
    ALIVE,
    FIELDS,
    PRESENT,
    Recent,
    columns_of,
    empty_columns,
    index_recent,
    pdq_tables,
)

# FingerprintBatch is re-exported for callers.
__all__ = ["FingerprintBatch", "NearDuplicateIndex", "pdq_tables"]


class _Merge:
    """A build under way: new main tables (a new store) or new recent tables, over the slots
    before ``end``; and, for a new store, the removals to make again when it is done."""

    def __init__(self, into_main: bool, end: int) -> None:
        self.into_main = into_main
        self.end = end
        self.killed: list[int] = []
        self.result: Store | Recent | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def run(self, build: Callable[[], Store | Recent]) -> None:
        try:
            self.result = build()
        except BaseException as exc:  # handed to the caller by NearDuplicateIndex._collect
            self.error = exc

    def start(self, build: Callable[[], Store | Recent]) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(build,), name="index-merge", daemon=True
        )
        self._thread.start()

    def done(self) -> bool:
        return self._thread is None or not self._thread.is_alive()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


class NearDuplicateIndex(IndexSearch):
    """Known items' hashes in memory; :meth:`candidates` finds those near a query.

    Not thread-safe: change it from one event loop (its builds run on a thread of their own,
    touching nothing it changes). ``min_tail`` is the most additions compared whole;
    ``tail_fraction`` bounds the recent slots to a fraction of the main ones. With
    ``background=False`` builds run in the call that starts them (for a caller already on a
    thread).
    """

    def __init__(
        self,
        *,
        pdq_threshold: int = Pdq.threshold,
        phash_threshold: int = Phash.threshold,
        min_tail: int = 1024,
        tail_fraction: int = 64,
        background: bool = True,
    ) -> None:
        self.pdq_threshold = pdq_threshold
        self.phash_threshold = phash_threshold
        self._min_tail = min_tail
        self._tail_fraction = tail_fraction
        self._background = background
        self._store = self._merged([])
        self._merge: _Merge | None = None

    def _merged(self, sources: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> Store:
        """A store of ``sources``' live rows, with room for the recent additions to come."""
        if not sources:
            empty = empty_columns()
            sources = [(empty, empty["present"])]
        items = sum(int(np.count_nonzero(present & ALIVE)) for _, present in sources)
        spare = 2 * self._recent_limit(items) + self._min_tail
        return merge(sources, self._thresholds, spare)

    @property
    def _thresholds(self) -> dict[str, int]:
        return {"pdq": self.pdq_threshold, "phash": self.phash_threshold}

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_batches(
        cls, batches: Iterable[FingerprintBatch], **options: int
    ) -> NearDuplicateIndex:
        """Build in one pass (the start-up load); a repeated id keeps its last row, and items
        without a near hash are left out."""
        index = cls(**options)
        findable = (batch.only_findable() for batch in batches)
        sources = [(c, c["present"]) for c in map(columns_of, findable)]
        index._store = index._merged(sources)
        return index

    def rebuild(self) -> None:
        """Merge everything into new main tables now, in this call."""
        self.wait()
        self._store = self._merged([self._store.snapshot(self._store.size)])

    def wait(self) -> None:
        """Finish a build under way and swap it in (tests, benchmarks)."""
        if self._merge is not None:
            self._merge.join()
        self._collect()

    def updated(
        self, changes: Iterable[tuple[FingerprintBatch, Sequence[int]]]
    ) -> tuple[NearDuplicateIndex, int]:
        """A new index: this one with ``changes`` (additions, removed ids) applied, and how many
        items they added, changed or removed.

        This index is only read, so the caller may build the new one on a thread while this
        one goes on answering lookups, then swap them: a large refresh then never stalls the
        event loop for the rebuilds it needs.
        """
        store = self._store  # a new store swapped in meanwhile leaves this one be
        fresh = NearDuplicateIndex(
            pdq_threshold=self.pdq_threshold,
            phash_threshold=self.phash_threshold,
            min_tail=self._min_tail,
            tail_fraction=self._tail_fraction,
            background=False,
        )
        fresh._store = fresh._merged([store.snapshot(store.size)])
        changed = fresh.apply(changes)
        fresh._background = self._background
        return fresh, changed

    def live(self) -> FingerprintBatch:
        """Every item the index holds, as one batch (a copy; :meth:`updated` copies the
        index's own columns instead)."""
        self._collect()
        rows = self._store.rows(0)
        return FingerprintBatch(
            ids=rows["ids"].astype(np.int64),
            pdq=np.concatenate([rows["pdq"], rows["pdq_back"]], axis=1),
            has_pdq=rows["present"] & PRESENT["pdq"] > 0,
            pdq_quality=rows["pdq_quality"].astype(np.int16),
            phash=rows["phash"],
            has_phash=rows["present"] & PRESENT["phash"] > 0,
        )

    # -- keeping current --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, int):
            return False
        return bool(self._store.slots_of(np.array([item_id], dtype=np.int64))[0] >= 0)

    @property
    def layout(self) -> dict[str, int | bool]:
        """Live items served by the main tables and the others, the tail's slots, and whether
        a build is under way (for the benchmark)."""
        store = self._store
        main = store.main - store.main_dead
        return {
            "main": main,
            "recent": len(store) - main,
            "tail": store.tail,
            "building": self._merge is not None,
        }

    @property
    def tail_limit(self) -> int:
        """The most additions compared whole before recent tables are built over them."""
        return self._min_tail

    @property
    def recent_limit(self) -> int:
        """The most slots outside the main tables before new ones are built."""
        return self._recent_limit(self._store.main - self._store.main_dead)

    def _recent_limit(self, main: int) -> int:
        return max(self._min_tail, main // self._tail_fraction)

    def apply(self, changes: Iterable[tuple[FingerprintBatch, Sequence[int]]]) -> int:
        """Apply ``changes`` (additions, removed ids) in order; how many items they added,
        changed or removed."""
        changed = 0
        for batch, retired in changes:
            changed += self.add_batch(batch)
            changed += sum(self.remove(item_id) for item_id in retired)
        return changed

    def add(self, item_id: int, fingerprint: Fingerprint) -> bool:
        """Add an item, or replace its hashes; False if it was already there unchanged."""
        return self.add_batch(FingerprintBatch.from_fingerprints([(item_id, fingerprint)])) > 0

    def add_batch(self, batch: FingerprintBatch) -> int:
        """Add or replace many items; returns how many were new or changed.

        Column-wise, not row by row: a re-import of 200,000 unchanged items reaches every
        instance as one refresh, and it runs on the bot's event loop. An item without a near
        hash (imported by SHA-256 alone, which the database finds) has no place here: it is
        removed if it was here.
        """
        self._collect()
        batch = batch.last_per_id()
        findable = batch.findable
        gone = 0
        if not findable.all():
            gone = sum(self.remove(item_id) for item_id in batch.ids[~findable].tolist())
            batch = batch.take(findable)
        store = self._store
        columns = columns_of(batch)
        slots = store.slots_of(batch.ids)
        known = np.flatnonzero(slots >= 0)
        same = np.ones(len(known), dtype=bool)
        for name in FIELDS:
            equal = store.cols[name][slots[known]] == columns[name][known]
            same &= equal.all(axis=1) if equal.ndim > 1 else equal
        for slot in slots[known[~same]].tolist():
            self._kill(slot)
        fresh = np.ones(len(batch), dtype=bool)
        fresh[known[same]] = False
        count = int(fresh.sum())
        if count:
            if count < len(batch):
                columns = {name: column[fresh] for name, column in columns.items()}
            store.append(columns)
            self._maybe_merge()
        return count + gone

    def remove(self, item_id: int) -> bool:
        """Forget an item; False if it was not there."""
        self._collect()
        slot = int(self._store.slots_of(np.array([item_id], dtype=np.int64))[0])
        if slot < 0:
            return False
        self._kill(slot)
        self._maybe_merge()
        return True

    def _kill(self, slot: int) -> None:
        item_id = self._store.kill(slot)
        merging = self._merge
        if merging is not None and merging.into_main and slot < merging.end:
            merging.killed.append(item_id)

    def _maybe_merge(self) -> None:
        """Start a build if the tail, the recent slots or the dead main slots are too many."""
        if self._merge is not None:
            return
        store = self._store
        dead_limit = max(self._min_tail, store.main // 4)
        if store.outside > self.recent_limit or store.main_dead > dead_limit:
            merging = _Merge(into_main=True, end=store.size)
            sources = [store.snapshot(store.size)]
            self._start(merging, lambda: self._merged(sources))
        elif store.tail > self._min_tail:
            merging = _Merge(into_main=False, end=store.size)
            cols, present = store.snapshot(store.size)
            main, thresholds = store.main, self._thresholds
            self._start(merging, lambda: index_recent(cols, present[main:], main, thresholds))

    def _start(self, merging: _Merge, build: Callable[[], Store | Recent]) -> None:
        self._merge = merging
        if self._background:
            merging.start(build)
        else:
            merging.run(build)
            self._collect()

    def _collect(self) -> None:
        """Swap in a finished build; for a new store, make again the removals made meanwhile
        and carry over the additions."""
        merging = self._merge
        if merging is None or not merging.done():
            return
        self._merge = None
        if merging.error is not None:
            raise merging.error
        result = merging.result
        if isinstance(result, Recent):
            self._store.use_recent(result)
        else:
            assert isinstance(result, Store)
            if merging.killed:
                result.kill_main(merging.killed)
            later = self._store.rows(merging.end)
            if len(later["ids"]):
                result.append(later)
            self._store = result
        self._maybe_merge()

    # -- querying ---------------------------------------------------------------------------

    def _parts(self) -> list[Store]:
        self._collect()
        return [self._store] if self._store.size else []

    @property
    def nbytes(self) -> int:
        """Memory held by the columns (with their room for additions) and the tables."""
        return self._store.nbytes
