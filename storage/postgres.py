"""PostgreSQL backend (asyncpg): the shared database for several instances or newsrooms.

Only the dialect lives here: the pool, the migration runner's lock, the statements rendered
in PostgreSQL's dialect (which take the locks they need) and the few that are PostgreSQL's
own (the batch upsert, the watermark), transactions (one pooled connection each, at READ
COMMITTED), and a listener that refreshes the index when another instance changes a known
item (LISTEN/NOTIFY, fed by a trigger in the schema).

Put ``?search_path=name`` on the URL to keep Tipline in its own schema (asyncpg passes unknown
URL parameters on as server settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.answer_sql import AnswerStatements
from storage.clock import Clock, system_clock
from storage.dialect import POSTGRES
from storage.errors import Conflict, MigrationError, StorageError, StorageFull, StorageUnavailable
from storage.exchange_sql import FEED_LOCK, render_exchange
from storage.feature_sql import FeatureStatements
from storage.known_item_sql import KnownItemStatements, batch_upsert
from storage.migrate import Migration, VersionStatements, load_migrations, pending_migrations
from storage.repository import SqlStorage
from storage.rows import UPSERT_PARAMETERS, Executor, Row
from storage.tip_sql import TipStatements

__all__ = ["PostgresStorage"]

logger = logging.getLogger(__name__)

#: The channel the known_items trigger notifies; the payload is the table's schema.
CHANNEL = "tipline_known_items"

# One migrator per schema at a time; the others wait, then find nothing to do.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tipline.migrate.' || current_schema()))"
_VERSIONS = POSTGRES.render_all(VersionStatements)
_CURRENT_SCHEMA = "SELECT current_schema()"

# The batch upsert: one array per parameter, unnested side by side and inserted in order, so
# a batch is one statement and one round trip.
_ARRAY_TYPES = {"pdq_quality": "smallint", "now": "timestamptz"}
_ARRAYS = ", ".join(
    f"${n}::{_ARRAY_TYPES.get(name, 'text')}[]" for n, name in enumerate(UPSERT_PARAMETERS, 1)
)
_UPSERT_MANY = POSTGRES.render(
    batch_upsert(
        f"unnest({_ARRAYS}) WITH ORDINALITY AS d ({', '.join(UPSERT_PARAMETERS)}, position)"
        " ORDER BY position"
    )
)

_OUTAGES: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # bad user or password
    asyncpg.exceptions.InvalidCatalogNameError,  # no such database
)
_DRIVER: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError)
#: A unique key already taken, or a deadlock the server broke by aborting us: try again.
_CONFLICTS: tuple[type[Exception], ...] = (
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.DeadlockDetectedError,
)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStorage(SqlStorage):
    """Tipline's database in PostgreSQL. Open with :meth:`open`."""

    _tips = POSTGRES.render_all(TipStatements)
    _known = POSTGRES.render_all(KnownItemStatements)
    _feature_sql = POSTGRES.render_all(FeatureStatements)
    _answers = POSTGRES.render_all(AnswerStatements)
    _exchange = render_exchange(POSTGRES)
    _feed_lock = FEED_LOCK[POSTGRES.name]
    # Every transaction older than the oldest one still running has finished: whatever it
    # wrote is visible now, and anything not yet visible will carry a revision at or above this.
    _next_watermark = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

    def __init__(
        self,
        pool: asyncpg.Pool,
        url: str,
        *,
        clock: Clock,
        connect_timeout: float,
        poll_interval: float,
    ) -> None:
        super().__init__(clock)
        self._pool = pool
        self._url = url
        self._connect_timeout = connect_timeout
        self._poll_interval = poll_interval
        self._schema = ""
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock = system_clock,
        migrations: Sequence[Migration] | None = None,
        listen: bool = True,
        connect_timeout: float = 10.0,
        poll_interval: float = 30.0,
    ) -> PostgresStorage:
        """Connect, migrate, load the index, and (``listen``) follow other instances' changes.

        ``clock`` is where every timestamp comes from (tests move it by hand).
        ``poll_interval`` is the fallback refresh period should a notification be lost.
        ``migrations`` replaces the shipped ones (tests use it to play a newer release).
        """
        where = redact(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=10, timeout=connect_timeout, command_timeout=60
            )
        except (*_OUTAGES, *_DRIVER, ValueError) as exc:
            raise StorageUnavailable(
                f"cannot connect to PostgreSQL at {where}: {type(exc).__name__}: {exc}"
            ) from exc
        storage = cls(
            pool,
            url,
            clock=clock,
            connect_timeout=connect_timeout,
            poll_interval=poll_interval,
        )
        try:
            with storage._boundary(f"connect to PostgreSQL at {where}", StorageUnavailable):
                storage._schema = await pool.fetchval(_CURRENT_SCHEMA)
            if not storage._schema:
                raise StorageUnavailable(
                    f"PostgreSQL at {where}: the search_path names no existing schema"
                )
            await storage._migrate(
                load_migrations("postgres") if migrations is None else migrations
            )
            await storage._load_index()
            if listen:
                storage._listener = asyncio.create_task(
                    storage._follow(), name="tipline-known-items-listener"
                )
        except BaseException:
            with contextlib.suppress(StorageError):
                await storage.close()
            raise
        return storage

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Run pending migrations in one transaction, holding a per-schema advisory lock."""
        with self._boundary("migrate the schema", MigrationError):
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(_LOCK)
                await conn.execute(_VERSIONS.create)
                current = await conn.fetchval(_VERSIONS.current)
                for migration in pending_migrations(current, migrations):
                    action = f"apply migration {migration.version} ({migration.name})"
                    with self._boundary(action, MigrationError):
                        await conn.execute(migration.sql)
                        await conn.execute(
                            _VERSIONS.record, migration.version, migration.name, self._stamp()
                        )

    async def _follow(self) -> None:
        """Refresh on every notification for our schema; poll as a fallback; reconnect on loss.

        After (re)connecting it refreshes at once: notifications sent while nobody listened
        are gone, but the watermark still finds their rows.
        """
        wake = asyncio.Event()

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            if payload == self._schema:
                wake.set()

        def on_lost(_conn: object) -> None:
            wake.set()

        delay = 1.0
        while not self._closed:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._url, timeout=self._connect_timeout)
                await conn.add_listener(CHANNEL, on_notify)
                conn.add_termination_listener(on_lost)
                delay = 1.0
                wake.set()
                # The loop conditions re-check _closed: on Python 3.11 a cancellation that
                # races with a completing wait can be lost, and close() must not hang on it.
                while not conn.is_closed() and not self._closed:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_interval):
                            await wake.wait()
                    wake.clear()
                    await self.refresh_index()
            except Exception as exc:  # any failure: log, wait, reconnect; never give up
                if self._closed:
                    return
                logger.warning("known-items listener: %s: %s", type(exc).__name__, exc)
            finally:
                if conn is not None:
                    conn.terminate()
            if not self._closed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def backup(self, destination: Path) -> None:
        raise StorageError(
            "a PostgreSQL database is backed up with its own tools: "
            f"pg_dump --format=custom --file={destination} '{redact(self._url)}'"
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._pool.close()
        except (TimeoutError, *_DRIVER):
            self._pool.terminate()  # a connection would not let go: cut them all

    # -- the dialect ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Executor]:
        yield self._pool  # each statement borrows a connection and commits on its own

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _upsert_rows(
        self, db: Executor, parameters: Sequence[tuple[object, ...]]
    ) -> Sequence[Row]:
        return await db.fetch(_UPSERT_MANY, *map(list, zip(*parameters, strict=True)))

    async def _hash_page(self, after: tuple[int, int], limit: int) -> Sequence[Row]:
        return await self._pool.fetch(self._known.hash_page, *after, limit)

    def _encode_time(self, moment: datetime) -> Any:
        return moment

    def _encode_list(self, values: Sequence[int] | Sequence[str]) -> list[Any]:
        return list(values)

    def _error_kind(self, exc: Exception) -> type[StorageError] | None:
        if isinstance(exc, asyncpg.exceptions.DiskFullError):
            return StorageFull
        if isinstance(exc, _OUTAGES):
            return StorageUnavailable
        if isinstance(exc, _CONFLICTS):
            return Conflict
        if isinstance(exc, _DRIVER):
            return StorageError
        return None
