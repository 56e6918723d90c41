"""Many known items' hashes as numpy columns, so loading a million needs no object per item.

The backends read their rows into batches; :mod:`storage.index` keeps its slots in the same
columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from checks.errors import InvalidHash
from checks.signals import Fingerprint, HashKind, Pdq, Phash

__all__ = ["NO_QUALITY", "FingerprintBatch", "hex_words"]

#: ``pdq_quality`` of an item whose quality is unknown.
NO_QUALITY = -1


def hex_words(values: Sequence[str | None], kind: type[HashKind]) -> tuple[np.ndarray, np.ndarray]:
    """Hex strings (None where missing) as an (n, bits/64) uint64 array and a presence mask.

    One join and one ``bytes.fromhex`` for the whole column: loading a million rows must not
    cost a million numpy calls.
    """
    count, hex_len = len(values), kind.hex_length()
    present = np.array([v is not None for v in values], dtype=bool).reshape(count)
    filled = values if present.all() else ["0" * hex_len if v is None else v for v in values]
    if (np.fromiter(map(len, filled), dtype=np.int64, count=count) != hex_len).any():
        raise InvalidHash(f"a {kind.name} hash is not {hex_len} hexadecimal characters")
    text = "".join(filled)
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidHash(f"a {kind.name} hash is not hexadecimal") from exc
    if len(raw) * 2 != len(text):  # fromhex skips whitespace
        raise InvalidHash(f"a {kind.name} hash is not hexadecimal")
    words = np.frombuffer(raw, dtype=">u8").reshape(count, kind.bits // 64).astype(np.uint64)
    return words, present


@dataclass(frozen=True, slots=True, eq=False)
class FingerprintBatch:
    """The near hashes of many items as columns, so loading needs no Python object per item.

    Missing hashes are zero words with a False ``has_*`` flag; unknown quality is -1. No
    SHA-256: the identical file is the database's to find.
    """

    ids: np.ndarray  # (n,) int64
    pdq: np.ndarray  # (n, 4) uint64
    has_pdq: np.ndarray  # (n,) bool
    pdq_quality: np.ndarray  # (n,) int16
    phash: np.ndarray  # (n, 1) uint64
    has_phash: np.ndarray  # (n,) bool

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def findable(self) -> np.ndarray:
        """Which rows have a near hash to be found by (an item imported by SHA-256 alone has
        none, and no place in the index)."""
        return self.has_pdq | self.has_phash

    def only_findable(self) -> FingerprintBatch:
        """The findable rows: this batch itself when they all are (the usual case: no copy
        of a start-up page)."""
        findable = self.findable
        return self if findable.all() else self.take(findable)

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[int],
        pdq: Sequence[str | None],
        pdq_quality: Sequence[int | None],
        phash: Sequence[str | None],
    ) -> FingerprintBatch:
        """From hex columns as stored (lower-case, None where missing)."""
        pdq_words, has_pdq = hex_words(pdq, Pdq)
        phash_words, has_phash = hex_words(phash, Phash)
        quality = np.array(
            [NO_QUALITY if q is None else q for q in pdq_quality], dtype=np.int16
        ).reshape(len(pdq_quality))
        return cls(
            ids=np.asarray(ids, dtype=np.int64).reshape(-1),
            pdq=pdq_words,
            has_pdq=has_pdq,
            pdq_quality=quality,
            phash=phash_words,
            has_phash=has_phash,
        )

    @classmethod
    def from_fingerprints(cls, items: Iterable[tuple[int, Fingerprint]]) -> FingerprintBatch:
        """From fingerprints, validating each near hash (the mirrored PDQ is a query-only
        hash)."""
        rows = list(items)

        def column(kind: type[HashKind], name: str) -> list[str | None]:
            values = (getattr(fp, name) for _, fp in rows)
            return [None if v is None else kind.validate(v) for v in values]

        return cls.from_columns(
            ids=[item_id for item_id, _ in rows],
            pdq=column(Pdq, "pdq"),
            pdq_quality=[fp.pdq_quality for _, fp in rows],
            phash=column(Phash, "phash"),
        )

    def take(self, rows: np.ndarray) -> FingerprintBatch:
        """The rows selected by an index array or boolean mask."""
        return FingerprintBatch(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def last_per_id(self) -> FingerprintBatch:
        """Drop all but the last row of any repeated id (the later row is the newer state)."""
        if len(self) < 2:
            return self
        _, first_from_end = np.unique(self.ids[::-1], return_index=True)
        if len(first_from_end) == len(self):
            return self
        return self.take(np.sort(len(self) - 1 - first_from_end))
