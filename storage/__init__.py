"""Persistence: the repository interface, its SQLite and PostgreSQL backends, the index.

``open_storage(url)`` is the one way in: it picks the backend from the URL, migrates the schema
and loads the near-duplicate index before returning.
"""

from __future__ import annotations

from checks.errors import ConfigError
from storage.base import KnownItem, KnownItemDraft, KnownItems, Storage, UpsertResult
from storage.clock import Clock, system_clock
from storage.index import FingerprintBatch, NearDuplicateIndex
from storage.postgres import PostgresStorage
from storage.sqlite import SqliteStorage

__all__ = [
    "Clock",
    "FingerprintBatch",
    "KnownItem",
    "KnownItemDraft",
    "KnownItems",
    "NearDuplicateIndex",
    "PostgresStorage",
    "SqliteStorage",
    "Storage",
    "UpsertResult",
    "open_storage",
    "system_clock",
]

_SQLITE_PREFIX = "sqlite:///"


async def open_storage(url: str, *, clock: Clock | None = None) -> Storage:
    """Open the database ``url`` names; its timestamps come from ``clock`` (the system's
    unless given).

    - a plain path (no ``://``), or ``sqlite:///path``: SQLite. As in SQLAlchemy, the path is
      what follows the third slash, so ``sqlite:////var/lib/tipline.db`` is absolute and
      ``sqlite:///tipline.db`` is relative to the working directory;
    - ``postgresql://...`` or ``postgres://...``: PostgreSQL (add ``?search_path=schema`` to
      use a schema of its own).
    """
    now = clock or system_clock
    text = (url or "").strip()
    if not text:
        raise ConfigError("the storage URL is empty: give a file path or a postgresql:// URL")
    if "://" not in text:
        return await SqliteStorage.open(text, clock=now)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = text[len(_SQLITE_PREFIX) :] if text.startswith(_SQLITE_PREFIX) else ""
        if not path:
            raise ConfigError(f"a SQLite URL looks like sqlite:///path/to/file.db, got {text!r}")
        return await SqliteStorage.open(path, clock=now)
    if scheme in ("postgresql", "postgres"):
        return await PostgresStorage.open(text, clock=now)
    raise ConfigError(
        f"unsupported storage URL scheme {scheme!r}: use a file path, sqlite:///path or "
        "postgresql://user@host/database"
    )
