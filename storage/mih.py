"""Multi-index hashing: every stored hash within a Hamming radius, without comparing them all.

Each hash is cut into 16-bit chunks. If two hashes differ in at most ``T`` bits and there are
``m`` chunks, at least one chunk differs in at most ``T // m`` bits (pigeonhole). So every true
neighbour shares, in some chunk, a value within that small radius of the query's chunk. Those
values are few (17 for PDQ: 16 chunks, radius 1; 137 for pHash: 4 chunks, radius 2), each is a
direct look-up in a counting-sorted table, and only the items found are compared in full.
See Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with Multi-Index Hashing"
(2014). The tables are immutable; :mod:`storage.index` adds a small brute-force tail for recent
additions and rebuilds now and then.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_BITS", "MultiIndex", "hamming_rows"]

#: Chunk width. 16 bits keeps a table at 65,536 buckets: one direct look-up per probe value.
CHUNK_BITS = 16
_BUCKETS = 1 << CHUNK_BITS
_ALL_CHUNK_VALUES = np.arange(_BUCKETS, dtype=np.uint16)


def hamming_rows(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance from each row of ``words`` (n, w) uint64 to ``query`` (w,) uint64."""
    return np.bitwise_count(words ^ query).sum(axis=1, dtype=np.int32)


def _probe_values(radius: int) -> np.ndarray:
    """Every 16-bit XOR mask with at most ``radius`` bits set (the query chunk's neighbours)."""
    return _ALL_CHUNK_VALUES[np.bitwise_count(_ALL_CHUNK_VALUES) <= radius]


class MultiIndex:
    """An immutable multi-index over hashes of ``w`` 64-bit words, for one distance threshold.

    ``probe`` returns a superset of the rows within ``threshold`` of the query (each possibly
    several times); the caller measures the exact distance of those few.
    """

    __slots__ = ("_chunks", "_masks", "_offsets", "_row_base", "_slots", "threshold")

    def __init__(self, words: np.ndarray, slots: np.ndarray, threshold: int) -> None:
        """Index ``words`` (n, w) uint64 whose rows are known to the caller as ``slots`` (n,)."""
        if words.ndim != 2 or words.dtype != np.uint64:
            raise ValueError("words must be a 2-d uint64 array")
        n, width = words.shape
        self._chunks = width * (64 // CHUNK_BITS)
        self.threshold = threshold
        self._masks = _probe_values(threshold // self._chunks)
        chunks = np.ascontiguousarray(words).view(np.uint16).reshape(n, self._chunks)
        # One counting-sorted table per chunk: bucket v of chunk c holds
        # _slots[_offsets[c, v] : _offsets[c, v + 1]]; offsets are global into the flat _slots.
        self._slots = np.empty(self._chunks * n, dtype=np.int32)
        self._offsets = np.empty((self._chunks, _BUCKETS + 1), dtype=np.int64)
        for c in range(self._chunks):
            column = chunks[:, c]
            order = np.argsort(column, kind="stable")  # a radix sort for 16-bit keys
            self._slots[c * n : (c + 1) * n] = slots[order]
            self._offsets[c, 0] = c * n
            np.cumsum(np.bincount(column, minlength=_BUCKETS), out=self._offsets[c, 1:])
            self._offsets[c, 1:] += c * n
        self._row_base = np.arange(self._chunks)[:, None]

    @property
    def nbytes(self) -> int:
        return self._slots.nbytes + self._offsets.nbytes

    def probe(self, query: np.ndarray) -> np.ndarray:
        """Slots sharing a chunk value within the pigeonhole radius of ``query`` (w,) uint64."""
        chunk_values = np.ascontiguousarray(query, dtype=np.uint64).view(np.uint16)
        buckets = (chunk_values[:, None] ^ self._masks[None, :]).astype(np.intp)
        starts = self._offsets[self._row_base, buckets].ravel()
        lengths = self._offsets[self._row_base, buckets + 1].ravel() - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int32)
        # Concatenate the ranges [start, start + length) without a Python loop.
        before = np.cumsum(lengths) - lengths
        positions = np.arange(total, dtype=np.int64) + np.repeat(starts - before, lengths)
        return self._slots[positions]
