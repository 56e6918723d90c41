"""The one place that lists every hash kind, keyed by its stored name."""

from __future__ import annotations

from checks.signals.base import HashKind
from checks.signals.pdq import Pdq
from checks.signals.phash import Phash
from checks.signals.sha256 import Sha256

__all__ = ["HASH_KINDS", "get_kind", "register"]

HASH_KINDS: dict[str, type[HashKind]] = {}


def register(kind: type[HashKind]) -> type[HashKind]:
    """Add a kind; a second kind with the same name is a programming error."""
    if kind.name in HASH_KINDS:
        raise ValueError(f"hash kind {kind.name!r} is registered twice")
    HASH_KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> type[HashKind]:
    try:
        return HASH_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown hash kind {name!r}; known: {', '.join(HASH_KINDS)}") from None


for _kind in (Sha256, Pdq, Phash):
    register(_kind)
