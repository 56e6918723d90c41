"""The bot's share of Telegram's 30 messages a second: a busy chat never holds up a quiet one."""

from __future__ import annotations

import asyncio

from bot.fairlimit import Turns


async def _served(turns: Turns, key: str, number: int, order: list[tuple[str, int]]) -> None:
    await turns.wait(key)
    order.append((key, number))


async def test_a_quiet_chat_goes_before_a_flood_s_next_message() -> None:
    turns = Turns(rate=500.0, burst=1.0)
    order: list[tuple[str, int]] = []
    flood = [asyncio.create_task(_served(turns, "flood", i, order)) for i in range(12)]
    await asyncio.sleep(0)  # the flood's first took the one token; the rest wait in line
    quiet = [asyncio.create_task(_served(turns, f"quiet{i}", 0, order)) for i in range(3)]
    await asyncio.gather(*flood, *quiet)
    # Each quiet chat is served before the flood's second message; the flood keeps its order.
    assert order[0] == ("flood", 0)
    assert {key for key, _ in order[1:4]} == {"quiet0", "quiet1", "quiet2"}
    assert [n for key, n in order if key == "flood"] == list(range(12))
    assert turns.usage("flood") > turns.usage("quiet0")
    await turns.close()


async def test_a_waiter_that_gives_up_passes_its_turn_on() -> None:
    turns = Turns(rate=500.0, burst=1.0)
    order: list[tuple[str, int]] = []
    await turns.wait("a")  # the burst is spent
    gone = asyncio.create_task(_served(turns, "b", 0, order))
    kept = asyncio.create_task(_served(turns, "c", 0, order))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.wait_for(kept, timeout=5)
    assert order == [("c", 0)]
    await turns.close()


async def test_closing_releases_no_one_and_leaves_no_task() -> None:
    turns = Turns(rate=0.001, burst=1.0)  # one message, then none for a long while
    await turns.wait("a")
    waiting = asyncio.create_task(turns.wait("b"))
    await asyncio.sleep(0)
    await turns.close()
    await asyncio.sleep(0)
    assert waiting.cancelled()
