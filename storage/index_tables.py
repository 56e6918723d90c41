"""What the near-duplicate index stores of each item, and the tables that find them.

Items' hashes are kept in columns, one row per item (a "slot"), as a
:class:`~storage.fingerprint_batch.FingerprintBatch` does but leaner: no SHA-256 digest (the
identical file is found by the database, where that column is indexed: 320 MB at 10 million
items, or 67 MB for a short keyed digest and its table, saved), the PDQ hash is
kept in two 128-bit halves (the first half alone rules out nearly every stranger, so checking
a candidate mostly reads half the bytes, and the column read at random is half the size), and
the presence flags share a byte with the slot's liveness. :class:`Tables` are the multi-index
tables (:mod:`storage.mih`) over some of those slots, one layer for each kind of near hash
(PDQ and pHash), probed in one pass. Their sizes are chosen here, for memory: at 10 million
items under 1 GB in all, half of it the hashes themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.signals import Pdq
from storage.fingerprint_batch import FingerprintBatch
from storage.mih import Layer, MultiIndex, chunk_bits_for

__all__ = [
    "ALIVE",
    "FIELDS",
    "NARROW",
    "NO_TABLES",
    "PRESENT",
    "Recent",
    "Tables",
    "columns_of",
    "empty_columns",
    "index_recent",
    "narrowed",
    "pdq_tables",
    "pdq_wider",
]

#: Bits of the ``present`` column: which hashes an item has, and whether its slot is live.
PRESENT = {"pdq": np.uint8(1), "phash": np.uint8(2)}
ALIVE = np.uint8(4)
#: The columns; ``pdq`` is the first 128 bits of the hash, ``pdq_back`` the rest.
FIELDS = ("ids", "pdq", "pdq_back", "pdq_quality", "phash", "present")
#: Narrower types used while every value fits (ids from 2**31 on do not, say).
NARROW = {"ids": np.int32, "pdq_quality": np.int8}

#: Memory for PDQ's multi-index tables. Each costs ~3.5 bytes an item: at 10 million items
#: this pays for 11 tables of 22 bits and then one more bit for each of them (a bit more
#: halves a table's candidates for ~4.6 MiB of bucket offsets); the whole index, with a full
#: tail, then stays under 1 GB (10^9 bytes). Smaller indexes get every table the pigeonhole
#: allows (14 of 18 bits at a million items: fewer probes).
_PDQ_TABLE_BYTES = 417 * 2**20
#: Fewer PDQ tables would need wider radii: probes would grow much faster than memory shrinks.
_PDQ_MIN_TABLES = 11


def _table_bytes(items: int, bits: int) -> int:
    """A table's memory: its entries, then its bucket offsets."""
    return 3 * items + (1 << bits) * 37 // 32


def pdq_tables(items: int, bits: int) -> int:
    """How many PDQ tables of ``bits``-bit chunks ``items`` hashes may have (the multi-index
    uses fewer when the pigeonhole needs fewer)."""
    return max(_PDQ_MIN_TABLES, _PDQ_TABLE_BYTES // _table_bytes(items, bits))


def pdq_wider(items: int, bits: int, tables: int) -> int:
    """How many of ``tables`` PDQ tables may have chunks one bit wider, in the same memory."""
    tables = min(tables, 256 // bits, Pdq.threshold + 1)
    spare = _PDQ_TABLE_BYTES - tables * _table_bytes(items, bits)
    extra = _table_bytes(items, bits + 1) - _table_bytes(items, bits)
    return max(0, min(tables, spare // extra)) if bits < 24 else 0


def columns_of(batch: FingerprintBatch) -> dict[str, np.ndarray]:
    """``batch`` as live rows of the store, in wide types."""
    flags = batch.has_pdq * PRESENT["pdq"] | batch.has_phash * PRESENT["phash"]
    return {
        "ids": batch.ids,
        "pdq": np.ascontiguousarray(batch.pdq[:, :2]),
        "pdq_back": np.ascontiguousarray(batch.pdq[:, 2:]),
        "pdq_quality": batch.pdq_quality,
        "phash": batch.phash,
        "present": flags.astype(np.uint8) | ALIVE,
    }


def empty_columns() -> dict[str, np.ndarray]:
    """Columns with no rows, in wide types."""
    return columns_of(FingerprintBatch.from_columns([], [], [], []))


def narrowed(values: np.ndarray, dtype: type[np.signedinteger]) -> np.ndarray:
    """``values`` in ``dtype`` if they all fit, else as they are."""
    limits = np.iinfo(dtype)
    if len(values) and (values.min() < limits.min or values.max() > limits.max):
        return values
    return values.astype(dtype)


@dataclass(frozen=True)
class Tables:
    """Tables over some of the store's slots: one layer for each kind of near hash."""

    kinds: list[str]
    near: MultiIndex | None

    @classmethod
    def over(
        cls, cols: dict[str, np.ndarray], slots: np.ndarray | None, thresholds: dict[str, int]
    ) -> Tables:
        """Tables over ``slots`` of ``cols``, or over every row of ``cols`` (then no copy of
        the words is needed)."""
        every = slots is None
        if slots is None:
            slots = np.arange(len(cols["ids"]), dtype=np.int64)
        flags = cols["present"] if every else cols["present"][slots]
        layers = {}
        for name in ("pdq", "phash"):
            have = np.flatnonzero(flags & PRESENT[name])
            if not len(have):
                continue
            mine = slots[have]
            whole = every and len(have) == len(slots)
            words = cols[name] if whole else cols[name][mine]
            bits = chunk_bits_for(len(mine))
            if name == "phash":
                layers[name] = Layer(words, mine, thresholds[name], bits)
                continue
            back = cols["pdq_back"] if whole else cols["pdq_back"][mine]
            tables = pdq_tables(len(mine), bits)
            wider = pdq_wider(len(mine), bits, tables)
            layers[name] = Layer((words, back), mine, thresholds[name], bits, tables, wider)
        kinds = list(layers)
        near = MultiIndex.of([layers[k] for k in kinds]) if kinds else None
        return cls(kinds, near)

    @property
    def nbytes(self) -> int:
        return 0 if self.near is None else self.near.nbytes


NO_TABLES = Tables([], None)


@dataclass(frozen=True)
class Recent:
    """Tables over the recent slots ``[main, built)``, and those slots' ids sorted (each id
    once: the slots live when the tables were built)."""

    built: int
    tables: Tables
    ids: np.ndarray
    slots: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.tables.nbytes + self.ids.nbytes + self.slots.nbytes


def index_recent(
    cols: dict[str, np.ndarray], present: np.ndarray, main: int, thresholds: dict[str, int]
) -> Recent:
    """Tables over the slots from ``main`` on that ``present`` (a copy of the liveness column
    from there) shows live. Reads nothing else, so it can run on a thread."""
    slots = np.flatnonzero(present & ALIVE) + main
    ids = cols["ids"][slots].astype(np.int64)
    order = ids.argsort(kind="stable")
    tables = Tables.over(cols, slots, thresholds)
    return Recent(main + len(present), tables, ids[order], slots[order])
