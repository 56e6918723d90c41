"""The in-memory near-duplicate index: which known items are close to a picture's hashes.

Pure Python and numpy, no SQL: both backends load it from their rows and keep it current. It
finds candidates; :func:`checks.matching.accept` decides. Hashes live in columns (one row per
item, a "slot", laid out as in :mod:`storage.fingerprint_batch`). Slots ``[0, built)`` are
sorted by item id and served by multi-index hash tables (:mod:`storage.mih`); later additions
form a tail that is scanned by brute force until it is big enough to be worth a rebuild. An
updated or removed item's old slot is marked dead and dropped at the next rebuild.

Memory decides the layout at 10 million items as much as speed (about 1 GB there, two thirds
of it the hashes themselves): the SHA-256 digest is not kept, only a keyed 64-bit digest of it
(:mod:`storage.index_keys`; 0 means none), found through a one-table multi-index of its own;
ids are int32 until one does not fit, and the PDQ quality is an int8.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from checks.signals import Fingerprint, Pdq, Phash
from storage.fingerprint_batch import BATCH_FIELDS, FingerprintBatch
from storage.index_keys import sha_keys
from storage.index_search import ALIVE, PRESENT, IndexSearch
from storage.mih import MultiIndex, chunk_bits_for

# FingerprintBatch is re-exported for callers.
__all__ = ["FingerprintBatch", "NearDuplicateIndex", "pdq_tables", "sha_keys"]

#: Memory for PDQ's multi-index tables: each costs ~3.5 bytes an item, so at 10 million items
#: this allows 11 tables of 22 bits (the whole index then stays under 1 GB); smaller indexes
#: get every table the pigeonhole allows (14 of 18 bits at a million items: fewer probes).
_PDQ_TABLE_BYTES = 384 * 2**20
#: Fewer PDQ tables would need wider radii: probes would grow much faster than memory shrinks.
_PDQ_MIN_TABLES = 11

#: The index's columns: a batch's, with the SHA-256 words replaced by their keyed digest (never
#: 0, so 0 stands for "no SHA-256" and needs no flag of its own) and the PDQ and pHash
#: presence flags packed into one byte with the slot's liveness (:data:`PRESENT`, :data:`ALIVE`).
_FIELDS = ("ids", "sha_key", "pdq", "pdq_quality", "phash", "present")
#: Narrower types than a batch's, used while every value fits (a column widens when one does
#: not: ids from 2**31 on, say).
_NARROW = {"ids": np.int32, "pdq_quality": np.int8}


def _narrowed(values: np.ndarray, dtype: type[np.signedinteger]) -> np.ndarray:
    limits = np.iinfo(dtype)
    if len(values) and (values.min() < limits.min or values.max() > limits.max):
        return values
    return values.astype(dtype)


def _columns(batch: FingerprintBatch) -> dict[str, np.ndarray]:
    """``batch`` as the index stores it."""
    columns = {name: getattr(batch, name) for name in BATCH_FIELDS if name in _FIELDS}
    columns["present"] = batch.has_pdq * PRESENT["pdq"] | batch.has_phash * PRESENT["phash"]
    keys = sha_keys(batch.sha256)
    keys[~batch.has_sha256] = 0
    columns["sha_key"] = keys
    for name, dtype in _NARROW.items():
        columns[name] = _narrowed(columns[name], dtype)
    return {name: columns[name] for name in _FIELDS}


def pdq_tables(items: int, bits: int) -> int:
    """How many PDQ tables of ``bits``-bit chunks ``items`` hashes may have (the multi-index
    uses fewer when the pigeonhole needs fewer)."""
    per_table = 3 * items + (1 << bits) * 9 // 8  # entries, then offsets
    return max(_PDQ_MIN_TABLES, _PDQ_TABLE_BYTES // per_table)


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
        self._n = 0  # slots in use
        self._allocate(0)
        self._built = 0  # slots served by the tables (sorted by id)
        self._dead = 0
        self._tail: dict[int, int] = {}  # item id -> live slot, for slots >= built
        self._pdq_table: MultiIndex | None = None
        self._phash_table: MultiIndex | None = None
        self._sha_table: MultiIndex | None = None  # main slots by SHA-256 key

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
        live = np.flatnonzero(self._alive(slice(0, self._n)))
        order = live[np.argsort(ids[live], kind="stable")]
        if len(order) > 1:
            sorted_ids = ids[order]
            order = order[np.append(sorted_ids[1:] != sorted_ids[:-1], True)]
        size = len(order)
        for column in self._cols.values():
            column[:size] = column[order]
        self._cols["present"][:size] |= ALIVE
        self._cols["present"][size:] = 0
        self._n = self._built = size
        self._dead = 0
        self._tail.clear()
        self._pdq_table = self._table("pdq", self._has("pdq"), self.pdq_threshold)
        self._phash_table = self._table("phash", self._has("phash"), self.phash_threshold)
        self._sha_table = self._table("sha_key", self._cols["sha_key"] != 0, 0)

    def _table(self, name: str, present: np.ndarray, threshold: int) -> MultiIndex | None:
        slots = np.flatnonzero(present[: self._built])
        if not len(slots):
            return None
        words = self._cols[name][slots].reshape(len(slots), -1)
        bits = chunk_bits_for(len(slots))
        if threshold == 0:
            # One probe a query: a wider bucket costs nothing, and narrower offsets save memory.
            return MultiIndex(words, slots, 0, chunk_bits=max(8, bits - 4))
        tables = pdq_tables(len(slots), bits) if name == "pdq" else None
        return MultiIndex(words, slots, threshold, chunk_bits=bits, tables=tables)

    def _allocate(self, capacity: int, wider: dict[str, np.dtype] | None = None) -> None:
        """Grow every column to hold ``capacity`` slots, keeping the slots in use (and give
        the ``wider`` columns their new types)."""
        template = _columns(FingerprintBatch.from_columns([], [], [], [], []))
        used = self._n
        for name in _FIELDS:
            old = self._cols.get(name, template[name])
            dtype = (wider or {}).get(name, old.dtype)
            new = np.zeros((capacity, *old.shape[1:]), dtype=dtype)
            new[:used] = old[:used]
            self._cols[name] = new

    def _write(self, batch: FingerprintBatch | dict[str, np.ndarray]) -> None:
        """Append rows as live slots (columns only; the caller tracks the ids)."""
        columns = _columns(batch) if isinstance(batch, FingerprintBatch) else batch
        start, count = self._n, len(columns["ids"])
        wider = {
            name: columns[name].dtype
            for name in _NARROW
            if columns[name].itemsize > self._cols[name].itemsize
        }
        if start + count > len(self._cols["ids"]) or wider:
            # Grow by a quarter: at a million items, doubling would reserve ~90 MB unused.
            capacity = len(self._cols["ids"])
            if start + count > capacity:
                capacity = max(start + count, capacity * 5 // 4, 1024)
            self._allocate(capacity, wider)
        for name in _FIELDS:
            self._cols[name][start : start + count] = columns[name]
        self._cols["present"][start : start + count] |= ALIVE
        self._n += count

    def live(self) -> FingerprintBatch:
        """Every item the index holds, as one batch (a copy).

        SHA-256 digests are not kept (see the module's docstring), so the batch has none:
        ``has_sha256`` is False throughout. :meth:`updated` copies the index's own columns.
        """
        columns = self._live_columns()
        count = len(columns["ids"])
        return FingerprintBatch(
            ids=columns["ids"].astype(np.int64),
            sha256=np.zeros((count, 4), dtype=np.uint64),
            has_sha256=np.zeros(count, dtype=bool),
            pdq=columns["pdq"],
            has_pdq=columns["present"] & PRESENT["pdq"] > 0,
            pdq_quality=columns["pdq_quality"].astype(np.int16),
            phash=columns["phash"],
            has_phash=columns["present"] & PRESENT["phash"] > 0,
        )

    def _live_columns(self) -> dict[str, np.ndarray]:
        slots = np.flatnonzero(self._alive(slice(0, self._n)))
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
            if name == "present":
                mine &= ~ALIVE
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
            # In the column's own type: searchsorted would otherwise widen the whole column.
            info = np.iinfo(main_ids.dtype)
            fits = (ids >= info.min) & (ids <= info.max)
            probe = np.where(fits, ids, 0).astype(main_ids.dtype)
            at = np.minimum(np.searchsorted(main_ids, probe), self._built - 1)
            found = (main_ids[at] == ids) & fits & self._alive(at)
            slots[found] = at[found]
        if self._tail:
            tail = self._tail
            for row in np.flatnonzero(slots < 0).tolist():
                slot = tail.get(int(ids[row]))
                if slot is not None:
                    slots[row] = slot
        return slots

    def _kill(self, slot: int) -> None:
        self._cols["present"][slot] &= ~ALIVE
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
        tables = (self._pdq_table, self._phash_table, self._sha_table)
        columns = sum(c.nbytes for c in self._cols.values())
        return columns + sum(t.nbytes for t in tables if t is not None)
