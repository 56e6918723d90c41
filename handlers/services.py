"""What handlers are given to work with. The composition root (``bot/``) builds one of these
and puts it in ``bot_data``; handlers reach it through :class:`handlers.context.TiplineContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from checks.matching import Region
from checks.report import Report
from handlers.fairuse import FairUse, OverLimit
from handlers.i18n import DEFAULT_LANGUAGE, Texts, resolve_language, supported_language, texts_for
from handlers.linkfetch import FetchedImage, fetch_image
from handlers.pacing import ReviewPacer
from storage.base import Storage
from storage.identities import IdentityProtector
from storage.media import MediaStore
from storage.tips import Role

__all__ = ["Analyser", "FairUse", "KeyedLocks", "Services"]


class Analyser(Protocol):
    """CPU work, run off the event loop (a process pool in production)."""

    async def analyse(self, data: bytes) -> Report: ...

    async def strip(self, data: bytes) -> bytes: ...

    async def side_by_side(
        self,
        submitted: bytes,
        known: bytes,
        caption: str,
        region: Region | None = None,
    ) -> bytes:
        """Both pictures side by side; ``region`` (left, top, right, bottom as fractions) is
        outlined on the submitted one, where the known picture sits in it."""


class KeyedLocks:
    """One lock per key (a pseudonym), dropped when nobody holds or waits for it: a tipster's
    updates arrive concurrently, and counting then recording must not interleave."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class Services:
    """Shared by every handler of one running bot."""

    storage: Storage
    identities: IdentityProtector
    media: MediaStore
    analyser: Analyser
    http: httpx.AsyncClient
    moderator_chat_id: int
    admin_pseudonyms: frozenset[str]
    retention_days: int
    #: This instance's name for processing leases; stable across its restarts.
    instance: str = "tipline"
    #: Seconds a tip stays this instance's after it last renewed its lease.
    lease_seconds: float = 60.0
    #: The newsroom's language: what moderators read, and the fallback for tipsters.
    language: str = DEFAULT_LANGUAGE
    #: Fetches a linked picture; tests swap in one that may reach their loopback server.
    fetch_link: Callable[[str], Awaitable[FetchedImage]] | None = None
    #: How much one source may send (checked before a tip is recorded).
    fair_use: FairUse = field(default_factory=FairUse)
    #: Held per pseudonym while a tip is checked against :attr:`fair_use` and recorded.
    source_locks: KeyedLocks = field(default_factory=KeyedLocks)
    #: Held per pseudonym while one of its tips is processed: a source's tips take turns.
    processing_turns: KeyedLocks = field(default_factory=KeyedLocks)
    #: Albums already told that part of them was over the limit (told once, not per part).
    refused_albums: dict[str, None] = field(default_factory=dict)
    #: The moderators were told the database's disk is full (until a tip is recorded again).
    storage_full_told: bool = False
    #: Sources over a fair-use limit, and those recently told so.
    over_limit: OverLimit = field(default_factory=OverLimit)
    #: Keeps the moderators' chat within its messages a minute, across every tip.
    review_pacer: ReviewPacer = field(default_factory=lambda: ReviewPacer(budget=0))
    #: Seconds to wait for the rest of an album before processing it.
    album_wait: float = 1.5
    #: Processing tasks by submission id, so an album is processed once, after its last part.
    pending: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    #: Event-loop time before which a submission's processing should not start.
    deadlines: dict[int, float] = field(default_factory=dict)

    async def fetch(self, url: str) -> FetchedImage:
        if self.fetch_link is not None:
            return await self.fetch_link(url)
        return await fetch_image(url, client=self.http)

    async def language_of(self, user_id: int, telegram_language: str | None) -> str:
        """The language to speak to a person: the one they chose with /language (remembered
        by pseudonym), else their Telegram's, else the newsroom's."""
        chosen = await self.storage.language_of(self.identities.pseudonym(user_id))
        if chosen is not None:
            return supported_language(chosen, self.language)
        return resolve_language(telegram_language, self.language)

    async def texts_of(self, user_id: int, telegram_language: str | None) -> Texts:
        return texts_for(await self.language_of(user_id, telegram_language))

    @property
    def newsroom_texts(self) -> Texts:
        """What moderators read."""
        return texts_for(self.language)

    async def role_of(self, user_id: int) -> Role | None:
        """Admins come from configuration; moderators from the database."""
        pseudonym = self.identities.pseudonym(user_id)
        if pseudonym in self.admin_pseudonyms:
            return Role.ADMIN
        return await self.storage.role_of(pseudonym)
