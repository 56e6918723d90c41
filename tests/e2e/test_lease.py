"""The processing lease: an instance keeps a tip for as long as it works on it, however long."""

from __future__ import annotations

import asyncio

from bot.workers import thread_analyser
from checks.report import Report
from tests.e2e.harness import TICKET, World, picture, running_bot, text_of

#: A lease this short expires twice over while the slow analysis below runs.
SHORT_LEASE = 0.6
ANALYSIS_SECONDS = 2.0


class SlowAnalyser:
    """The real analysis, after a pause: a large file, or a busy worker pool."""

    def __init__(self) -> None:
        self._inner = thread_analyser()
        self.started = asyncio.Event()

    async def analyse(self, data: bytes) -> Report:
        self.started.set()
        await asyncio.sleep(ANALYSIS_SECONDS)
        return await self._inner.analyse(data)

    async def strip(self, data: bytes) -> bytes:
        return await self._inner.strip(data)

    async def side_by_side(
        self,
        submitted: bytes,
        known: bytes,
        caption: str,
        region: tuple[float, float, float, float] | None = None,
    ) -> bytes:
        return await self._inner.side_by_side(submitted, known, caption, region)


async def test_a_slow_tip_keeps_its_lease_until_it_is_answered(
    world: World,
) -> None:
    slow = SlowAnalyser()
    settings = world.settings.model_copy(update={"lease_seconds": SHORT_LEASE})
    async with running_bot(world, analyser=slow, settings=settings) as app:
        storage = world.services(app).storage
        world.tipster.send_photo(picture(33))
        ack = await world.api.wait_for_message(world.tipster, "Received")
        ticket = TICKET.search(text_of(ack))
        assert ticket
        submission = await storage.get_submission_by_ticket(ticket.group(0))
        assert submission is not None
        await asyncio.wait_for(slow.started.wait(), timeout=10)
        await asyncio.sleep(2 * SHORT_LEASE)  # the first lease would have run out by now
        # Another instance, resuming unfinished tips, must find this one still held.
        assert not await storage.take_lease(submission.id, "another-instance", SHORT_LEASE)
        working = world.services(app).pending.get(submission.id)
        assert working is not None
        await asyncio.wait_for(working, timeout=15)
        # Once the tip is done, its lease is given back.
        assert await storage.take_lease(submission.id, "another-instance", SHORT_LEASE)
    cards = [m for m in world.api.messages_to(world.tipster) if "Ticket " in text_of(m)]
    assert len(cards) == 1
