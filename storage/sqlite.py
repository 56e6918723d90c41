"""SQLite backend (aiosqlite): the embedded default, one file in WAL mode.

Only the dialect lives here: the connection's settings, the migration runner's transaction,
the statements rendered in SQLite's dialect, the few that are SQLite's own (the batch upsert,
the watermark), and how transactions run.

One connection serves the whole storage, so a lock keeps each transaction's statements
together: without it, a statement from another task would run inside someone else's
transaction (and be rolled back with it). Transactions begin with ``BEGIN IMMEDIATE``: the
database's write lock is taken before anything is read, so two writers, in this process or
another, never decide on the same stale state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from storage.answer_sql import AnswerStatements
from storage.clock import Clock, system_clock
from storage.dialect import SQLITE
from storage.errors import (
    Conflict,
    MigrationError,
    StorageError,
    StorageFull,
    StorageUnavailable,
)
from storage.exchange_sql import FEED_LOCK, render_exchange
from storage.feature_sql import FeatureStatements
from storage.known_item_sql import KnownItemStatements, batch_upsert
from storage.migrate import Migration, VersionStatements, load_migrations, pending_migrations
from storage.repository import SqlStorage
from storage.rows import UPSERT_PARAMETERS, Executor, Row
from storage.tip_sql import TipStatements

__all__ = ["SqliteStorage"]

#: A writer waits up to 5 s for another connection's lock before reporting an outage.
_BUSY_TIMEOUT = "PRAGMA busy_timeout = 5000"

_VERSIONS = SQLITE.render_all(VersionStatements)

# The batch upsert: the batch is bound into a scratch table of this connection (one
# executemany), then upserted from it in order by one statement, so a batch costs three trips
# to aiosqlite's thread rather than one per row. Its columns are untyped: values stay exactly
# as bound.
_BATCH_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS known_items_batch ({', '.join(UPSERT_PARAMETERS)})"
_CLEAR_BATCH = "DELETE FROM temp.known_items_batch"
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(UPSERT_PARAMETERS) + 1))
_FILL_BATCH = SQLITE.render(f"INSERT INTO temp.known_items_batch VALUES ({_PLACEHOLDERS})")  # noqa: S608
# ``WHERE true`` keeps the upsert's ON from being read as a join's.
_UPSERT_MANY = SQLITE.render(batch_upsert("temp.known_items_batch WHERE true ORDER BY rowid"))

# Messages of sqlite3.OperationalError that mean "cannot get at the database right now".
_OUTAGES = ("locked", "busy", "unable to open", "disk i/o", "readonly", "no such file")


class _Executor:
    """The connection in the shape the shared flow runs statements on."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._conn = connection

    async def fetch(self, query: str, *args: Any) -> list[Row]:
        # One trip to aiosqlite's thread instead of three (execute, fetch, close).
        return list(await self._conn.execute_fetchall(query, args))


def _statements(script: str) -> list[str]:
    """Split a migration into statements (a trigger body's own semicolons stay inside)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if any(line.strip() and not line.strip().startswith("--") for line in pending.splitlines()):
        if not sqlite3.complete_statement(pending + ";"):
            raise MigrationError(f"migration ends inside a statement: {pending.strip()[:200]!r}")
        statements.append(pending.strip())  # a last statement without its semicolon
    return statements


def _location(path: str | os.PathLike[str]) -> str:
    """The file to open; a missing directory is an outage to report, never one to create."""
    location = os.fspath(path)
    if location == ":memory:":
        return location
    folder = Path(location).expanduser().absolute().parent
    if not folder.is_dir():
        raise StorageUnavailable(
            f"cannot open SQLite database {location}: directory {folder} does not exist"
        )
    return str(Path(location).expanduser())


class SqliteStorage(SqlStorage):
    """Tipline's database in one SQLite file. Open with :meth:`open`."""

    _tips = SQLITE.render_all(TipStatements)
    _known = SQLITE.render_all(KnownItemStatements)
    _feature_sql = SQLITE.render_all(FeatureStatements)
    _answers = SQLITE.render_all(AnswerStatements)
    _exchange = render_exchange(SQLITE)
    _feed_lock = FEED_LOCK[SQLITE.name]
    # Writers are serialised and the triggers take MAX(revision) + 1 under the write lock, so
    # anything committed after this read gets a revision at or above the answer.
    _next_watermark = "SELECT COALESCE(MAX(revision), 0) + 1 FROM known_items"

    def __init__(self, connection: aiosqlite.Connection, location: str, clock: Clock) -> None:
        super().__init__(clock)
        self._conn = connection
        self._db = _Executor(connection)
        # Held for each statement or transaction on the one connection (see the module doc).
        self._lock = asyncio.Lock()
        self.location = location

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Clock = system_clock,
        migrations: Sequence[Migration] | None = None,
    ) -> SqliteStorage:
        """Open (creating if absent), migrate and load the index.

        ``clock`` is where every timestamp comes from; ``migrations`` replaces the shipped
        ones (tests use both: to move time by hand, to play a newer release).
        """
        location = _location(path)
        try:
            connection = await aiosqlite.connect(location, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open SQLite database {location}: {exc}") from exc
        connection.row_factory = aiosqlite.Row
        storage = cls(connection, location, clock)
        try:
            with storage._boundary(f"open SQLite database {location}", StorageUnavailable):
                await storage._configure()
            await storage._migrate(load_migrations("sqlite") if migrations is None else migrations)
            await storage._load_index()
        except BaseException:
            with contextlib.suppress(StorageError):
                await storage.close()
            raise
        return storage

    async def _configure(self) -> None:
        # WAL: readers never block the writer. NORMAL sync is durable across application
        # crashes in WAL mode (a power cut may lose the last commits, never corrupt the file).
        async with self._conn.execute("PRAGMA journal_mode = WAL") as cursor:
            row = await cursor.fetchone()
        mode = row[0] if row else None
        if mode not in ("wal", "memory"):
            raise StorageUnavailable(f"SQLite database {self.location} refused WAL mode ({mode})")
        await self._conn.execute(_BUSY_TIMEOUT)
        await self._conn.execute("PRAGMA foreign_keys = ON")
        await self._conn.execute("PRAGMA synchronous = NORMAL")
        await self._conn.execute(_BATCH_TABLE)

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Run pending migrations in one transaction under SQLite's write lock."""
        with self._boundary("lock the database to check its schema"):
            await self._conn.execute("BEGIN IMMEDIATE")
        try:
            with self._boundary("migrate the schema", MigrationError):
                await self._conn.execute(_VERSIONS.create)
                async with self._conn.execute(_VERSIONS.current) as cursor:
                    current = (await cursor.fetchone())[0]
            for migration in pending_migrations(current, migrations):
                action = f"apply migration {migration.version} ({migration.name})"
                with self._boundary(action, MigrationError):
                    for statement in _statements(migration.sql):
                        await self._conn.execute(statement)
                    await self._conn.execute(
                        _VERSIONS.record,
                        (migration.version, migration.name, self._encode_time(self._stamp())),
                    )
            with self._boundary("commit the schema", MigrationError):
                await self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            raise

    async def backup(self, destination: Path) -> None:
        if await asyncio.to_thread(destination.exists):
            raise StorageError(f"{destination} already exists; back up into a new file")
        with self._boundary(f"back up SQLite database {self.location} to {destination}"):
            # SQLite's online backup: a consistent copy, WAL included, while others write.
            async with aiosqlite.connect(destination) as target:
                await self._conn.backup(target)

    async def close(self) -> None:
        if self._closed:
            return
        with self._boundary(f"close SQLite database {self.location}"):
            self._closed = True
            await self._conn.close()

    # -- the dialect ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Executor]:
        async with self._lock:
            yield self._db

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Executor]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise

    async def _upsert_rows(
        self, db: Executor, parameters: Sequence[tuple[object, ...]]
    ) -> Sequence[Row]:
        # ``db`` is this storage's one connection, in the caller's transaction.
        await self._conn.execute(_CLEAR_BATCH)
        await self._conn.executemany(_FILL_BATCH, parameters)
        return await db.fetch(_UPSERT_MANY)

    async def _hash_page(self, after: tuple[int, int], limit: int) -> Sequence[Row]:
        async with self._lock, self._conn.execute(self._known.hash_page, (*after, limit)) as cursor:
            cursor.row_factory = None  # plain tuples: the index reads them by position
            return await cursor.fetchall()

    def _encode_time(self, moment: datetime) -> str:
        return moment.isoformat(timespec="microseconds")

    def _encode_list(self, values: Sequence[int] | Sequence[str]) -> str:
        return json.dumps(list(values))

    def _error_kind(self, exc: Exception) -> type[StorageError] | None:
        # SQLITE_FULL: the disk, or PRAGMA max_page_count, leaves no room for another page.
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc).lower():
            return StorageFull
        if isinstance(exc, sqlite3.OperationalError) and any(
            word in str(exc).lower() for word in _OUTAGES
        ):
            return StorageUnavailable
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            return Conflict
        if isinstance(exc, sqlite3.Error):
            return StorageError
        return None
