"""The SQLite database's disk fills up mid-run: a clear answer, no accepted tip lost, and the
bot goes on by itself once there is room again.

A full disk is made with ``PRAGMA max_page_count`` on the bot's own connection: SQLite then
fails a write that needs another page with SQLITE_FULL, exactly as on a full disk.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.harness import TICKET, World, picture, running_bot, text_of

FULL = "storage is full"
NO_CAP = 1_073_741_823  # SQLite's largest max_page_count


async def _sqlite(services: Any, sql: str) -> int:
    """One PRAGMA on the bot's own SQLite connection (the cap is per connection)."""
    # The bot's one connection: a private attribute, the test's lever on the disk.
    async with services.storage._conn.execute(sql) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def test_a_full_sqlite_disk_loses_no_accepted_tip_and_resumes(world: World) -> None:
    settings = world.settings.model_copy(
        update={"maintenance_seconds": 0.5, "source_pictures": 0, "source_pending": 0}
    )
    api, tipster = world.api, world.tipster
    async with running_bot(world, settings=settings) as app:
        services = world.services(app)
        pages = await _sqlite(services, "PRAGMA page_count")
        assert await _sqlite(services, f"PRAGMA max_page_count = {pages}") == pages

        accepted: list[str] = []
        for seed in range(60):  # each tip's rows fill pages; soon one needs a new page
            tipster.send_photo(picture(seed))
            answer = text_of(
                await api.wait_for_message(
                    tipster,
                    lambda m: "Your ticket is" in text_of(m) or FULL in text_of(m),
                    timeout=20,
                )
            )
            if FULL in answer:
                break
            found = TICKET.search(answer)
            assert found is not None, answer
            accepted.append(found.group())
        else:
            raise AssertionError("the database never filled up")

        assert "send it again later" in answer and "nothing of this message was kept" in answer
        notice = await api.wait_for_message(world.mods, "disk is full", timeout=10)
        assert "Free some space" in text_of(notice)
        # The refused picture left nothing behind: only the accepted tips exist.
        pseudonym = services.identities.pseudonym(tipster.id)
        tips = await services.storage.submissions_of(pseudonym, 100)
        assert sorted(t.ticket for t in tips) == sorted(accepted)

        # A second refusal while full: told again, the moderators not twice.
        tipster.send_photo(picture(1000))
        await api.wait_for_message(tipster, FULL, timeout=20)

        # A tip taken just before the disk fills: recorded, then its download is held while
        # the disk fills, so the flow meets the full disk while saving what it found.
        await _sqlite(services, f"PRAGMA max_page_count = {NO_CAP}")
        api.slow_next("getFile", 1.5)
        tipster.send_photo(picture(2000))
        ack = await api.wait_for_message(tipster, "Your ticket is", timeout=20)
        late = TICKET.search(text_of(ack))
        assert late is not None
        accepted.append(late.group())
        await _sqlite(
            services, f"PRAGMA max_page_count = {await _sqlite(services, 'PRAGMA page_count')}"
        )
        await api.wait_until(lambda: not api.server.failures, timeout=10, what="the download")
        await asyncio.sleep(1.0)  # the flow saves (or fails to) and the disk stays full

        await _sqlite(services, f"PRAGMA max_page_count = {NO_CAP}")  # space returns

        # Every tip accepted before or while the disk filled gets its card (the maintenance
        # pass resumes any whose processing the full disk stopped) ...
        for ticket in accepted:
            await api.wait_for_message(
                tipster, lambda m, t=ticket: t in text_of(m) and "/status" in text_of(m), timeout=30
            )
        # ... and a tip sent again is taken and answered as usual.
        tipster.send_photo(picture(1000))
        ack = await api.wait_for_message(tipster, "Your ticket is", timeout=20)
        resent = TICKET.search(text_of(ack))
        assert resent is not None
        await api.wait_for_message(
            tipster, lambda m: resent.group() in text_of(m) and "/status" in text_of(m), timeout=30
        )
        notices = [m for m in api.messages_to(world.mods) if "disk is full" in text_of(m)]
        assert len(notices) == 1
    assert not api.errors
