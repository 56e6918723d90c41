"""Two newsrooms that share no database, as separate ``tipline run`` processes: each its own
SQLite file, its own fake Telegram, its own feed served on 127.0.0.1, each subscribed to the
other with trust ``certain``. What the users of both notice, end to end:

- A's moderator gives a verdict and publishes it; within one sync, B answers a copy of the
  picture with A's verdict under A's name;
- B's moderator disagrees (a verdict on another copy) and publishes it: A's moderators are told
  B disagrees, and B's tipster who had A's answer is told newsrooms now disagree;
- A withdraws its item: B's tipster is told the answer is withdrawn, naming the ticket.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from tests.conftest import ROOT
from tests.e2e.harness import TICKET, free_port, picture, text_of
from tests.e2e.newsrooms import (
    CARD_TIMEOUT,
    Fleet,
    Newsroom,
    is_card,
    near_copy,
    newsroom,
)
from tests.fakebotapi import FakeUser

TOKEN_A = "7500000005:AAFakeTokenForExchangeA_tipline_e2e_a5"  # fakes, not secrets
TOKEN_B = "7600000006:AAFakeTokenForExchangeB_tipline_e2e_b6"
#: Seconds for a change to travel: a maintenance pass every half second pulls the partner.
SYNC_TIMEOUT = 30.0
NAMES = {"A": "Alpha News", "B": "Beta News"}


@pytest_asyncio.fixture
async def newsroom_a() -> AsyncIterator[Newsroom]:
    async with newsroom("A", TOKEN_A, 7_510_000_000, -1_005_100_000_001, "a" * 40) as room:
        yield room


@pytest_asyncio.fixture
async def newsroom_b() -> AsyncIterator[Newsroom]:
    async with newsroom("B", TOKEN_B, 7_520_000_000, -1_005_200_000_002, "b" * 40) as room:
        yield room


@pytest_asyncio.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = Fleet(None, tmp_path)  # each instance its own SQLite database
    try:
        yield fleet
    finally:
        await fleet.stop_all()


async def tipline(*args: str, folder: Path) -> str:
    """``tipline ARGS`` against the newsroom in ``folder`` (its database and key file)."""
    env = {"TIPLINE_FEED_KEY_FILE": str(folder / "feed.key"), "PATH": "/usr/bin:/bin"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def wait_until_sql(database: Path, query: str, what: str) -> None:
    """Poll another process's SQLite database until ``query`` returns a row."""
    deadline = asyncio.get_running_loop().time() + SYNC_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        with sqlite3.connect(database, timeout=5) as conn:
            if conn.execute(query).fetchone():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {SYNC_TIMEOUT:g} s for {what}")


async def verdict(room: Newsroom, ticket: str, *words: str) -> str:
    room.moderator.send_command("verdict", ticket, *words, chat=room.mods)
    reply = await room.api.wait_for_message(room.mods, f"Tip {ticket}:", timeout=CARD_TIMEOUT)
    return text_of(reply)


async def publish(room: Newsroom, ticket: str) -> None:
    room.moderator.send_command("publish", ticket, chat=room.mods)
    reply = await room.api.wait_for_message(room.mods, "newsroom's feed", timeout=CARD_TIMEOUT)
    assert "1 known item" in text_of(reply) or "known items" in text_of(reply), text_of(reply)


async def tip(room: Newsroom, sender: FakeUser, data: bytes) -> tuple[str, str]:
    """The ticket of a photo ``sender`` sends, and the card they get."""
    sender.send_photo(data)
    ack = await room.api.wait_for_message(sender, "Received", timeout=CARD_TIMEOUT)
    found = TICKET.search(text_of(ack))
    assert found, text_of(ack)
    card = await room.api.wait_for_message(sender, is_card(found[0]), timeout=CARD_TIMEOUT)
    return found[0], text_of(card)


async def corrections(room: Newsroom, sender: FakeUser, count: int) -> list[str]:
    """The next ``count`` corrections ``sender`` is sent (each message is returned once)."""
    found = await room.api.wait_for_messages(sender, count, "Correction", timeout=SYNC_TIMEOUT)
    return [text_of(m) for m in found]


async def test_two_newsrooms_exchange_verdicts_disputes_and_retractions(
    fleet: Fleet, newsroom_a: Newsroom, newsroom_b: Newsroom, tmp_path: Path
) -> None:
    a, b = newsroom_a, newsroom_b
    folders = {room.name: tmp_path / f"newsroom-{room.name.lower()}" for room in (a, b)}
    ports = {room.name: free_port() for room in (a, b)}
    keys = {}
    for name, folder in folders.items():
        folder.mkdir()
        keys[name] = (await tipline("feed", "key", folder=folder)).strip()
    for room in (a, b):
        folder = folders[room.name]
        await fleet.start(
            room,
            folder.name,
            {
                "TIPLINE_MAINTENANCE_SECONDS": "0.5",
                "TIPLINE_NEWSROOM_NAME": NAMES[room.name],
                "TIPLINE_FEED_LISTEN": f"127.0.0.1:{ports[room.name]}",
                "TIPLINE_FEED_KEY_FILE": str(folder / "feed.key"),
            },
        )
    async with httpx.AsyncClient() as http:
        for port in ports.values():
            assert (await http.get(f"http://127.0.0.1:{port}/feed")).status_code == 200
    for me, them in (("A", "B"), ("B", "A")):
        url = f"http://127.0.0.1:{ports[them]}/feed"
        db = str(folders[me] / "tipline.db")
        await tipline(
            "partners", "add", NAMES[them], url, keys[them], "--trust", "certain", "--db", db,
            folder=folders[me],
        )  # fmt: skip
    for room in (a, b):
        room.admin.send_command("mod", "add", str(room.moderator.id), chat=room.mods)
        await room.api.wait_for_message(room.mods, "is now a moderator", timeout=CARD_TIMEOUT)

    # A's tipster sends a photo; A's moderator debunks it and publishes the verdict.
    original = picture(90)
    ticket_a, card = await tip(a, a.tipster, original)
    assert "New: not seen before" in card
    assert "misattributed" in await verdict(a, ticket_a, "misattributed")
    await publish(a, ticket_a)

    # Within one sync, B answers a copy with A's verdict, under A's name.
    b_db = folders["B"] / "tipline.db"
    await wait_until_sql(b_db, "SELECT 1 FROM partner_entries", "B to pull A's verdict")
    ticket_b, card = await tip(b, b.tipster, near_copy(original))
    assert "Known and debunked" in card and "Alpha News" in card, card

    # B's moderator looks at another copy and finds the photo authentic: B's word on A's item.
    witness = b.api.add_user("Witness", username="b_witness", id=7_520_000_099)
    ticket_w, card = await tip(b, witness, near_copy(near_copy(original)))
    assert "Known and debunked" in card, card
    reply = await verdict(b, ticket_w, "authentic")
    assert "partner newsroom's item" in reply, reply
    await publish(b, ticket_w)

    # A's moderators hear that B disagrees. B's tipster, told A's verdict, is told newsrooms
    # now disagree; so is A's own tipster, and B's witness (B's cards show the dispute too).
    notice = await a.api.wait_for_message(
        a.mods, "disagrees with our verdict", timeout=SYNC_TIMEOUT
    )
    assert "Beta News" in text_of(notice) and "misattributed" in text_of(notice)
    for room, sender, ticket in (
        (b, b.tipster, ticket_b),
        (a, a.tipster, ticket_a),
        (b, witness, ticket_w),
    ):
        [told] = await corrections(room, sender, 1)
        assert ticket in told and "disagree" in told, told

    # A withdraws its item: B's tipster is told the answer is withdrawn; for B's witness the
    # disagreement is over and B's verdict stands.
    a.moderator.send_command("unpublish", ticket_a, chat=a.mods)
    await a.api.wait_for_message(a.mods, "taken out of the newsroom's feed", timeout=CARD_TIMEOUT)
    [told] = await corrections(b, b.tipster, 1)
    assert ticket_b in told and "withdrawn" in told, told
    [told] = await corrections(b, witness, 1)
    assert ticket_w in told and "is now" in told, told
    await asyncio.sleep(2)  # a few more passes: nothing is told twice
    for sender in (b.tipster, witness):
        assert len([m for m in b.api.messages_to(sender) if "Correction" in text_of(m)]) == 2
