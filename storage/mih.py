"""Multi-index hashing: every stored hash within a Hamming radius, without comparing them all.

Each hash is cut into ``m`` chunks of ``b`` bits (bits left over are simply not indexed). If
two hashes differ in at most ``T`` bits, and chunk ``i`` is given a radius ``t_i`` with
``sum(t_i + 1) >= T + 1``, then some chunk differs in at most its radius (pigeonhole). So every
true neighbour shares, in some chunk, a value within that chunk's radius of the query's; each
such value is a direct look-up in a counting-sorted table, and only the items found are
compared in full. See Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with
Multi-Index Hashing" (2014).

Why this layout: the time goes into random reads (a bucket's offsets, its entries, each
candidate's row), so buckets must be sparse, and memory decides how many tables there can be.
``b`` grows with the number of items (``chunk_bits_for``: two to four items a bucket), and the
caller caps the tables; for PDQ at 10M items, 11 chunks of 22 bits: 2,563 probes and ~6,100
candidates per query (12 chunks of 21 bits: 1,944 and ~9,300, and more memory). A bucket entry
is a 3-byte slot (a uint16 and a uint8 column); bucket offsets are a uint32 per block of 32
buckets plus a one-byte offset within the block (a block of more than 255 entries, many near
copies of one picture, keeps its offsets in a small side table): ~1.2 bytes per bucket
instead of 4. Candidates are checked for all queries at once,
first by a lean pass over the whole row (see ``storage.index_search``). The tables are
immutable; :mod:`storage.index` adds a small brute-force tail for recent additions and
rebuilds now and then.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["MultiIndex", "chunk_bits_for", "distances", "hamming_rows"]

#: Buckets per block of the offset directory (a power of two).
_BLOCK_SHIFT = 5


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
    """Chunk width for ``items`` hashes: about two items per bucket, between 8 and 24 bits."""
    return min(24, max(8, math.ceil(math.log2(max(items, 1))) - 2))


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
        "_base",
        "_bits",
        "_carry",
        "_carry_mask",
        "_crowded",
        "_hi",
        "_lo",
        "_n",
        "_probe_base",
        "_probe_chunk",
        "_probe_mask",
        "_probe_rel",
        "_probe_table",
        "_rel",
        "_shift",
        "_starts",
        "_wide_blocks",
        "_wide_rel",
        "_word",
        "_word_after",
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
        bits = max(_BLOCK_SHIFT, chunk_bits or chunk_bits_for(n))  # at least one whole block
        count = max(1, min(width * 64 // bits, threshold + 1, tables or threshold + 1))
        self.threshold = threshold
        self._n = n
        self._bits = bits
        self._starts = np.arange(count, dtype=np.int64) * bits
        # How to cut the chunks out of a query, worked out once (a query is a few numpy calls).
        word, shift = np.divmod(self._starts, 64)
        crossing = shift + bits > 64
        self._word, self._shift = word, shift.astype(np.uint64)
        self._word_after = np.minimum(word + 1, width - 1)
        self._carry = np.where(crossing, 64 - shift, 0).astype(np.uint64)
        self._carry_mask = np.where(crossing, ~np.uint64(0), np.uint64(0))
        # Radii summing (plus one each) to threshold + 1: the pigeonhole bound, as even as can be.
        base, extra = divmod(threshold + 1, count)
        radii = [base - 1 + (c < extra) for c in range(count)]
        masks = [_masks(bits, r) for r in radii]
        self._probe_chunk = np.concatenate(
            [np.full(len(m), c, dtype=np.int64) for c, m in enumerate(masks)]
        )
        self._probe_mask = np.concatenate(masks)
        buckets = 1 << bits
        blocks = max(1, buckets >> _BLOCK_SHIFT)
        # Where each probe's table starts in the flattened directory arrays and entries.
        self._probe_rel = self._probe_chunk * (buckets + 1)
        self._probe_base = self._probe_chunk * (blocks + 1)
        self._probe_table = self._probe_chunk * n
        # Table c's bucket v holds entries c * n + [start(v), start(v + 1)), where
        # start(v) = base[c, v >> 5] + rel[c, v]: a block's first offset, then the bucket's
        # offset within its block.
        # A slot as a uint16 and a high part (uint8 below 16M items): 3 bytes instead of 4.
        slots = np.asarray(slots, dtype=np.int64)
        high_type = np.uint8 if n == 0 or int(slots.max()) >> 16 < 256 else np.uint32
        self._lo = np.empty(count * n, dtype=np.uint16)
        self._hi = np.empty(count * n, dtype=high_type)
        firsts = np.arange(0, buckets + 1, 1 << _BLOCK_SHIFT)
        firsts = np.append(firsts, buckets) if firsts[-1] != buckets else firsts
        # Filled in place (no per-table pieces left behind on the heap). A block holding more
        # than 255 entries (many near copies of one picture) keeps its offsets within the block
        # in a side table instead, so crowded buckets cost ~140 bytes a block, not a wider type
        # for every bucket.
        self._base = np.empty((count, len(firsts)), dtype=np.uint32 if n < 2**32 else np.int64)
        self._rel = np.empty((count, buckets + 1), dtype=np.uint8)
        wide_blocks, wide_rel = [], []
        for c in range(count):
            values = _chunk_values(words, self._starts[c : c + 1], bits)[:, 0]
            cumulative = np.zeros(buckets + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=buckets), out=cumulative[1:])
            ordered = slots[np.argsort(values, kind="stable")]
            self._lo[c * n : (c + 1) * n] = ordered & 0xFFFF
            self._hi[c * n : (c + 1) * n] = ordered >> 16
            self._base[c] = cumulative[firsts]
            # Each bucket's offset within its block, in place (a repeated copy would be 16 MB).
            within = cumulative[: (len(firsts) - 1) << _BLOCK_SHIFT]
            within.reshape(-1, 1 << _BLOCK_SHIFT)[...] -= self._base[c, :-1, None]
            cumulative[len(within) :] -= self._base[c, -1]
            per_block = within.reshape(-1, 1 << _BLOCK_SHIFT)
            crowded = np.flatnonzero(per_block[:, -1] > 255)  # offsets only grow in a block
            wide_blocks.append(crowded + c * len(firsts))
            wide_rel.append(per_block[crowded].astype(np.uint32))
            per_block[crowded] = 0
            self._rel[c] = cumulative
        self._base = self._base.reshape(-1)
        self._rel = self._rel.reshape(-1)
        self._wide_blocks = np.concatenate(wide_blocks)  # sorted: tables, then blocks in order
        self._wide_rel = np.concatenate(wide_rel)
        self._crowded = np.zeros(len(self._base), dtype=bool)  # a byte a block: 1.4 MB at 10M
        self._crowded[self._wide_blocks] = True

    @property
    def nbytes(self) -> int:
        sides = self._wide_blocks.nbytes + self._wide_rel.nbytes + self._crowded.nbytes
        return self._lo.nbytes + self._hi.nbytes + self._base.nbytes + self._rel.nbytes + sides

    @property
    def probes(self) -> int:
        """Buckets looked at per query."""
        return len(self._probe_mask)

    @property
    def tables(self) -> int:
        return len(self._starts)

    def probe(self, query: np.ndarray) -> np.ndarray:
        """Slots sharing a chunk value within its radius of ``query`` (w,) uint64."""
        query = np.asarray(query, dtype=np.uint64).reshape(1, -1)
        if self.probes > 1 or self._carry_mask[0]:
            return self.probe_many(query)[1]
        # One bucket (an equality look-up): plain integers beat a dozen numpy calls.
        bucket = int(query[0, self._word[0]]) >> int(self._shift[0]) & ((1 << self._bits) - 1)
        start, end = self._start(bucket), self._start(bucket + 1)
        slots = np.left_shift(self._hi[start:end], 16, dtype=np.int64)
        slots |= self._lo[start:end]
        return slots

    def _start(self, bucket: int) -> int:
        """Where the first table's ``bucket`` starts (:meth:`_offsets` for one bucket)."""
        block = bucket >> _BLOCK_SHIFT
        start = int(self._base[block]) + int(self._rel[bucket])
        if self._crowded[block]:
            at = int(np.searchsorted(self._wide_blocks, block))
            start += int(self._wide_rel[at, bucket & ((1 << _BLOCK_SHIFT) - 1)])
        return start

    def probe_many(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For queries (k, w) uint64: ``(bounds, slots)``, the candidate slots of query ``i``
        being ``slots[bounds[i]:bounds[i + 1]]``."""
        k = len(queries)
        values = queries[:, self._word] >> self._shift
        values |= (queries[:, self._word_after] << self._carry) & self._carry_mask
        values &= np.uint64((1 << self._bits) - 1)
        buckets = (values[:, self._probe_chunk] ^ self._probe_mask).astype(np.int64)  # (k, p)
        nxt = buckets + 1
        starts = self._offsets(buckets)
        lengths = self._offsets(nxt) - starts
        starts += self._probe_table
        per_query = lengths.sum(axis=1)
        bounds = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(per_query, out=bounds[1:])
        total = int(bounds[-1])
        if total == 0:
            return bounds, np.empty(0, dtype=np.int64)
        lengths, starts = lengths.ravel(), starts.ravel()
        # Concatenate the ranges [start, start + length) without a Python loop.
        before = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - before, lengths)
        positions += np.arange(total, dtype=np.int64)
        # Every index is in range by construction: mode="clip" spares numpy a checked copy.
        slots = np.left_shift(np.take(self._hi, positions, mode="clip"), 16, dtype=np.int64)
        slots |= np.take(self._lo, positions, mode="clip")
        return bounds, slots

    def _offsets(self, buckets: np.ndarray) -> np.ndarray:
        """Where each of the probes' buckets (k, p) starts within its table, as int64."""
        blocks = (buckets >> _BLOCK_SHIFT) + self._probe_base
        start = np.take(self._base, blocks, mode="clip").astype(np.int64)
        start += np.take(self._rel, buckets + self._probe_rel, mode="clip")
        if len(self._wide_blocks):
            crowded = np.take(self._crowded, blocks, mode="clip")
            if crowded.any():
                at = np.searchsorted(self._wide_blocks, blocks[crowded])
                within = buckets[crowded] & ((1 << _BLOCK_SHIFT) - 1)
                start[crowded] += self._wide_rel[at, within]
        return start
