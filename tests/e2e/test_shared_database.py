"""Two real ``tipline run`` processes on one PostgreSQL database, as the scale-out story has it.

Each newsroom's bot has its own fake Telegram (its own token, people and moderators' chat), and
both fakes number updates from the same id, as Telegram numbers them per bot. Asserted is what
users would notice: a verdict given in one newsroom, and its undoing, reach the other newsroom's
running bot at once (through NOTIFY, not a restart); colliding update ids are two tips, not a
repeat; a tip that an instance left unfinished when it died is finished, once, by another
instance of the same bot when the lease runs out; and a bot leaves another newsroom's tips
alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.harness import TICKET, picture, text_of
from tests.e2e.newsrooms import (
    CARD_TIMEOUT,
    FIRST_UPDATE_ID,
    Fleet,
    Newsroom,
    is_card,
    near_copy,
    newsroom,
    sent_text,
    ticket_of_ack,
)
from tests.storage_backends import fresh_schema

pytestmark = pytest.mark.postgres

TOKEN_A = "7100000001:AAFakeTokenForNewsroomA_tipline_e2e_a1"  # fakes, not secrets
TOKEN_B = "7200000002:AAFakeTokenForNewsroomB_tipline_e2e_b2"
#: Each newsroom's admin makes its own key, so pseudonyms and sealed chats differ between them.
SECRET_A = "newsroom-a-secret-key-for-the-shared-database-test"
SECRET_B = "newsroom-b-secret-key-for-the-shared-database-test"
#: The processing lease in the lease test (60 s in production), and the pause between the
#: second instance's maintenance passes (30 s in production).
SHORT_LEASE = 5.0
SHORT_MAINTENANCE = 0.5


def quick_clocks(lease: float, maintenance: float) -> dict[str, str]:
    """Settings for ``tipline run`` under which a lease can run out within a test."""
    return {"TIPLINE_LEASE_SECONDS": str(lease), "TIPLINE_MAINTENANCE_SECONDS": str(maintenance)}


@pytest_asyncio.fixture
async def newsroom_a() -> AsyncIterator[Newsroom]:
    async with newsroom("A", TOKEN_A, 7_310_000_000, -1_003_100_000_001, SECRET_A) as room:
        yield room


@pytest_asyncio.fixture
async def newsroom_b() -> AsyncIterator[Newsroom]:
    async with newsroom("B", TOKEN_B, 7_320_000_000, -1_003_200_000_002, SECRET_B) as room:
        yield room


@pytest_asyncio.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A schema of its own on the test server, dropped afterwards; its URL for every bot."""
    async with fresh_schema(postgres_url) as url:
        yield url


@pytest_asyncio.fixture
async def fleet(
    database: str, newsroom_a: Newsroom, newsroom_b: Newsroom, tmp_path: Path
) -> AsyncIterator[Fleet]:
    """Stopped (by process group) before the fakes and the schema go away."""
    fleet = Fleet(database, tmp_path)
    try:
        yield fleet
    finally:
        await fleet.stop_all()


async def test_a_verdict_in_one_newsroom_is_known_at_once_to_the_other(
    fleet: Fleet, newsroom_a: Newsroom, newsroom_b: Newsroom
) -> None:
    """The point of sharing a database: newsroom B's running bot recognises a copy of a
    picture newsroom A has just debunked, on the first try, and forgets it once A undoes it."""
    a, b = newsroom_a, newsroom_b
    await asyncio.gather(fleet.start(a, "newsroom-a"), fleet.start(b, "newsroom-b"))
    bot_b = fleet.processes["newsroom-b"]

    original = picture(70)
    copy = near_copy(original)
    assert hashlib.sha256(copy).digest() != hashlib.sha256(original).digest()

    a.tipster.send_photo(original)
    ticket = await ticket_of_ack(a)
    first = text_of(await a.api.wait_for_message(a.tipster, is_card(ticket), timeout=CARD_TIMEOUT))
    assert "New: not seen before" in first
    review = await a.api.wait_for_message(
        a.mods, lambda m: "reply_markup" in m and ticket in text_of(m), timeout=CARD_TIMEOUT
    )
    a.admin.send_command("mod", "add", str(a.moderator.id), chat=a.mods)
    await a.api.wait_for_message(a.mods, "is now a moderator")
    b.admin.send_command("mods", chat=b.mods)  # newsroom A's moderators are A's alone
    assert "Moderators: 0" in text_of(await b.api.wait_for_message(b.mods, "Moderators"))
    press = a.moderator.press(review, "Misattributed")
    await a.api.wait_for_callback_answer(press, timeout=CARD_TIMEOUT)
    await a.api.wait_for_message(a.tipster, "has been reviewed", timeout=CARD_TIMEOUT)

    # Newsroom B's bot has run all along; its tipster sends a smaller, re-encoded copy.
    b.tipster.send_photo(copy)
    copy_ticket = await ticket_of_ack(b)
    card = text_of(
        await b.api.wait_for_message(b.tipster, is_card(copy_ticket), timeout=CARD_TIMEOUT)
    )
    assert "Known and debunked" in card, card
    assert "wrong time or place" in card and "near-identical copy" in card, card
    assert bot_b.returncode is None, "newsroom B's bot learnt the verdict without a restart"

    # Newsroom A takes its verdict back: B's bot stops giving it out.
    a.moderator.send_command("undo", ticket, chat=a.mods)
    await a.api.wait_for_message(a.mods, "undone")
    b.tipster.send_photo(copy)
    again = await ticket_of_ack(b)
    card = text_of(await b.api.wait_for_message(b.tipster, is_card(again), timeout=CARD_TIMEOUT))
    assert "New: not seen before" in card, card


async def test_the_same_update_ids_at_two_bots_are_two_tips(
    fleet: Fleet, newsroom_a: Newsroom, newsroom_b: Newsroom
) -> None:
    """Telegram numbers updates per bot, so update 800000001 reaches both bots: keyed by
    update id alone, the second tip would be dropped as a repeat and its source never answered.
    """
    a, b = newsroom_a, newsroom_b
    await asyncio.gather(fleet.start(a, "newsroom-a"), fleet.start(b, "newsroom-b"))

    sent_a = a.tipster.send_photo(picture(71))
    sent_b = b.tipster.send_photo(picture(72))
    assert sent_a.update_id == sent_b.update_id == FIRST_UPDATE_ID
    tickets = {}
    for room in (a, b):
        ticket = await ticket_of_ack(room)
        await room.api.wait_for_message(room.tipster, is_card(ticket), timeout=CARD_TIMEOUT)
        tickets[room.name] = ticket
    assert tickets["A"] != tickets["B"]

    # Each bot still knows its own repeat for what it is.
    b.api.redeliver(sent_b)
    for room in (a, b):
        room.tipster.send_command("status")
        status = text_of(await room.api.wait_for_message(room.tipster, "tickets"))
        assert TICKET.findall(status) == [tickets[room.name]], status
    await fleet.stop_all()  # every update handled; nothing more can come
    for room in (a, b):
        assert len(room.acks()) == 1
        assert len(room.cards()) == 1


async def test_a_tip_left_by_a_dead_instance_is_finished_once_after_its_lease(
    fleet: Fleet, newsroom_a: Newsroom
) -> None:
    """Two instances of one bot: "east" dies while downloading a tip, holding its lease.

    "west" comes up under another name while the lease still runs (two instances cannot
    long-poll one bot at the same moment), leaves the tip alone until the lease runs out, then
    finishes it: one card, one review card.
    """
    a = newsroom_a
    await fleet.start(a, "east", quick_clocks(SHORT_LEASE, 30.0))
    a.api.slow_next("getFile", 60.0)  # east hangs on the download, lease in hand
    a.tipster.send_photo(picture(73))
    ticket = await ticket_of_ack(a)
    await a.api.wait_until(lambda: not a.api.server.failures, what="east's download to start")
    await fleet.stop("east", signal.SIGKILL)
    # East took its lease after it asked for the acknowledgement: it cannot run out before this.
    lease_over = sent_text(a.api, "Received").time + SHORT_LEASE

    await fleet.start(a, "west", quick_clocks(SHORT_LEASE, SHORT_MAINTENANCE))
    west_ready = a.api.calls_to("deleteWebhook")[-1].time
    assert west_ready < lease_over, "west must come up while east's lease still runs"
    await a.api.wait_for_message(a.tipster, is_card(ticket), timeout=SHORT_LEASE + CARD_TIMEOUT)
    await a.api.wait_for_message(
        a.mods, lambda m: "reply_markup" in m and ticket in text_of(m), timeout=CARD_TIMEOUT
    )
    await fleet.stop("west")

    card_call = sent_text(a.api, f"Ticket <code>{ticket}</code>")
    assert card_call.time >= lease_over, "west waited for east's lease to run out"
    assert len(a.acks()) == 1
    assert len(a.cards()) == 1
    assert len([m for m in a.api.messages_to(a.mods) if "reply_markup" in m]) == 1


async def test_a_bot_leaves_another_newsrooms_unfinished_tip_alone(
    fleet: Fleet, newsroom_a: Newsroom, newsroom_b: Newsroom
) -> None:
    """A file id means nothing to another bot, and the source talks to B only: a tip B has to
    retry must wait for B. Were bot A to take it up at start, it could not fetch the file and
    would close the tip as answered, so B's source would never hear back."""
    a, b = newsroom_a, newsroom_b
    await fleet.start(b, "newsroom-b")
    b.api.fail_next("getFile", status=502)  # a passing outage: the tip waits for a retry
    sent = b.tipster.send_photo(picture(74))
    ticket = await ticket_of_ack(b)
    await b.api.wait_for_message(b.tipster, "Something went wrong", timeout=CARD_TIMEOUT)

    await fleet.start(a, "newsroom-a")
    a.tipster.send_photo(picture(75))
    own = await ticket_of_ack(a)
    await a.api.wait_for_message(a.tipster, is_card(own), timeout=CARD_TIMEOUT)
    foreign = [c for c in a.api.calls_to("getFile") if c.params.get("file_id") == sent.file_id]
    assert not foreign, "newsroom A's bot tried to fetch newsroom B's picture"

    await fleet.stop("newsroom-b")
    await fleet.start(b, "newsroom-b")
    card = await b.api.wait_for_message(b.tipster, is_card(ticket), timeout=CARD_TIMEOUT)
    assert "New: not seen before" in text_of(card)
