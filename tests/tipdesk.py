"""A newsroom's tip desk without Telegram: the tip flow with a fake messenger, a real SQLite
database and a fake clock. The flow's unit tests and the one-verdict test drive it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.workers import ExecutorAnalyser, thread_analyser
from checks.errors import InvalidInput
from checks.verdicts import SubmissionStatus
from handlers.pacing import ReviewPacer
from handlers.tipflow import TipFlow
from storage import Storage, open_storage
from storage.identities import IdentityProtector
from storage.media import MediaStore
from storage.tips import ItemOrigin, ItemSource, SubmissionDraft
from tests.clocks import FakeClock

TIPSTER_CHAT = 4242
_NO_LOOKALIKES = str.maketrans("0123456789", "ABCDEFGHJK")
LEASE = 60.0


class Broken(Exception):
    """A fault that is nobody's input's fault: the network, a crash."""


@dataclass
class FakeNotifier:
    """Records what the flow sends; ``fail_at`` makes one named call raise, once."""

    files: dict[str, bytes]
    tipster_cards: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)
    review_cards: list[str] = field(default_factory=list)
    #: Messages without buttons in the moderators' chat: digests, warnings.
    notices: list[str] = field(default_factory=list)
    fail_at: str | None = None

    def _maybe_fail(self, step: str) -> None:
        if self.fail_at == step:
            self.fail_at = None
            raise Broken(step)

    async def download(self, source: ItemSource) -> bytes:
        self._maybe_fail("download")
        if source.ref not in self.files:
            raise InvalidInput("Telegram would not hand the file over (file is too big)")
        return self.files[source.ref]

    async def tell_tipster(self, chat_id: int, card: str) -> None:
        assert chat_id == TIPSTER_CHAT
        self._maybe_fail("tell_tipster")
        self.tipster_cards.append(card)

    async def post_picture(self, picture: bytes, caption: str) -> None:
        self._maybe_fail("post_picture")
        self.pictures.append(caption)

    async def post_review_card(self, submission_id: int, card: str) -> None:
        self._maybe_fail("post_review_card")
        self.review_cards.append(card)

    async def post_notice(self, text: str) -> None:
        self._maybe_fail("post_notice")
        self.notices.append(text)


class FaultyStorage:
    """The real storage, except that one named method raises once, before it runs."""

    def __init__(self, inner: Storage) -> None:
        self._inner = inner
        self.fail_at: str | None = None

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name != self.fail_at:
            return method

        async def failing(*args: object, **kwargs: object) -> object:
            self.fail_at = None
            raise Broken(name)

        return failing


async def no_pause(_seconds: float) -> None:
    """The heartbeat never renews here: time moves only when a test says so."""
    await asyncio.Event().wait()


@dataclass
class Desk:
    """A newsroom's tip desk without Telegram."""

    storage: FaultyStorage
    notifier: FakeNotifier
    identities: IdentityProtector
    clock: FakeClock
    flow: Callable[[str], TipFlow]
    media: MediaStore
    #: The moderators' chat's messages a minute, on the desk's clock.
    pacer: ReviewPacer
    update_ids: list[int] = field(default_factory=lambda: [0])

    async def tip(self, *refs: str, album: str | None = None) -> int:
        self.update_ids[0] += 1
        recorded = await self.storage.record_tip(
            SubmissionDraft(
                # Unique per tip; no 0 or 1 (the ticket alphabet's look-alikes).
                ticket=f"K7QM-{self.update_ids[0]:04d}".translate(_NO_LOOKALIKES),
                update_id=self.update_ids[0],
                tipster=self.identities.pseudonym(7),
                sealed_chat=self.identities.seal_chat_id(TIPSTER_CHAT),
                items=tuple(ItemSource(ItemOrigin.DOCUMENT, ref) for ref in refs),
                media_group=album,
            )
        )
        return recorded.submission.id

    async def process(self, submission_id: int, instance: str = "east") -> None:
        await self.flow(instance).process(submission_id)

    async def status(self, submission_id: int) -> SubmissionStatus:
        submission = await self.storage.get_submission(submission_id)
        assert submission is not None
        return submission.status


@contextlib.asynccontextmanager
async def open_desk(database: Path) -> AsyncIterator[Desk]:
    """A desk on the SQLite database at ``database`` (created if absent), media beside it."""
    clock = FakeClock()
    inner = await open_storage(str(database), clock=clock)
    storage = FaultyStorage(inner)
    media = MediaStore(database.parent / "media")
    media.ensure()
    identities = IdentityProtector("s" * 40)
    notifier = FakeNotifier(files={})
    analyser: ExecutorAnalyser = thread_analyser()
    pacer = ReviewPacer(budget=20, clock=lambda: clock().timestamp())

    def flow(instance: str) -> TipFlow:
        return TipFlow(
            storage=storage,  # type: ignore[arg-type]  # the real one, faulty on demand
            media=media,
            analyser=analyser,
            notifier=notifier,
            identities=identities,
            instance=instance,
            lease_seconds=LEASE,
            pause=no_pause,
            pacer=pacer,
        )

    try:
        yield Desk(storage, notifier, identities, clock, flow, media=media, pacer=pacer)
    finally:
        analyser.close()
        await inner.close()
