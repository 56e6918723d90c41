"""Multi-index hashing: every stored hash within a Hamming radius, without comparing them all.

Each hash is cut into ``m`` chunks of ``b`` bits (bits left over are simply not indexed). If
two hashes differ in at most ``T`` bits, and chunk ``i`` is given a radius ``t_i`` with
``sum(t_i + 1) >= T + 1``, then some chunk differs in at most its radius (pigeonhole). So every
true neighbour shares, in some chunk, a value within that chunk's radius of the query's; each
such value is a direct look-up in a counting-sorted table, and only the items found are
compared in full. See Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with
Multi-Index Hashing" (2014).

Why this layout: the time goes into the random reads of candidate rows, so buckets must be
sparse. ``b`` grows with the number of items (about ``log2(n) - 2``: ~5 items a bucket), which
means long chunks with a radius of 2: for PDQ at 10M items, 12 chunks of 21 bits, ~1,900
probes and ~9,000 candidates per query (16-bit chunks gave ~42,000). Memory is the other
limit, so a bucket entry is a 3-byte slot (a uint16 and a uint8 column) and bucket offsets
are uint32: ~4.8 bytes per item per table. The tables are immutable; :mod:`storage.index`
adds a small brute-force tail for recent additions and rebuilds now and then.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["MultiIndex", "chunk_bits_for", "distances", "hamming_rows"]


def hamming_rows(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance from each row of ``words`` (n, w) uint64 to ``query`` (w,) uint64."""
    return distances(words, np.broadcast_to(query, words.shape))


def distances(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Hamming distance between matching rows of two (n, w) uint64 arrays, as int32.

    Adding the per-word counts column by column is ~2x faster than ``sum(axis=1)`` on
    short rows.
    """
    counts = np.bitwise_count(rows ^ queries)
    if counts.ndim == 1 or counts.shape[1] == 1:
        return counts.reshape(len(counts)).astype(np.int32)
    total = counts[:, 0].astype(np.int32)
    for column in range(1, counts.shape[1]):
        total += counts[:, column]
    return total


def chunk_bits_for(items: int) -> int:
    """Chunk width for ``items`` hashes: ~5 items per bucket, between 8 and 24 bits."""
    return min(24, max(8, round(math.log2(max(items, 1))) - 2))


def _masks(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit XOR mask with at most ``radius`` bits set."""
    masks = [
        sum(1 << b for b in chosen)
        for r in range(radius + 1)
        for chosen in itertools.combinations(range(bits), r)
    ]
    return np.array(masks, dtype=np.uint32)


def _chunk_values(words: np.ndarray, starts: np.ndarray, bits: int) -> np.ndarray:
    """Chunk values (n, len(starts)) uint32: ``bits`` bits of each row from each bit offset."""
    word, shift = np.divmod(starts, 64)
    values = words[:, word] >> shift.astype(np.uint64)
    crossing = shift + bits > 64
    if crossing.any():
        nxt = np.minimum(word + 1, words.shape[1] - 1)
        carry = words[:, nxt] << np.where(crossing, 64 - shift, 0).astype(np.uint64)
        values |= carry & np.where(crossing, ~np.uint64(0), np.uint64(0))
    return (values & np.uint64((1 << bits) - 1)).astype(np.uint32)


class MultiIndex:
    """An immutable multi-index over hashes of ``w`` 64-bit words, for one distance threshold.

    ``probe_many`` returns a superset of the rows within ``threshold`` of each query (each
    possibly several times); the caller measures the exact distance of those few.
    """

    __slots__ = (
        "_bits",
        "_hi",
        "_lo",
        "_n",
        "_offsets",
        "_probe_chunk",
        "_probe_mask",
        "_starts",
        "threshold",
    )

    def __init__(
        self,
        words: np.ndarray,
        slots: np.ndarray,
        threshold: int,
        *,
        chunk_bits: int | None = None,
        tables: int | None = None,
    ) -> None:
        """Index ``words`` (n, w) uint64 whose rows are known to the caller as ``slots`` (n,).

        ``tables`` caps the number of chunks (fewer tables: less memory, more probes).
        """
        if words.ndim != 2 or words.dtype != np.uint64:
            raise ValueError("words must be a 2-d uint64 array")
        n, width = words.shape
        bits = chunk_bits or chunk_bits_for(n)
        count = min(width * 64 // bits, threshold + 1, tables or threshold + 1)
        self.threshold = threshold
        self._n = n
        self._bits = bits
        self._starts = np.arange(count, dtype=np.int64) * bits
        # Radii summing (plus one each) to threshold + 1: the pigeonhole bound, as even as can be.
        base, extra = divmod(threshold + 1, count)
        radii = [base - 1 + (c < extra) for c in range(count)]
        masks = [_masks(bits, r) for r in radii]
        self._probe_chunk = np.concatenate(
            [np.full(len(m), c, dtype=np.int64) for c, m in enumerate(masks)]
        )
        self._probe_mask = np.concatenate(masks)
        # Table c's bucket v holds entries [c * n + offsets[c, v], c * n + offsets[c, v + 1]).
        buckets = 1 << bits
        offset_type = np.uint32 if n < 2**32 else np.int64
        self._offsets = np.zeros((count, buckets + 1), dtype=offset_type)
        # A slot as a uint16 and a high part (uint8 below 16M items): 3 bytes instead of 4.
        slots = np.asarray(slots, dtype=np.int64)
        high_type = np.uint8 if n == 0 or int(slots.max()) >> 16 < 256 else np.uint32
        self._lo = np.empty(count * n, dtype=np.uint16)
        self._hi = np.empty(count * n, dtype=high_type)
        for c in range(count):
            values = _chunk_values(words, self._starts[c : c + 1], bits)[:, 0]
            np.cumsum(np.bincount(values, minlength=buckets), out=self._offsets[c, 1:])
            ordered = slots[np.argsort(values, kind="stable")]
            self._lo[c * n : (c + 1) * n] = ordered & 0xFFFF
            self._hi[c * n : (c + 1) * n] = ordered >> 16

    @property
    def nbytes(self) -> int:
        return self._lo.nbytes + self._hi.nbytes + self._offsets.nbytes

    @property
    def probes(self) -> int:
        """Buckets looked at per query."""
        return len(self._probe_mask)

    def probe(self, query: np.ndarray) -> np.ndarray:
        """Slots sharing a chunk value within its radius of ``query`` (w,) uint64."""
        return self.probe_many(np.asarray(query, dtype=np.uint64).reshape(1, -1))[1]

    def probe_many(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For queries (k, w) uint64: (query row, slot) of every candidate, as two arrays."""
        k = len(queries)
        values = _chunk_values(queries, self._starts, self._bits)
        buckets = values[:, self._probe_chunk] ^ self._probe_mask  # (k, probes)
        flat = (self._probe_chunk * (self._offsets.shape[1])) + buckets.astype(np.int64)
        offsets = self._offsets.reshape(-1)
        starts = offsets[flat].astype(np.int64).ravel()
        lengths = offsets[flat + 1].astype(np.int64).ravel() - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
        starts += np.tile(self._probe_chunk * self._n, k)
        # Concatenate the ranges [start, start + length) without a Python loop.
        before = np.cumsum(lengths) - lengths
        positions = np.arange(total, dtype=np.int64) + np.repeat(starts - before, lengths)
        slots = np.take(self._hi, positions).astype(np.int64) << 16
        slots |= np.take(self._lo, positions)
        owners = np.repeat(np.arange(k * self.probes, dtype=np.intp) // self.probes, lengths)
        return owners, slots
