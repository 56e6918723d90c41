"""The in-memory near-duplicate index: which known items are close to a picture's hashes.

Pure Python and numpy, no SQL: both backends load it from their rows and keep it current. It
finds candidates; :func:`checks.matching.accept` decides. Hashes live in columns (one row per
item, a "slot", laid out as in :mod:`storage.fingerprint_batch`). Slots ``[0, built)`` are
sorted by item id and served by multi-index hash tables (:mod:`storage.mih`); later additions
form a tail that is scanned by brute force until it is big enough to be worth a rebuild. An
updated or removed item's old slot is marked dead and dropped at the next rebuild.

Memory decides the layout at 10 million items as much as speed: the SHA-256 digest is not
kept, only a keyed 64-bit digest of it (:func:`sha_keys`) and, for the main slots, an int32
order sorting them. A random per-process key means nobody can make two files whose keys
collide without first learning it (a plain 64-bit prefix collides after ~2^32 tries, enough to
pass one file off as an exact copy of another); by chance, a query meets a false exact hit
with odds of about n / 2^64.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from checks.matching import Candidate
from checks.signals import Fingerprint, HashKind, Pdq, Phash, Sha256
from storage.fingerprint_batch import BATCH_FIELDS, NO_QUALITY, FingerprintBatch, hex_words
from storage.mih import MultiIndex, distances, hamming_rows

__all__ = ["FingerprintBatch", "NearDuplicateIndex", "sha_keys"]  # batch re-exported for callers

#: The index's columns: a batch's, with the SHA-256 words replaced by their keyed digest.
_FIELDS = tuple("sha_key" if name == "sha256" else name for name in BATCH_FIELDS)
#: Odd multipliers and a start value for :func:`sha_keys`, fresh in every process.
_SHA_SECRET = np.frombuffer(secrets.token_bytes(40), dtype=np.uint64) | np.uint64(1)


def _mix(values: np.ndarray) -> np.ndarray:
    """A bijective 64-bit finaliser (MurmurHash3's fmix64), in place."""
    values ^= values >> np.uint64(33)
    values *= np.uint64(0xFF51AFD7ED558CCD)
    values ^= values >> np.uint64(33)
    values *= np.uint64(0xC4CEB9FE1A85EC53)
    values ^= values >> np.uint64(33)
    return values


def sha_keys(words: np.ndarray) -> np.ndarray:
    """A keyed 64-bit digest of each SHA-256 (n, 4) uint64 row: equal digests, equal keys.

    Each word is folded in through a secret multiply and a bijective mix, so without the
    secret a collision cannot be searched for offline.
    """
    keys = np.full(len(words), _SHA_SECRET[4], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(4):
            keys ^= words[:, column]
            keys *= _SHA_SECRET[column]
            _mix(keys)
    return keys


_MASK64 = (1 << 64) - 1


def _sha_key(words: np.ndarray) -> int:
    """:func:`sha_keys` of one row, in plain integers (a dozen numpy calls cost ~0.1 ms)."""
    key = int(_SHA_SECRET[4])
    for column in range(4):
        key = ((key ^ int(words[column])) * int(_SHA_SECRET[column])) & _MASK64
        key ^= key >> 33
        key = (key * 0xFF51AFD7ED558CCD) & _MASK64
        key ^= key >> 33
        key = (key * 0xC4CEB9FE1A85EC53) & _MASK64
        key ^= key >> 33
    return key


def _columns(batch: FingerprintBatch) -> dict[str, np.ndarray]:
    """``batch`` as the index stores it."""
    columns = {name: getattr(batch, name) for name in BATCH_FIELDS if name != "sha256"}
    keys = sha_keys(batch.sha256)
    keys[~batch.has_sha256] = 0
    return {name: keys if name == "sha_key" else columns[name] for name in _FIELDS}


@dataclass(frozen=True, slots=True)
class _Query:
    """A query fingerprint's hashes as words (None where the query lacks them)."""

    sha256: int | None  # its key (:func:`sha_keys`)
    pdq: np.ndarray | None
    pdq_mirrored: np.ndarray | None
    phash: np.ndarray | None

    @classmethod
    def parse(cls, fp: Fingerprint) -> _Query:
        def words(value: str | None, kind: type[HashKind]) -> np.ndarray | None:
            return None if value is None else hex_words([kind.validate(value)], kind)[0][0]

        sha = words(fp.sha256, Sha256)
        return cls(
            sha256=None if sha is None else _sha_key(sha),
            pdq=words(fp.pdq, Pdq),
            pdq_mirrored=words(fp.pdq_mirrored, Pdq),
            phash=words(fp.phash, Phash),
        )


class NearDuplicateIndex:
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

    def candidates(self, query: Fingerprint) -> list[Candidate]:
        """Items that are an exact SHA-256 hit or within a threshold on PDQ, mirrored PDQ or pHash.

        An item near both the query and its mirror appears twice (``mirrored`` False and True);
        the caller keeps the better. A mirrored candidate has no pHash distance: the query's
        pHash is of the unmirrored picture.
        """
        return self._candidates(_Query.parse(query), brute_force=False)

    def candidates_brute_force(self, query: Fingerprint) -> list[Candidate]:
        """Same answer as :meth:`candidates` by comparing every item: the reference for tests."""
        return self._candidates(_Query.parse(query), brute_force=True)

    def _candidates(self, q: _Query, *, brute_force: bool) -> list[Candidate]:
        exact = None if q.sha256 is None else self._find_exact(q.sha256, brute_force)
        direct = [np.array([] if exact is None else [exact], dtype=np.int64)]
        pdq_queries = [w for w in (q.pdq, q.pdq_mirrored) if w is not None]
        pdq_found = self._near("pdq", np.array(pdq_queries, dtype=np.uint64), brute_force)
        if q.pdq is not None:
            direct.append(pdq_found[0][0])
        if q.phash is not None:
            direct.append(self._near("phash", q.phash.reshape(1, 1), brute_force)[0][0])
        found = self._describe(np.unique(np.concatenate(direct)), q, mirrored=False, exact=exact)
        if q.pdq_mirrored is not None:
            found += self._describe(pdq_found[-1][0], q, mirrored=True, exact=None)
        return found

    def near_pdq(self, words: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each PDQ hash in ``words`` (k, 4) uint64: the ids of the items within the PDQ
        threshold, and their distances (both sorted by slot).

        One pass for all k: a picture's dihedral transforms and reframings are looked up
        together, so the fixed cost of a look-up is paid once.
        """
        words = np.asarray(words, dtype=np.uint64).reshape(-1, 4)
        ids = self._cols["ids"]
        return [(ids[slots], found) for slots, found in self._near("pdq", words, False)]

    def pdq_candidates(self, hashes: Sequence[str]) -> list[list[Candidate]]:
        """For each PDQ hash (a query's views: its turns, flips and framed parts), the items
        within the PDQ threshold, looked up in one pass. They carry no pHash distance and are
        never exact: a view is compared by PDQ alone."""
        if not hashes:
            return []
        words = hex_words([Pdq.validate(h) for h in hashes], Pdq)[0]
        qualities = self._cols["pdq_quality"]
        ids = self._cols["ids"]
        found = []
        for slots, dists in self._near("pdq", words, False):
            found.append(
                [
                    Candidate(
                        item_id=item_id,
                        exact=False,
                        mirrored=False,
                        pdq_distance=distance,
                        phash_distance=None,
                        item_pdq_quality=None if quality == NO_QUALITY else quality,
                    )
                    for item_id, distance, quality in zip(
                        ids[slots].tolist(),
                        dists.tolist(),
                        qualities[slots].tolist(),
                        strict=True,
                    )
                ]
            )
        return found

    def _near(
        self, name: str, queries: np.ndarray, brute_force: bool
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query row: live slots whose ``name`` hash is within the threshold (sorted,
        unique) and their distances."""
        k = len(queries)
        if not k:
            return []
        words, has = self._cols[name], self._cols[f"has_{name}"]
        threshold = self.pdq_threshold if name == "pdq" else self.phash_threshold
        table = self._pdq_table if name == "pdq" else self._phash_table
        owners, slots, dists = [], [], []
        scan_from = 0 if brute_force else self._built  # no table means no main slot has it
        if table is not None and not brute_force:
            owner, slot = table.probe_many(queries)
            d = distances(np.take(words, slot, axis=0), np.take(queries, owner, axis=0))
            close = d <= threshold
            owner, slot, d = owner[close], slot[close], d[close]
            alive = np.take(self._alive, slot)
            owners.append(owner[alive])
            slots.append(slot[alive])
            dists.append(d[alive])
        if scan_from < self._n:
            scan = slice(scan_from, self._n)
            usable = has[scan] & self._alive[scan]
            for row in range(k):
                d = hamming_rows(words[scan], queries[row])
                hit = np.flatnonzero((d <= threshold) & usable)
                owners.append(np.full(len(hit), row, dtype=np.intp))
                slots.append(hit + scan_from)
                dists.append(d[hit])
        owner, slot, d = (
            np.concatenate(a) if a else np.zeros(0, dtype=np.int64) for a in (owners, slots, dists)
        )
        # A neighbour close in several chunks is found several times: keep one of each.
        key = owner.astype(np.int64) * (self._n + 1) + slot
        order = np.argsort(key, kind="stable")
        key, slot, d = key[order], slot[order], d[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, slot, d = key[first], slot[first], d[first]
        bounds = np.searchsorted(key // (self._n + 1), np.arange(k + 1))
        return [
            (slot[bounds[i] : bounds[i + 1]].astype(np.int64), d[bounds[i] : bounds[i + 1]])
            for i in range(k)
        ]

    def _find_exact(self, key: int, brute_force: bool) -> int | None:
        """The live slot whose SHA-256 key is ``key``, if any (natural keys make it unique)."""
        keys, has = self._cols["sha_key"], self._cols["has_sha256"]
        scan_from = 0
        if not brute_force:
            # A bisection by hand: searchsorted(sorter=) copies an int32 sorter to intp per call.
            order, lo, hi = self._sha_order, 0, len(self._sha_order)
            while lo < hi:
                mid = (lo + hi) // 2
                if int(keys[order[mid]]) < key:
                    lo = mid + 1
                else:
                    hi = mid
            while lo < len(order) and int(keys[order[lo]]) == key:
                slot = int(order[lo])
                if self._alive[slot] and has[slot]:
                    return slot
                lo += 1
            scan_from = self._built
        scan = slice(scan_from, self._n)
        hits = np.flatnonzero((keys[scan] == np.uint64(key)) & has[scan] & self._alive[scan])
        return int(hits[0]) + scan_from if len(hits) else None

    def _describe(
        self, slots: np.ndarray, q: _Query, *, mirrored: bool, exact: int | None
    ) -> list[Candidate]:
        if not len(slots):
            return []
        pdq_query = q.pdq_mirrored if mirrored else q.pdq
        pdq_distances = self._distances("pdq", slots, pdq_query)
        phash_distances = self._distances("phash", slots, None if mirrored else q.phash)
        ids = self._cols["ids"][slots].tolist()
        qualities = self._cols["pdq_quality"][slots].tolist()
        return [
            Candidate(
                item_id=item_id,
                exact=slot == exact,
                mirrored=mirrored,
                pdq_distance=pdq_d,
                phash_distance=phash_d,
                item_pdq_quality=None if quality == NO_QUALITY else quality,
            )
            for slot, item_id, pdq_d, phash_d, quality in zip(
                slots.tolist(), ids, pdq_distances, phash_distances, qualities, strict=True
            )
        ]

    def _distances(
        self, name: str, slots: np.ndarray, query: np.ndarray | None
    ) -> list[int | None]:
        """Distance from each slot's ``name`` hash to ``query``; None where either lacks it."""
        if query is None:
            return [None] * len(slots)
        found = hamming_rows(np.take(self._cols[name], slots, axis=0), query).tolist()
        present = self._cols[f"has_{name}"][slots].tolist()
        return [d if ok else None for d, ok in zip(found, present, strict=True)]

    @property
    def nbytes(self) -> int:
        """Memory held by the columns and tables (for the benchmark)."""
        tables = [t.nbytes for t in (self._pdq_table, self._phash_table) if t is not None]
        columns = sum(c.nbytes for c in self._cols.values()) + self._alive.nbytes
        return columns + sum(tables) + self._sha_order.nbytes
