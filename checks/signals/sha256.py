"""SHA-256 of the file's bytes: the exact-copy signal."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from checks.signals.base import Comparison, HashKind

__all__ = ["Sha256"]


class Sha256(HashKind):
    """Byte-identical copies only; any re-encode changes it."""

    name: ClassVar[str] = "sha256"
    bits: ClassVar[int] = 256
    threshold: ClassVar[int] = 0
    examples: ClassVar[tuple[str, str]] = (
        "d2ffb8f90cf6ffbc919063cf5ebd6318054e09a7c638289bfb3977e43e9d123f",
        "d0729c73d33c547e97451a83e7d7084320523ec7be2d6da3ac777f9c6aa80928",
    )

    @classmethod
    def compute(cls, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def compare(cls, a: str, b: str, threshold: int | None = None) -> Comparison:
        # Exact equality is the only meaningful comparison for a cryptographic hash.
        same = a == b
        return Comparison(match=same, distance=0 if same else cls.bits)
