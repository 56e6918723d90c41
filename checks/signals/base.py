"""What every hash kind is: a name, a hex form, a distance and a threshold.

A kind computes, validates, serialises and compares itself, so adding one is one module and one
line in the registry. The thresholds are class constants used as defaults, written once.
"""

from __future__ import annotations

import string
from abc import ABC
from dataclasses import dataclass
from typing import ClassVar

from checks.errors import InvalidHash

__all__ = ["Comparison", "HashKind", "hamming_hex"]

_HEX = frozenset(string.hexdigits.lower())


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of comparing two hashes of one kind."""

    match: bool
    distance: int


def hamming_hex(a: str, b: str) -> int:
    """Number of differing bits between two equal-length hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


class HashKind(ABC):
    """A kind of hash. Subclasses set ``name``, ``bits`` and ``threshold``.

    ``name`` is explicit (never derived from the class name) because it is a stored key.
    ``threshold`` is the largest distance still counted as the same picture; 0 means exact.
    """

    name: ClassVar[str]
    bits: ClassVar[int]
    threshold: ClassVar[int]
    #: This kind's hashes of a real picture and of a re-encoded copy of it (the AugLy set's
    #: ``dfdc_1.jpg`` and its ``encoding_quality`` copy): what a hash looks like, and what the
    #: shared contract tests run on.
    examples: ClassVar[tuple[str, str]]

    @classmethod
    def hex_length(cls) -> int:
        return cls.bits // 4

    @classmethod
    def validate(cls, value: str) -> str:
        """Normalise a hex string (strip, lower-case) or raise :class:`InvalidHash`."""
        if not isinstance(value, str):
            raise InvalidHash(f"{cls.name} hash must be text, got {type(value).__name__}")
        norm = value.strip().lower()
        if len(norm) != cls.hex_length() or not set(norm) <= _HEX:
            raise InvalidHash(
                f"{cls.name} hash must be {cls.hex_length()} hexadecimal characters, "
                f"got {value[:80]!r}"
            )
        return norm

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(a, b)

    @classmethod
    def compare(cls, a: str, b: str, threshold: int | None = None) -> Comparison:
        """Compare two valid hashes; ``threshold`` overrides the kind's default."""
        limit = cls.threshold if threshold is None else threshold
        dist = cls.distance(a, b)
        return Comparison(match=dist <= limit, distance=dist)
