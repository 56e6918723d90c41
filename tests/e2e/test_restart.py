"""Kill the real ``tipline run`` process mid-tip, start it again: the tip completes once.

Then search everything the bot wrote (database, media folder, logs) for the raw identities
of the people who used it: none may appear.
"""

from __future__ import annotations

import asyncio
import signal

from tests.e2e.harness import (
    TICKET,
    World,
    bot_env,
    identities,
    picture,
    start_process,
    stop_process,
    text_of,
)


async def test_kill_mid_tip_then_restart_gives_exactly_one_card(world: World) -> None:
    log = world.tmp / "bot.log"
    api = world.api
    api.slow_next("getFile", 60.0)  # the first run hangs while fetching the picture
    env = bot_env(world.settings)
    first = await start_process(env, world.tmp, log)
    try:
        world.tipster.send_photo(picture(40), caption="from my cousin, yesterday")
        ack = await api.wait_for_message(world.tipster, "Received", timeout=60)
        ticket = TICKET.search(text_of(ack))
        assert ticket
        # The held getFile has arrived (the fake took it off its list): killed mid-download.
        await api.wait_until(lambda: not api.server.failures, timeout=30, what="a download")
    finally:
        await stop_process(first, signal.SIGKILL)

    second = await start_process(env, world.tmp, log)
    try:
        card = await api.wait_for_message(world.tipster, "Ticket", timeout=60)
        assert ticket.group(0) in text_of(card)
        await api.wait_for_message(world.mods, lambda m: "reply_markup" in m, timeout=30)
        await asyncio.sleep(2.0)  # room for a duplicate to show up, if there were one
    finally:
        await stop_process(second)

    cards = [m for m in api.messages_to(world.tipster) if "Ticket" in text_of(m)]
    assert len(cards) == 1

    written = [p for p in world.tmp.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in written) and any("media" in p.parts for p in written)
    blob = b"".join(p.read_bytes() for p in written)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert ticket.group(0) in text, "logs carry ticket codes"
    for identity in identities(world):
        assert identity.encode() not in blob, f"{identity!r} found in what the bot wrote"
    assert world.settings.telegram_bot_token.get_secret_value() not in text
