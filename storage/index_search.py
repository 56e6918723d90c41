"""Answering queries from the index's columns and tables: what is near a picture's hashes.

:class:`storage.index.NearDuplicateIndex` holds and maintains the columns (slots ``[0,
built)`` served by multi-index tables, a tail scanned by brute force, dead slots skipped);
this half only reads them, so the reading rules sit apart from the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from checks.matching import Candidate
from checks.signals import Fingerprint, Pdq
from storage.fingerprint_batch import NO_QUALITY, hex_words
from storage.index_keys import Query
from storage.mih import MultiIndex, distances, hamming_rows

__all__ = ["ALIVE", "PRESENT", "IndexSearch"]

#: Bits of the index's ``present`` column: which hashes an item has, and whether its slot is
#: live (an updated or removed item's old slot is dead until the next rebuild drops it).
PRESENT = {"pdq": np.uint8(1), "phash": np.uint8(2)}
ALIVE = np.uint8(4)


def _close(
    words: np.ndarray, slots: np.ndarray, bounds: np.ndarray, queries: np.ndarray, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which candidates are within ``threshold`` of their query: ``(query row, slot, distance)``.

    Query ``i``'s candidates are ``slots[bounds[i]:bounds[i + 1]]``. Most are strangers, so
    the first pass is as lean as numpy allows, for all queries at once: one gather, one XOR,
    and the four per-word counts of a PDQ row (each at most 64) summed by a multiply into the
    top byte of their uint32 view. That sum is modulo 256 (a row differing in all 256 bits
    reads 0), so the few rows left are measured again exactly.
    """
    counts = np.diff(bounds)
    rows = np.take(words, slots, axis=0, mode="clip")  # slots are valid: no checked copy
    if words.shape[1] == 4 and len(slots) > 32 and threshold < 255:
        rows ^= np.repeat(queries, counts, axis=0)
        packed = np.bitwise_count(rows).view(np.uint32).reshape(-1)
        near = packed * np.uint32(0x01010101) <= np.uint32((threshold << 24) | 0xFFFFFF)
        at = np.flatnonzero(near)
        owner = np.searchsorted(bounds, at, side="right") - 1
        slots = slots[at]
        rows = np.take(words, slots, axis=0, mode="clip")
    else:
        owner = np.repeat(np.arange(len(queries)), counts)
    d = distances(rows, np.take(queries, owner, axis=0))
    close = d <= threshold
    return owner[close], slots[close], d[close]


class IndexSearch:
    """The queries of :class:`storage.index.NearDuplicateIndex`, over the state it keeps."""

    pdq_threshold: int
    phash_threshold: int
    _cols: dict[str, np.ndarray]
    _n: int
    _built: int
    _pdq_table: MultiIndex | None
    _phash_table: MultiIndex | None
    _sha_table: MultiIndex | None

    def _has(self, name: str, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Whether each of ``rows`` (all slots by default) has a ``name`` hash."""
        return (self._cols["present"][rows] & PRESENT[name]) > 0

    def _alive(self, rows: slice | np.ndarray) -> np.ndarray:
        """Whether each of ``rows`` is a live slot."""
        flags = self._cols["present"]
        found = flags[rows] if isinstance(rows, slice) else np.take(flags, rows, mode="clip")
        return (found & ALIVE) > 0

    def candidates(self, query: Fingerprint) -> list[Candidate]:
        """Items that are an exact SHA-256 hit or within a threshold on PDQ, mirrored PDQ or pHash.

        An item near both the query and its mirror appears twice (``mirrored`` False and True);
        the caller keeps the better. A mirrored candidate has no pHash distance: the query's
        pHash is of the unmirrored picture.
        """
        return self._candidates(Query.parse(query), brute_force=False)

    def candidates_brute_force(self, query: Fingerprint) -> list[Candidate]:
        """Same answer as :meth:`candidates` by comparing every item: the reference for tests."""
        return self._candidates(Query.parse(query), brute_force=True)

    def _candidates(self, q: Query, *, brute_force: bool) -> list[Candidate]:
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

    def pdq_candidates(self, hashes: Sequence[str]) -> list[list[Candidate]]:
        """For each PDQ hash (a query's views: its turns, flips and framed parts), the items
        within the PDQ threshold, looked up in one pass, so the fixed cost of a look-up is paid
        once. They carry no pHash distance and are never exact: a view is compared by PDQ
        alone."""
        if not hashes:
            return []
        words = hex_words([Pdq.validate(h) for h in hashes], Pdq)[0]
        return [
            self._at(slots, dists.tolist(), [None] * len(slots), mirrored=False, exact=None)
            for slots, dists in self._near("pdq", words, False)
        ]

    def _near(
        self, name: str, queries: np.ndarray, brute_force: bool
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query row: live slots whose ``name`` hash is within the threshold (sorted,
        unique) and their distances."""
        k = len(queries)
        if not k:
            return []
        words = self._cols[name]
        threshold = self.pdq_threshold if name == "pdq" else self.phash_threshold
        table = self._pdq_table if name == "pdq" else self._phash_table
        found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(k)]
        scan_from = 0 if brute_force else self._built  # no table means no main slot has it
        if table is not None and not brute_force:
            bounds, probed = table.probe_many(queries)
            owner, slots, d = _close(words, probed, bounds, queries, threshold)
            alive = self._alive(slots)
            owner, slots, d = owner[alive], slots[alive], d[alive]
            cuts = np.searchsorted(owner, np.arange(k + 1)).tolist()  # owners come in order
            for row in range(k):
                found[row].append((slots[cuts[row] : cuts[row + 1]], d[cuts[row] : cuts[row + 1]]))
        if scan_from < self._n:
            scan = slice(scan_from, self._n)
            usable = self._has(name, scan) & self._alive(scan)
            for row in range(k):
                d = hamming_rows(words[scan], queries[row])
                hit = np.flatnonzero((d <= threshold) & usable)
                found[row].append((hit + scan_from, d[hit]))
        answers = []
        for parts in found:
            if not parts:
                answers.append((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)))
                continue
            if len(parts) == 1:
                slots, d = parts[0]
            else:
                slots = np.concatenate([p[0] for p in parts])
                d = np.concatenate([p[1] for p in parts])
            slots = slots.astype(np.int64, copy=False)
            if len(slots) > 1:
                # A neighbour close in several chunks is found several times: keep one of each.
                order = np.argsort(slots, kind="stable")
                slots, d = slots[order], d[order]
                first = np.append(True, slots[1:] != slots[:-1])
                slots, d = slots[first], d[first]
            answers.append((slots, d))
        return answers

    def _find_exact(self, key: int, brute_force: bool) -> int | None:
        """The live slot whose SHA-256 key is ``key``, if any (natural keys make it unique)."""
        keys = self._cols["sha_key"]
        scan_from = 0
        if not brute_force:
            if self._sha_table is not None:
                slots = self._sha_table.probe(np.array([key], dtype=np.uint64))
                hits = slots[keys[slots] == np.uint64(key)]
                for slot in hits[self._alive(hits)].tolist():
                    return int(slot)
            scan_from = self._built
        scan = slice(scan_from, self._n)
        hits = np.flatnonzero((keys[scan] == np.uint64(key)) & self._alive(scan))
        return int(hits[0]) + scan_from if len(hits) else None

    def _describe(
        self, slots: np.ndarray, q: Query, *, mirrored: bool, exact: int | None
    ) -> list[Candidate]:
        if not len(slots):
            return []
        pdq_query = q.pdq_mirrored if mirrored else q.pdq
        pdq_distances = self._distances("pdq", slots, pdq_query)
        phash_distances = self._distances("phash", slots, None if mirrored else q.phash)
        return self._at(slots, pdq_distances, phash_distances, mirrored=mirrored, exact=exact)

    def _at(
        self,
        slots: np.ndarray,
        pdq_distances: list[int | None],
        phash_distances: list[int | None],
        *,
        mirrored: bool,
        exact: int | None,
    ) -> list[Candidate]:
        """The candidates at these slots, with the distances already measured."""
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
        present = self._has(name, slots).tolist()
        return [d if ok else None for d, ok in zip(found, present, strict=True)]
