"""Keyed 32-bit digests of SHA-256, and a query's hashes as the index's words.

The index does not keep SHA-256 digests (32 bytes each, 320 MB at 10 million items), only a
keyed 32-bit digest of each, which finds the candidates for an exact match: a random
per-process key means nobody can make two files whose keys collide without first learning it
(a plain prefix can be searched offline, to pass one file off as a copy of another). By chance
a query meets a false exact candidate with odds of about n / 2^32 (one look-up in 430 at 10
million items), and the storage confirms every exact match against the database's full digest
before claiming it, so such a candidate only costs that check. 32 bits rather than 64 save
38 MB at 10 million items, which buy the PDQ tables wider buckets (:mod:`storage.index_tables`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from checks.signals import Fingerprint, HashKind, Pdq, Phash, Sha256

__all__ = ["Query", "sha_key", "sha_keys"]

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
    """A keyed 32-bit digest of each SHA-256 (n, 4) uint64 row, as uint32: equal digests,
    equal keys.

    Each word is folded in through a secret multiply and a bijective mix, so without the
    secret a collision cannot be searched for offline; the key is the top half of the result.
    The lowest bit is always set, so no key is 0: the index stores 0 for an item without a
    SHA-256.
    """
    keys = np.full(len(words), _SHA_SECRET[4], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(4):
            keys ^= words[:, column]
            keys *= _SHA_SECRET[column]
            _mix(keys)
    keys >>= np.uint64(32)
    keys |= np.uint64(1)
    return keys.astype(np.uint32)


_MASK64 = (1 << 64) - 1


def sha_key(words: np.ndarray | Sequence[int]) -> int:
    """:func:`sha_keys` of one row, in plain integers (a dozen numpy calls cost ~0.1 ms)."""
    key = int(_SHA_SECRET[4])
    for column in range(4):
        key = ((key ^ int(words[column])) * int(_SHA_SECRET[column])) & _MASK64
        key ^= key >> 33
        key = (key * 0xFF51AFD7ED558CCD) & _MASK64
        key ^= key >> 33
        key = (key * 0xC4CEB9FE1A85EC53) & _MASK64
        key ^= key >> 33
    return key >> 32 | 1


@dataclass(frozen=True, slots=True)
class Query:
    """A query fingerprint's hashes as words (None where the query lacks them)."""

    sha256: int | None  # its key (:func:`sha_keys`)
    pdq: np.ndarray | None
    pdq_mirrored: np.ndarray | None
    phash: np.ndarray | None

    @classmethod
    def parse(cls, fp: Fingerprint) -> Query:
        """Validate and convert, one ``bytes.fromhex`` a hash (a look-up's fixed cost)."""

        def words(value: str | None, kind: type[HashKind]) -> np.ndarray | None:
            if value is None:
                return None
            return np.frombuffer(bytes.fromhex(kind.validate(value)), dtype=">u8").astype(np.uint64)

        sha = None if fp.sha256 is None else Sha256.validate(fp.sha256)
        return cls(
            sha256=None
            if sha is None
            else sha_key([int(sha[i : i + 16], 16) for i in (0, 16, 32, 48)]),
            pdq=words(fp.pdq, Pdq),
            pdq_mirrored=words(fp.pdq_mirrored, Pdq),
            phash=words(fp.phash, Phash),
        )
