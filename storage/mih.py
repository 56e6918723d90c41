"""Multi-index hashing: every stored hash within a Hamming radius, without comparing them all.

Each hash is cut into ``m`` chunks of ``b`` bits (bits left over are simply not indexed). If
two hashes differ in at most ``T`` bits, and chunk ``i`` is given a radius ``t_i`` with
``sum(t_i + 1) >= T + 1``, then some chunk differs in at most its radius (pigeonhole). So every
true neighbour shares, in some chunk, a value within that chunk's radius of the query's; each
such value is a direct look-up in a counting-sorted table, and only the items found are
compared in full. See Norouzi, Punjani and Fleet, "Fast Exact Search in Hamming Space with
Multi-Index Hashing" (2014).

Why this layout: the time goes into random reads (a bucket's offsets, its entries, each
candidate's row) and into numpy's fixed cost per call (about a microsecond), so buckets must
be sparse, every read should touch one cache line, a query should be a few dozen calls, and
memory decides how many tables there can be. ``b`` grows with the number of items
(``chunk_bits_for``: two to four items a bucket), and the caller caps the tables and may give
some of them one bit more where memory allows; for PDQ at 10M items, 11 chunks of 23 bits:
2,794 probes and ~3,300 candidates per query (all of 22 bits: 2,563 and ~6,100; 12 chunks of
21 bits: 1,944 and ~9,300, and more memory). A bucket entry is a slot in
3 bytes side by side (4 from 16M slots on), so one read fetches it. Bucket offsets are a
uint32 per block of 32 buckets plus, per bucket, a one-byte offset within the block; each
block also stores its end, so a bucket's start and end come from one block read and two
adjacent bytes (~1.16 bytes per bucket instead of 4 or 8). A block of more than 255 entries
(many near copies of one picture) is flagged in the top bit of its uint32 and keeps its
offsets in a small side table; a small index affords two-byte offsets and never crowds.
Several kinds of hash (:class:`Layer`, e.g. PDQ and pHash) can share one index's arrays,
so that one pass of calls serves queries of all of them. The tables are immutable;
:mod:`storage.index` keeps recent additions in tables of their own and rebuilds now and then.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Layer", "MultiIndex", "chunk_bits_for", "distances", "hamming_rows"]

#: Buckets per block of the offset directory (a power of two).
_BLOCK_SHIFT = 5
_BLOCK = 1 << _BLOCK_SHIFT
#: Offsets stored per block: one per bucket, and the block's end.
_REL = _BLOCK + 1
#: Query counts whose probe layout a table keeps (a look-up asks for one or two hashes, a
#: picture's views for a dozen or so).
_CACHED_ROW_COUNTS = 16
#: Below this many bucket offsets (a table set over a few hundred thousand items) they are
#: two bytes each: a few MB, and no crowded block to look aside for.
_SMALL_DIRECTORY = 1 << 22


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
    return np.array(masks, dtype=np.int64)


def _word_columns(words: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """The hashes' 64-bit words as (n,) columns: from an (n, w) array, or from (n, w_i)
    arrays whose columns follow one another (a hash stored in two halves)."""
    parts = [words] if isinstance(words, np.ndarray) else list(words)
    columns = [part[:, j] for part in parts for j in range(part.shape[1])]
    if any(c.dtype != np.uint64 for c in columns) or len({len(c) for c in columns}) > 1:
        raise ValueError("words must be 2-d uint64 arrays of equal length")
    return columns


@dataclass(frozen=True)
class Layer:
    """One kind of hash to index: its words (n, w) uint64, or its halves (n, w1) and (n, w2),
    the slots the caller knows those rows as, the distance threshold, and the chunking.

    ``tables`` caps the number of chunks (fewer tables: less memory, more probes); the first
    ``wider`` chunks (those given the widest radius) get one bit more, so half as many
    candidates for twice the bucket offsets, where memory allows.
    """

    words: np.ndarray | Sequence[np.ndarray]
    slots: np.ndarray
    threshold: int
    chunk_bits: int | None = None
    tables: int | None = None
    wider: int = 0


class _Geometry:
    """How one layer's chunks are cut out of a query and where its tables' probes land."""

    __slots__ = (
        "_for_rows",
        "carry",
        "carry_mask",
        "crossing",
        "masks",
        "probe_block",
        "probe_chunk",
        "probe_mask",
        "probe_rel",
        "shift",
        "threshold",
        "widths",
        "word",
        "word_after",
    )

    def __init__(self, layer: Layer, n: int, width: int, first_block: int) -> None:
        bits = max(_BLOCK_SHIFT, layer.chunk_bits or chunk_bits_for(n))  # a whole block or more
        threshold = layer.threshold
        count = max(1, min(width * 64 // bits, threshold + 1, layer.tables or threshold + 1))
        wider = min(layer.wider, count, width * 64 - count * bits)
        self.threshold = threshold
        self.widths = np.array([bits + (c < wider) for c in range(count)], dtype=np.int64)
        self.masks = ((np.uint64(1) << self.widths.astype(np.uint64)) - np.uint64(1)).reshape(1, -1)
        starts = np.concatenate(([0], np.cumsum(self.widths)[:-1]))
        word, shift = np.divmod(starts, 64)
        crossing = shift + self.widths > 64
        self.word, self.shift = word, shift.astype(np.uint64)
        self.word_after = np.minimum(word + 1, width - 1)
        self.carry = np.where(crossing, 64 - shift, 0).astype(np.uint64)
        self.carry_mask = np.where(crossing, ~np.uint64(0), np.uint64(0))
        self.crossing = bool(crossing.any())
        # Radii summing (plus one each) to threshold + 1: the pigeonhole bound, as even as can be.
        base, extra = divmod(threshold + 1, count)
        masks = [_masks(int(self.widths[c]), base - 1 + (c < extra)) for c in range(count)]
        self.probe_chunk = np.concatenate(
            [np.full(len(m), c, dtype=np.int64) for c, m in enumerate(masks)]
        )
        self.probe_mask = np.concatenate(masks)
        # Where each table starts in the directory, in blocks, and in offsets (33 a block):
        # bucket v of a table is at offset v + (v >> 5) from its table's first.
        blocks = (1 << self.widths) >> _BLOCK_SHIFT
        table_blocks = first_block + np.concatenate(([0], np.cumsum(blocks)))
        self.probe_block = table_blocks[self.probe_chunk]
        self.probe_rel = self.probe_block * _REL
        self._for_rows: dict[int, tuple[np.ndarray, ...]] = {}

    @property
    def blocks(self) -> int:
        return int(((1 << self.widths) >> _BLOCK_SHIFT).sum())

    def chunk_values(self, columns: list[np.ndarray], c: int) -> np.ndarray:
        """Chunk ``c`` of every stored hash, as int64 bucket numbers."""
        word, shift = int(self.word[c]), self.shift[c]
        values = columns[word] >> shift
        if self.carry_mask[c]:
            values |= columns[word + 1] << self.carry[c]
        values &= self.masks[0, c]
        return values.view(np.int64)

    def buckets(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For queries (k, w): every probe's bucket within its table, its block and its offset
        in the directory, each (k * probes,) int64, query after query."""
        values = queries[:, self.word] >> self.shift
        if self.crossing:
            values |= (queries[:, self.word_after] << self.carry) & self.carry_mask
        values &= self.masks
        chunks, masks, blocks_before, rel_before = self._rows(len(queries))
        buckets = values.view(np.int64).take(chunks)
        buckets ^= masks
        blocks = buckets >> _BLOCK_SHIFT
        rel = buckets + blocks
        rel += rel_before
        blocks += blocks_before
        return buckets, blocks, rel

    def _rows(self, k: int) -> tuple[np.ndarray, ...]:
        """The probes of ``k`` queries laid end to end: which chunk value each reads (an index
        into the (k, tables) values), its mask, and where its table starts, in blocks and in
        offsets. Kept per ``k``, so that one flat ``take`` and arithmetic on arrays of one
        shape do it all: indexing ``values[:, probe_chunk]`` returns a column-major array, on
        which the steps after ran several times slower (a sixth of a look-up at 10 million
        items)."""
        rows = self._for_rows.get(k)
        if rows is None:
            row_starts = np.arange(k, dtype=np.int64).repeat(len(self.probe_chunk))
            rows = (
                np.tile(self.probe_chunk, k) + row_starts * len(self.widths),
                np.tile(self.probe_mask, k),
                np.tile(self.probe_block, k),
                np.tile(self.probe_rel, k),
            )
            if len(self._for_rows) < _CACHED_ROW_COUNTS:
                self._for_rows[k] = rows
        return rows


class MultiIndex:
    """An immutable multi-index over one or more kinds of hash (layers), each with its own
    distance threshold, over the same slots.

    ``probe_many`` returns a superset of the rows within the threshold of each query (each
    possibly several times); the caller measures the exact distance of those few. The tables
    of all layers share their arrays, so one pass serves queries of every kind: numpy calls
    cost about a microsecond each before doing anything, and a query is some forty of them.
    """

    __slots__ = (
        "_base",
        "_entries",
        "_flag",
        "_layers",
        "_rel",
        "_wide_blocks",
        "_wide_rel",
        "_width",
    )

    def __init__(
        self,
        words: np.ndarray | Sequence[np.ndarray],
        slots: np.ndarray,
        threshold: int,
        *,
        chunk_bits: int | None = None,
        tables: int | None = None,
        wider: int = 0,
    ) -> None:
        """Index one kind of hash (see :class:`Layer` for the arguments)."""
        self._build([Layer(words, slots, threshold, chunk_bits, tables, wider)])

    @classmethod
    def of(cls, layers: Sequence[Layer]) -> MultiIndex:
        """Index several kinds of hash, probed together by :meth:`probe_layers`."""
        index = cls.__new__(cls)
        index._build(layers)
        return index

    def _build(self, layers: Sequence[Layer]) -> None:
        """Fill the tables in place (no per-table pieces left behind on the heap).

        Table t's entries follow those of the tables before it; block b's entries start at
        base[b] (a global position) and its bucket j's at base[b] + rel[b, j]. A flagged
        block's offsets within it are in the side table instead.
        """
        columns = [_word_columns(layer.words) for layer in layers]
        slots = [np.asarray(layer.slots, dtype=np.int64) for layer in layers]
        self._layers = []
        blocks = 0
        for layer, words, mine in zip(layers, columns, slots, strict=True):
            geometry = _Geometry(layer, len(mine), len(words), blocks)
            self._layers.append(geometry)
            blocks += geometry.blocks
        biggest = max((int(s.max()) for s in slots if len(s)), default=0)
        self._width = 3 if biggest < 1 << 24 else 4
        total = sum(len(g.widths) * len(s) for g, s in zip(self._layers, slots, strict=True))
        self._flag = 1 << 31 if total < 1 << 31 else 1 << 62
        self._base = np.empty(blocks, dtype=np.uint32 if total < 1 << 31 else np.int64)
        # Small directories afford two-byte offsets, and then no block is ever crowded.
        small = blocks * _REL < _SMALL_DIRECTORY
        self._rel = np.empty((blocks, _REL), dtype=np.uint16 if small else np.uint8)
        most = np.iinfo(self._rel.dtype).max
        entries = np.empty(total * self._width, dtype=np.uint8)
        wide_blocks, wide_rel = [], []
        at = 0  # entries written so far
        for geometry, words, mine in zip(self._layers, columns, slots, strict=True):
            n = len(mine)
            for c in range(len(geometry.widths)):
                values = geometry.chunk_values(words, c)
                first_block = int(geometry.probe_block[geometry.probe_chunk == c][0])
                count = (1 << int(geometry.widths[c])) >> _BLOCK_SHIFT
                cumulative = np.zeros((count << _BLOCK_SHIFT) + 1, dtype=np.int64)
                np.cumsum(np.bincount(values, minlength=count << _BLOCK_SHIFT), out=cumulative[1:])
                ordered = mine[np.argsort(values, kind="stable")]
                del values
                table = entries[at * self._width : (at + n) * self._width]
                for byte in range(self._width):
                    table[byte :: self._width] = (ordered >> (8 * byte)) & 0xFF
                del ordered
                # Each block's 33 cumulative counts, a view (a copy would be 35 MB at 22 bits).
                per_block = np.lib.stride_tricks.as_strided(
                    cumulative, shape=(count, _REL), strides=(_BLOCK * 8, 8), writeable=False
                )
                firsts = per_block[:, 0].copy()
                crowded = np.flatnonzero(per_block[:, -1] - firsts > most)  # offsets only grow
                self._base[first_block : first_block + count] = firsts + at
                rel = self._rel[first_block : first_block + count]
                for j in range(_REL):
                    rel[:, j] = np.minimum(per_block[:, j] - firsts, most)
                wide_blocks.append(crowded + first_block)
                wide_rel.append((per_block[crowded] - firsts[crowded, None]).astype(np.uint32))
                at += n
        self._rel = self._rel.reshape(-1)
        self._wide_blocks = np.concatenate(wide_blocks)  # sorted: tables, then blocks in order
        self._wide_rel = np.concatenate(wide_rel)
        self._base[self._wide_blocks] |= self._base.dtype.type(self._flag)
        self._entries = entries.view(np.uint32) if self._width == 4 else entries

    @property
    def nbytes(self) -> int:
        sides = self._wide_blocks.nbytes + self._wide_rel.nbytes
        return self._entries.nbytes + self._base.nbytes + self._rel.nbytes + sides

    @property
    def threshold(self) -> int:
        return self._layers[0].threshold

    @property
    def probes(self) -> int:
        """Buckets looked at per query (of the first layer)."""
        return len(self._layers[0].probe_mask)

    @property
    def tables(self) -> int:
        return len(self._layers[0].widths)

    @property
    def chunk_bits(self) -> list[int]:
        """Each table's chunk width (of the first layer)."""
        return self._layers[0].widths.tolist()

    def probe(self, query: np.ndarray) -> np.ndarray:
        """Slots sharing a chunk value within its radius of ``query`` (w,) uint64."""
        return self.probe_many(np.asarray(query, dtype=np.uint64).reshape(1, -1))[1]

    def probe_many(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For queries (k, w) uint64 of the first layer: ``(bounds, slots)``, the candidate
        slots of query ``i`` being ``slots[bounds[i]:bounds[i + 1]]``."""
        return self.probe_layers([queries])

    def probe_layers(self, queries: Sequence[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`probe_many` for queries of each layer ((k_i, w_i) uint64, or None for none),
        in one pass: query rows are numbered layer after layer."""
        parts, row_ends, done = [], [], 0
        for geometry, mine in zip(self._layers, queries, strict=True):
            if mine is None or not len(mine):
                continue
            parts.append(geometry.buckets(mine))
            probes = len(geometry.probe_mask)
            row_ends.extend(range(done + probes - 1, done + probes * len(mine), probes))
            done += probes * len(mine)
        bounds = np.zeros(len(row_ends) + 1, dtype=np.int64)
        if not parts:
            return bounds, np.empty(0, dtype=np.int64)
        if len(parts) == 1:
            buckets, blocks, rel = parts[0]
        else:
            buckets, blocks, rel = (np.concatenate(p) for p in zip(*parts, strict=True))
        # Every index is in range by construction: mode="clip" spares numpy a checked copy.
        base = self._base.take(blocks, mode="clip")
        first = self._rel.take(rel, mode="clip")
        rel += 1
        lengths = np.subtract(self._rel.take(rel, mode="clip"), first, dtype=np.int64)
        starts = np.add(base, first, dtype=np.int64)
        if len(self._wide_blocks):
            flagged = (base >= self._flag).nonzero()[0]
            if len(flagged):
                self._unflag(flagged, base, blocks, buckets, starts, lengths)
        # Concatenate the ranges [start, start + length) without a Python loop.
        ends = lengths.cumsum()
        bounds[1:] = ends.take(row_ends)
        total = int(bounds[-1])
        if total == 0:
            return bounds, np.empty(0, dtype=np.int64)
        ends -= lengths
        starts -= ends
        positions = starts.repeat(lengths)
        positions += np.arange(total, dtype=np.int64)
        return bounds, self._slots_at(positions)

    def _unflag(
        self,
        flagged: np.ndarray,
        base: np.ndarray,
        blocks: np.ndarray,
        buckets: np.ndarray,
        starts: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        """Read the offsets of probes into crowded blocks (``flagged``: their positions) from
        the side table, in place."""
        at = self._wide_blocks.searchsorted(blocks.take(flagged))
        within = buckets.take(flagged)
        within &= _BLOCK - 1
        first = self._wide_rel[at, within].astype(np.int64)
        within += 1
        lengths[flagged] = self._wide_rel[at, within] - first
        first -= self._flag
        first += base.take(flagged)
        starts[flagged] = first

    def _slots_at(self, positions: np.ndarray) -> np.ndarray:
        """The slots stored at these entry positions, as int64."""
        entries = self._entries
        if self._width == 4:
            return entries.take(positions, mode="clip").astype(np.int64)
        at = positions * 3
        slots = entries.take(at, mode="clip").astype(np.int64)
        at += 1
        slots |= np.left_shift(entries.take(at, mode="clip"), 8, dtype=np.int64)
        at += 1
        slots |= np.left_shift(entries.take(at, mode="clip"), 16, dtype=np.int64)
        return slots
