"""The near-duplicate index's store: every item's hashes in one set of columns, searched whole.

Slots ``[0, main)`` are sorted by id and served by the main tables; slots ``[main, built)``
are recent additions served by small tables of their own, rebuilt now and then; slots from
``built`` on are a tail of the latest, compared whole. All three are searched in one pass
over the same columns (:mod:`storage.index_tables` says what they hold). Rows never move once
written (an updated or removed item's old slot is only marked dead), so the builders
(:func:`merge` here, :func:`storage.index_tables.index_recent`) read what they need and may
run on a thread while the store goes on answering and taking additions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from storage.index_tables import (
    ALIVE,
    FIELDS,
    NARROW,
    NO_TABLES,
    PRESENT,
    Recent,
    Tables,
    narrowed,
)

__all__ = ["Store", "merge"]

#: Slots compared at once by a scan (bounds its temporary arrays).
_SCAN_ROWS = 1 << 16
_NOTHING = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))


def _sum_pairs(counts: np.ndarray) -> np.ndarray:
    """Each row's sum of an (..., 2) uint8 array of bit counts (each at most 64), as uint16:
    the pair viewed as one uint16 and multiplied sums them into its top byte."""
    packed = counts.view(np.uint16).reshape(counts.shape[:-1])
    packed *= np.uint16(0x0101)
    packed >>= np.uint16(8)
    return packed


class Store:
    """The columns and tables; :meth:`near` searches them."""

    def __init__(self, cols: dict[str, np.ndarray], size: int, thresholds: dict[str, int]) -> None:
        """Serve ``cols``, whose first ``size`` rows are live, sorted by id and each id once,
        by main tables (the rows after are room for additions)."""
        self.cols = cols
        self.thresholds = thresholds
        self.main = self.built = self.size = size
        self.main_dead = 0
        rows = {name: column[:size] for name, column in cols.items()}
        self.tables = Tables.over(rows, None, thresholds)
        self.recent = Recent(size, NO_TABLES, np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._tail: dict[int, int] = {}  # id -> live slot, for slots from ``built`` on
        self._dead_outside = 0

    def __len__(self) -> int:
        return self.size - self.main_dead - self._dead_outside

    @property
    def outside(self) -> int:
        """Slots outside the main tables (recent and tail, dead or alive)."""
        return self.size - self.main

    @property
    def tail(self) -> int:
        """Slots added since the recent tables were built."""
        return self.size - self.built

    @property
    def nbytes(self) -> int:
        columns = sum(c.nbytes for c in self.cols.values())
        return columns + self.tables.nbytes + self.recent.nbytes

    # -- reading ----------------------------------------------------------------------------

    def alive(self, slots: np.ndarray) -> np.ndarray:
        return (self.cols["present"].take(slots, mode="clip") & ALIVE) > 0

    def live_slots(self, begin: int = 0) -> np.ndarray:
        return np.flatnonzero(self.cols["present"][begin : self.size] & ALIVE) + begin

    def distances(self, name: str, slots: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The ``name`` distance from each of ``slots`` to ``query`` (w,) uint64, as int32."""
        rows = self.cols[name].take(slots, axis=0, mode="clip")
        if name == "pdq":
            rows = np.concatenate((rows, self.cols["pdq_back"].take(slots, axis=0, mode="clip")), 1)
        for j in range(rows.shape[1]):  # column by column, as in _close
            rows[:, j] ^= query[j]
        return np.bitwise_count(rows).sum(axis=1, dtype=np.int32)

    def near(
        self, queries: dict[str, np.ndarray], brute_force: bool = False
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For each kind of hash asked (its queries (k, w)), the live slots with that hash
        within its threshold of each query: ``(query row, slot, distance)`` in no particular
        order, a slot possibly more than once.

        The main and recent tables' candidates and the tail, for every kind, are checked in
        one pass; ``brute_force`` compares every slot instead (the reference for tests).
        """
        if brute_force:
            return {name: self._scan(name, q) for name, q in queries.items()}
        probed = [self._probe(self.tables, queries), self._probe(self.recent.tables, queries)]
        tail = np.arange(self.built, self.size, dtype=np.int64) if self.size > self.built else None
        found = {}
        for name, mine in queries.items():
            # Each query's candidates: the main tables', the recent tables', the tail.
            pieces: list[np.ndarray] = []
            cuts = [0]
            for row in range(len(mine)):
                for per_kind in probed:
                    if name in per_kind:
                        bounds, slots = per_kind[name]
                        pieces.append(slots[bounds[row] : bounds[row + 1]])
                if tail is not None:
                    pieces.append(tail)
                cuts.append(sum(len(p) for p in pieces))
            if not cuts[-1]:
                found[name] = _NOTHING
                continue
            candidates = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
            found[name] = self._close(name, candidates, np.array(cuts), mine)
        return found

    @staticmethod
    def _probe(
        tables: Tables, queries: dict[str, np.ndarray]
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each kind's ``(bounds, candidate slots)`` from ``tables``, all kinds in one pass."""
        if tables.near is None:
            return {}
        asked = [queries.get(name) for name in tables.kinds]
        bounds, slots = tables.near.probe_layers(asked)
        out, row = {}, 0
        for name, mine in zip(tables.kinds, asked, strict=True):
            if mine is not None and len(mine):
                out[name] = (bounds[row : row + len(mine) + 1], slots)
                row += len(mine)
        return out

    def _close(
        self, name: str, slots: np.ndarray, bounds: np.ndarray, queries: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which candidates are live, have the hash and are within the threshold of their query.

        Query ``i``'s candidates are ``slots[bounds[i]:bounds[i + 1]]``. Most are strangers, so
        the first pass reads only the first 128 bits of each (a PDQ row's front half) and is as
        lean as numpy allows; the few left are measured in full. Numpy calls cost about a
        microsecond each before any work: array methods, in place, as few as can be.
        """
        threshold = self.thresholds[name]
        front = self.cols[name]
        width = front.shape[1]
        rows = front.take(slots, axis=0, mode="clip")  # slots are valid: no checked copy
        # Column by column: XOR-ing an (m, 2) array with a (2,) row runs numpy's inner loop
        # two elements at a time, ~4x slower.
        k = len(queries)
        if k <= 4:
            for row, (begin, end) in enumerate(itertools.pairwise(bounds.tolist())):
                for j in range(width):
                    rows[begin:end, j] ^= queries[row, j]
        else:
            counts = np.diff(bounds)
            for j in range(width):
                rows[:, j] ^= queries[:, j].repeat(counts)
        counts = np.bitwise_count(rows)
        d = _sum_pairs(counts) if width == 2 else counts.reshape(len(counts))
        at = (d <= threshold).nonzero()[0]
        d = d[at].astype(np.int32)
        slots = slots[at]
        owner = bounds.searchsorted(at, side="right") - 1
        if name == "pdq":
            back = self.cols["pdq_back"].take(slots, axis=0, mode="clip")
            back ^= queries[owner, width:]
            d += _sum_pairs(np.bitwise_count(back))
        want = PRESENT[name] | ALIVE
        usable = self.cols["present"].take(slots, mode="clip") & want == want
        keep = ((d <= threshold) & usable).nonzero()[0]
        return owner[keep], slots[keep], d[keep]

    def _scan(self, name: str, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`near` by comparing every slot, a block of them at a time for all queries."""
        found = []
        for begin in range(0, self.size, _SCAN_ROWS):
            slots = np.arange(begin, min(self.size, begin + _SCAN_ROWS), dtype=np.int64)
            bounds = np.arange(len(queries) + 1, dtype=np.int64) * len(slots)
            found.append(self._close(name, np.tile(slots, len(queries)), bounds, queries))
        if not found:
            return _NOTHING
        return tuple(map(np.concatenate, zip(*found, strict=True)))  # type: ignore[return-value]

    def slots_of(self, ids: np.ndarray, *, main_only: bool = False) -> np.ndarray:
        """The live slot of each id (-1 where the store does not hold it)."""
        slots = np.full(len(ids), -1, dtype=np.int64)
        if not len(ids):
            return slots
        if self.main:
            mine = self.cols["ids"][: self.main]
            # In the column's own type: searchsorted would otherwise widen the whole column.
            info = np.iinfo(mine.dtype)
            fits = (ids >= info.min) & (ids <= info.max)
            at = np.minimum(
                mine.searchsorted(np.where(fits, ids, 0).astype(mine.dtype)), self.main - 1
            )
            found = (mine[at] == ids) & fits & self.alive(at)
            slots[found] = at[found]
        if main_only:
            return slots
        recent = self.recent
        if len(recent.ids):
            at = np.minimum(recent.ids.searchsorted(ids), len(recent.ids) - 1)
            found = (recent.ids[at] == ids) & self.alive(recent.slots[at]) & (slots < 0)
            slots[found] = recent.slots[at[found]]
        if self._tail:
            get = self._tail.get
            for row in np.flatnonzero(slots < 0).tolist():
                slots[row] = get(int(ids[row]), -1)
        return slots

    # -- changing -----------------------------------------------------------------------------

    def append(self, columns: dict[str, np.ndarray]) -> None:
        """Add live rows to the tail (the caller has killed any older slot of their ids).

        The columns have room for the recent additions the index allows; past that (many
        additions while a merge runs) they grow by a quarter: a copy, but a rare one."""
        start, count = self.size, len(columns["ids"])
        for name in FIELDS:
            old, values = self.cols[name], columns[name]
            if name in NARROW and np.issubdtype(old.dtype, NARROW[name]):
                values = narrowed(values, NARROW[name])  # widen only for what does not fit
            wider = np.result_type(old.dtype, values.dtype)
            if start + count > len(old) or wider != old.dtype:
                capacity = len(old)
                if start + count > capacity:
                    capacity = max(start + count, capacity + capacity // 4)
                new = np.zeros((capacity, *old.shape[1:]), dtype=wider)
                new[:start] = old[:start]
                self.cols[name] = new
            self.cols[name][start : start + count] = values
        self.size += count
        self._tail.update(zip(columns["ids"].tolist(), range(start, start + count), strict=True))

    def kill(self, slot: int) -> int:
        """Mark a live slot dead; returns its id."""
        self.cols["present"][slot] &= ~ALIVE
        item_id = int(self.cols["ids"][slot])
        if slot < self.main:
            self.main_dead += 1
        else:
            self._dead_outside += 1
            if slot >= self.built:
                del self._tail[item_id]
        return item_id

    def kill_main(self, ids: Sequence[int]) -> None:
        """Mark dead the live main slots of these ids, where there are some."""
        slots = self.slots_of(np.asarray(ids, dtype=np.int64), main_only=True)
        for slot in np.unique(slots[slots >= 0]).tolist():
            self.kill(slot)

    def use_recent(self, recent: Recent) -> None:
        """Serve slots ``[main, recent.built)`` by ``recent``'s tables."""
        self.recent = recent
        self.built = recent.built
        self._tail = {i: s for i, s in self._tail.items() if s >= self.built}

    def rows(self, begin: int) -> dict[str, np.ndarray]:
        """Copies of the live rows from slot ``begin`` on."""
        live = self.live_slots(begin)
        return {name: self.cols[name][live] for name in FIELDS}

    def snapshot(self, end: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """What a builder reads: the columns as they are, and a copy of the liveness of
        slots ``[0, end)``."""
        return dict(self.cols), self.cols["present"][:end].copy()


def merge(
    sources: Sequence[tuple[dict[str, np.ndarray], np.ndarray]],
    thresholds: dict[str, int],
    spare: int,
) -> Store:
    """A store of the live rows of ``sources`` (each columns and a copy of their ``present``
    column up to the slots to take), sorted by id, with room for ``spare`` more; a repeated
    id keeps its last row.

    Reads its sources and nothing else, and writes only what it returns: it may run on a
    thread while the store it reads goes on answering (and marking slots dead).
    """
    picks = [np.flatnonzero(present & ALIVE) for _, present in sources]
    pairs = list(zip(sources, picks, strict=True))
    ids = np.concatenate([cols["ids"][pick] for (cols, _), pick in pairs])
    order = np.argsort(ids, kind="stable")
    if len(order) > 1:
        sorted_ids = ids[order]
        order = order[np.append(sorted_ids[1:] != sorted_ids[:-1], True)]
    del ids
    merged = {}
    for name in FIELDS:
        column = np.concatenate([cols[name][pick] for (cols, _), pick in pairs])[order]
        if name in NARROW:
            column = narrowed(column, NARROW[name])
        # Written into room for the additions to come, so that they need no copy.
        merged[name] = np.zeros((len(order) + spare, *column.shape[1:]), dtype=column.dtype)
        merged[name][: len(order)] = column
        del column
    merged["present"][: len(order)] |= ALIVE
    return Store(merged, len(order), thresholds)
