"""The in-memory near-duplicate index: which known items are close to a picture's hashes.

Pure Python and numpy, no SQL: both backends load it from their rows and keep it current. It
finds candidates; :func:`checks.matching.accept` decides. Hashes live in columns (one row per
item, a "slot", laid out as in :mod:`storage.fingerprint_batch`). Slots ``[0, built)`` are
sorted by item id and served by multi-index hash tables (:mod:`storage.mih`); later additions
form a tail that is scanned by brute force until it is big enough to be worth a rebuild. An
updated or removed item's old slot is marked dead and dropped at the next rebuild.

Memory decides the layout at 10 million items as much as speed: the SHA-256 digest is not
kept, only a keyed 64-bit digest of it (:mod:`storage.index_keys`) and, for the main slots, an
int32 order sorting them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from checks.signals import Fingerprint, Pdq, Phash
from storage.fingerprint_batch import BATCH_FIELDS, FingerprintBatch
from storage.index_keys import sha_keys
from storage.index_search import IndexSearch
from storage.mih import MultiIndex

__all__ = ["FingerprintBatch", "NearDuplicateIndex", "sha_keys"]  # batch re-exported for callers

#: The index's columns: a batch's, with the SHA-256 words replaced by their keyed digest.
_FIELDS = tuple("sha_key" if name == "sha256" else name for name in BATCH_FIELDS)


def _columns(batch: FingerprintBatch) -> dict[str, np.ndarray]:
    """``batch`` as the index stores it."""
    columns = {name: getattr(batch, name) for name in BATCH_FIELDS if name != "sha256"}
    keys = sha_keys(batch.sha256)
    keys[~batch.has_sha256] = 0
    return {name: keys if name == "sha_key" else columns[name] for name in _FIELDS}


class NearDuplicateIndex(IndexSearch):
    """Known items' hashes in memory; :meth:`candidates` finds those near a query.

    Not thread-safe: use it from one event loop. A rebuild (when the tail of recent additions
    passes ``max(min_tail, built / tail_fraction)`` or dead slots pile up) costs about as much
    as the initial build, so it is rare: once every ~30,000 additions at a million items.
    """

    def __init__(
        self,
        *,
        pdq_threshold: int = Pdq.threshold,
        phash_threshold: int = Phash.threshold,
        min_tail: int = 8192,
        tail_fraction: int = 32,
    ) -> None:
        self.pdq_threshold = pdq_threshold
        self.phash_threshold = phash_threshold
        self._min_tail = min_tail
        self._tail_fraction = tail_fraction
        self._cols: dict[str, np.ndarray] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._n = 0  # slots in use
        self._allocate(0)
        self._built = 0  # slots served by the tables (sorted by id)
        self._dead = 0
        self._tail: dict[int, int] = {}  # item id -> live slot, for slots >= built
        self._pdq_table: MultiIndex | None = None
        self._phash_table: MultiIndex | None = None
        self._sha_order = np.zeros(0, dtype=np.int32)  # main slots sorted by SHA-256 key

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_batches(
        cls, batches: Iterable[FingerprintBatch], **options: int
    ) -> NearDuplicateIndex:
        """Build in one pass (the start-up load); a repeated id keeps its last row."""
        batches = list(batches)
        index = cls(**options)
        index._allocate(sum(len(b) for b in batches) + index._min_tail)
        for batch in batches:
            index._write(batch)
        index.rebuild()
        return index

    def rebuild(self) -> None:
        """Fold the tail into the tables and drop dead slots."""
        ids = self._cols["ids"]
        live = np.flatnonzero(self._alive[: self._n])
        order = live[np.argsort(ids[live], kind="stable")]
        if len(order) > 1:
            sorted_ids = ids[order]
            order = order[np.append(sorted_ids[1:] != sorted_ids[:-1], True)]
        size = len(order)
        for column in self._cols.values():
            column[:size] = column[order]
        self._alive[:size] = True
        self._alive[size:] = False
        self._n = self._built = size
        self._dead = 0
        self._tail.clear()
        self._pdq_table = self._table("pdq", self.pdq_threshold)
        self._phash_table = self._table("phash", self.phash_threshold)
        self._sha_order = np.argsort(self._cols["sha_key"][:size]).astype(np.int32)

    def _table(self, name: str, threshold: int) -> MultiIndex | None:
        slots = np.flatnonzero(self._cols[f"has_{name}"][: self._built])
        if not len(slots):
            return None
        return MultiIndex(self._cols[name][slots], slots.astype(np.int32), threshold)

    def _allocate(self, capacity: int) -> None:
        """Grow every column to hold ``capacity`` slots, keeping the slots in use."""
        template = _columns(FingerprintBatch.from_columns([], [], [], [], []))
        used = self._n
        for name in _FIELDS:
            old = self._cols.get(name, template[name])
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            new[:used] = old[:used]
            self._cols[name] = new
        alive = np.zeros(capacity, dtype=bool)
        alive[:used] = self._alive[:used]
        self._alive = alive

    def _write(self, batch: FingerprintBatch | dict[str, np.ndarray]) -> None:
        """Append rows as live slots (columns only; the caller tracks the ids)."""
        columns = _columns(batch) if isinstance(batch, FingerprintBatch) else batch
        start, count = self._n, len(columns["ids"])
        if start + count > len(self._alive):
            # Grow by a quarter: at a million items, doubling would reserve ~90 MB unused.
            self._allocate(max(start + count, len(self._alive) * 5 // 4, 1024))
        for name in _FIELDS:
            self._cols[name][start : start + count] = columns[name]
        self._alive[start : start + count] = True
        self._n += count

    def live(self) -> FingerprintBatch:
        """Every item the index holds, as one batch (a copy).

        SHA-256 digests are not kept (see the module's docstring), so the batch has none:
        ``has_sha256`` is False throughout. :meth:`updated` copies the index's own columns.
        """
        columns = self._live_columns()
        return FingerprintBatch(
            **{
                name: columns[name] for name in BATCH_FIELDS if name not in ("sha256", "has_sha256")
            },
            sha256=np.zeros((len(columns["ids"]), 4), dtype=np.uint64),
            has_sha256=np.zeros(len(columns["ids"]), dtype=bool),
        )

    def _live_columns(self) -> dict[str, np.ndarray]:
        slots = np.flatnonzero(self._alive[: self._n])
        return {name: self._cols[name][slots] for name in _FIELDS}

    def updated(
        self, changes: Iterable[tuple[FingerprintBatch, Sequence[int]]]
    ) -> tuple[NearDuplicateIndex, int]:
        """A new index: this one with ``changes`` (additions, removed ids) applied, and how many
        items they added, changed or removed.

        This index is only read, so the caller may build the new one on a thread while this
        one goes on answering lookups, then swap them: a large refresh then never stalls the
        event loop for the rebuilds it needs.
        """
        fresh = NearDuplicateIndex(
            pdq_threshold=self.pdq_threshold,
            phash_threshold=self.phash_threshold,
            min_tail=self._min_tail,
            tail_fraction=self._tail_fraction,
        )
        fresh._allocate(len(self) + self._min_tail)
        fresh._write(self._live_columns())
        fresh.rebuild()
        return fresh, fresh.apply(changes)

    # -- keeping current --------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n - self._dead

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, int) and self._slot_of(item_id) is not None

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
        instance as one refresh, and it runs on the bot's event loop.
        """
        batch = batch.last_per_id()
        slots = self._slots_of(batch.ids)
        known = np.flatnonzero(slots >= 0)
        same = np.ones(len(known), dtype=bool)
        columns = _columns(batch.take(known))
        for name in _FIELDS:
            mine, theirs = self._cols[name][slots[known]], columns[name]
            equal = mine == theirs
            same &= equal.all(axis=1) if equal.ndim > 1 else equal
        for slot in slots[known[~same]].tolist():
            self._kill(slot)
        keep = np.ones(len(batch), dtype=bool)
        keep[known[same]] = False
        fresh = batch if keep.all() else batch.take(keep)
        if len(fresh):
            start = self._n
            self._write(fresh)
            for offset, item_id in enumerate(fresh.ids.tolist()):
                self._tail[item_id] = start + offset
            self._maybe_rebuild()
        return len(fresh)

    def remove(self, item_id: int) -> bool:
        """Forget an item; False if it was not there."""
        slot = self._slot_of(item_id)
        if slot is None:
            return False
        self._kill(slot)
        self._maybe_rebuild()
        return True

    def _slot_of(self, item_id: int) -> int | None:
        slot = int(self._slots_of(np.array([item_id], dtype=np.int64))[0])
        return None if slot < 0 else slot

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        """The live slot of each id (-1 where the index does not hold it)."""
        slots = np.full(len(ids), -1, dtype=np.int64)
        main_ids = self._cols["ids"][: self._built]
        if self._built:
            at = np.minimum(np.searchsorted(main_ids, ids), self._built - 1)
            found = (main_ids[at] == ids) & self._alive[at]
            slots[found] = at[found]
        if self._tail:
            tail = self._tail
            for row in np.flatnonzero(slots < 0).tolist():
                slot = tail.get(int(ids[row]))
                if slot is not None:
                    slots[row] = slot
        return slots

    def _kill(self, slot: int) -> None:
        self._alive[slot] = False
        self._dead += 1
        if slot >= self._built:
            del self._tail[int(self._cols["ids"][slot])]

    def _maybe_rebuild(self) -> None:
        tail_limit = max(self._min_tail, self._built // self._tail_fraction)
        dead_limit = max(self._min_tail, self._n // 4)
        if self._n - self._built > tail_limit or self._dead > dead_limit:
            self.rebuild()

    # -- querying ---------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Memory held by the columns and tables (for the benchmark)."""
        tables = [t.nbytes for t in (self._pdq_table, self._phash_table) if t is not None]
        columns = sum(c.nbytes for c in self._cols.values()) + self._alive.nbytes
        return columns + sum(tables) + self._sha_order.nbytes
