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

__all__ = ["IndexSearch"]


class IndexSearch:
    """The queries of :class:`storage.index.NearDuplicateIndex`, over the state it keeps."""

    pdq_threshold: int
    phash_threshold: int
    _cols: dict[str, np.ndarray]
    _alive: np.ndarray
    _n: int
    _built: int
    _pdq_table: MultiIndex | None
    _phash_table: MultiIndex | None
    _sha_order: np.ndarray

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
        present = self._cols[f"has_{name}"][slots].tolist()
        return [d if ok else None for d, ok in zip(found, present, strict=True)]
