"""Kill the real ``tipline run`` process mid-tip, start it again: the tip completes once.

Then search everything the bot wrote (database, media folder, logs) for the raw identities
of the people who used it: none may appear.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.e2e.harness import TICKET, World, identities, picture, text_of


def env_for(world: World) -> dict[str, str]:
    s = world.settings
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TELEGRAM_"))},
        "TELEGRAM_BOT_TOKEN": s.telegram_bot_token.get_secret_value(),
        "TELEGRAM_API_BASE_URL": s.telegram_api_base_url or "",
        "TIPLINE_MODERATOR_CHAT_ID": str(s.moderator_chat_id),
        "TIPLINE_ADMIN_IDS": ",".join(map(str, s.admin_ids)),
        "TIPLINE_SECRET_KEY": s.secret_key.get_secret_value(),
        "TIPLINE_DATABASE_URL": s.database_url,
        "TIPLINE_MEDIA_DIR": str(s.media_dir),
        "TIPLINE_WORKERS": "1",
        "TIPLINE_PACE_MESSAGES": "false",
    }


async def start_bot(world: World, log: Path) -> asyncio.subprocess.Process:
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=env_for(world),
            cwd=world.tmp,
            stdout=handle,
            stderr=handle,
            start_new_session=True,  # its own process group: worker processes die with it
        )
    finally:
        handle.close()


async def stop(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is None:
        os.killpg(proc.pid, sig)
        await asyncio.wait_for(proc.wait(), timeout=30)


async def test_kill_mid_tip_then_restart_gives_exactly_one_card(world: World) -> None:
    log = world.tmp / "bot.log"
    api = world.api
    api.slow_next("getFile", 60.0)  # the first run hangs while fetching the picture
    first = await start_bot(world, log)
    try:
        world.tipster.send_photo(picture(40), caption="from my cousin, yesterday")
        ack = await api.wait_for_message(world.tipster, "Received", timeout=60)
        ticket = TICKET.search(text_of(ack))
        assert ticket
        await api.wait_until(lambda: api.calls_to("getFile"), timeout=30, what="a download")
    finally:
        await stop(first, signal.SIGKILL)

    second = await start_bot(world, log)
    try:
        card = await api.wait_for_message(world.tipster, "Ticket", timeout=60)
        assert ticket.group(0) in text_of(card)
        await api.wait_for_message(world.mods, lambda m: "reply_markup" in m, timeout=30)
        await asyncio.sleep(2.0)  # room for a duplicate to show up, if there were one
    finally:
        await stop(second, signal.SIGTERM)

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
