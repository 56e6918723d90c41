"""What every part of the SQL storage runs on: the dialect's statements, connections and
transactions, the storage's clock, and the boundary where driver errors become
:mod:`checks.errors`.

The parts (:mod:`storage.submissions`, :mod:`storage.reviews`, :mod:`storage.moderation`,
:mod:`storage.retention`, and the known items in :mod:`storage.repository`) each build on
:class:`SqlRunner`; a backend (:mod:`storage.sqlite`, :mod:`storage.postgres`) provides the
abstract methods once for all of them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, TypeVar

from checks.errors import InvalidInput, TiplineError
from storage.clock import Clock
from storage.errors import Conflict, StorageError, StorageUnavailable
from storage.feature_sql import FeatureStatements
from storage.index import NearDuplicateIndex
from storage.known_item_sql import KnownItemStatements
from storage.rows import Executor, Row, require_utc
from storage.tip_sql import TipStatements

__all__ = ["TICK", "SqlRunner", "checked_limit", "non_empty", "vocabulary_word"]

#: The least step between two timestamps of one storage.
TICK = timedelta(microseconds=1)

_Word = TypeVar("_Word", bound=StrEnum)


def checked_limit(value: int) -> int:
    """A caller's row limit, or InvalidInput."""
    if not isinstance(value, int) or value < 0:
        raise InvalidInput(f"a limit must be a whole number of at least 0, got {value!r}")
    return value


def vocabulary_word(kind: type[_Word], value: object) -> _Word:
    """A vocabulary word (status, origin, role) from the caller, or InvalidInput."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidInput(f"unknown {kind.__name__} {value!r}; use one of: {known}") from None


def non_empty(value: str, what: str) -> str:
    """A name the database must be able to tell apart (a worker, a moderator), or InvalidInput."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    return value


class SqlRunner(ABC):
    """The base of every SQL part; a backend implements its abstract methods."""

    #: The dialect's tip-flow, known-item and local-feature statements.
    _tips: ClassVar[TipStatements]
    _known: ClassVar[KnownItemStatements]
    _feature_sql: ClassVar[FeatureStatements]

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last_stamp: datetime | None = None
        self._index = NearDuplicateIndex()
        # Held while the database and the index are brought in step (upsert, refresh,
        # verdicts), so a refresh that read an older row cannot undo what was just learnt.
        self._index_lock = asyncio.Lock()
        #: The bot whose tips this storage lists and finds (see ``serve_bot``); None: all.
        self._bot_scope: int | None = None
        self._closed = False

    # -- what a backend provides ------------------------------------------------------------

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Executor]:
        """One transaction, committed when the block ends and rolled back if it raises.

        It must serialise what the statements' own locks do not: SQLite begins it with the
        write lock held (``BEGIN IMMEDIATE``); PostgreSQL relies on the statements' locks.
        """

    @abstractmethod
    def _connection(self) -> AbstractAsyncContextManager[Executor]:
        """Statements run one by one, each committed on its own, with nothing else of this
        storage's in between when the dialect shares one connection (SQLite)."""

    @abstractmethod
    def _encode_time(self, moment: datetime) -> object:
        """A UTC timestamp as the driver's parameter."""

    @abstractmethod
    def _encode_list(self, values: Sequence[int] | Sequence[str]) -> object:
        """A list of ids or paths as the one parameter the dialect's ``{in}`` hook takes."""

    @abstractmethod
    def _error_kind(self, exc: Exception) -> type[StorageError] | None:
        """``StorageUnavailable``, ``Conflict`` (a unique key taken, a deadlock: try again)
        or ``StorageError`` for a driver exception; None if foreign."""

    # -- time -------------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        """Now by this storage's clock, and later than every earlier stamp of this storage.

        Timestamps tell a creation from an update and the first card from a repeat, so two
        of them must never coincide, however coarse the clock (or a test's frozen one).
        """
        now = require_utc(self._clock(), "the clock's time")
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + TICK
        self._last_stamp = now
        return now

    def _now(self) -> tuple[datetime, object]:
        """A new stamp, as a datetime and as the driver's parameter."""
        moment = self._stamp()
        return moment, self._encode_time(moment)

    # -- running statements -------------------------------------------------------------------

    @contextmanager
    def _boundary(self, action: str, error: type[StorageError] = StorageError) -> Iterator[None]:
        """Translate driver exceptions; ``error`` is the class for those that are neither
        outages nor conflicts."""
        if self._closed:
            raise StorageError(f"could not {action}: the storage is closed")
        try:
            yield
        except TiplineError:
            raise
        except Exception as exc:
            kind = self._error_kind(exc)
            if kind is None:
                raise
            if not issubclass(kind, StorageUnavailable | Conflict):
                kind = error
            raise kind(f"could not {action}: {type(exc).__name__}: {exc}") from exc

    async def _run(self, action: str, query: str, *args: object) -> Sequence[Row]:
        """One statement on its own."""
        with self._boundary(action):
            async with self._connection() as db:
                return await db.fetch(query, *args)
