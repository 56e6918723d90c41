"""A source's side of the bot, end to end through the fake Telegram."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import TICKET, World, picture, running_bot, text_of


async def send_and_get_card(world: World, data: bytes, **kwargs: object) -> tuple[str, str]:
    """Send a photo; return (ticket, verdict card text)."""
    world.tipster.send_photo(data, **kwargs)
    ack = await world.api.wait_for_message(world.tipster, "Received")
    ticket = TICKET.search(text_of(ack))
    assert ticket, text_of(ack)
    card = await world.api.wait_for_message(world.tipster, "Ticket", timeout=15)
    assert ticket.group(0) in text_of(card)
    return ticket.group(0), text_of(card)


async def test_start_help_and_privacy(world: World) -> None:
    async with running_bot(world):
        world.tipster.start()
        welcome = text_of(await world.api.wait_for_message(world.tipster))
        assert "as a file" in welcome and "/privacy" in welcome
        world.tipster.send_command("privacy")
        privacy = text_of(await world.api.wait_for_message(world.tipster))
        assert "not end-to-end encrypted" in privacy
        assert "/forget" in privacy and "30 days" in privacy


async def test_commands_are_registered_per_scope(world: World) -> None:
    from telegram import BotCommandScopeAllPrivateChats, BotCommandScopeChat

    async with running_bot(world):
        private = {c["command"] for c in world.api.commands(BotCommandScopeAllPrivateChats())}
        mods = {c["command"] for c in world.api.commands(BotCommandScopeChat(world.mods.id))}
    assert {"start", "help", "status", "privacy", "forget"} <= private
    assert {"queue", "claim", "verdict", "note", "undo", "stats", "mod", "mods"} <= mods


async def test_a_new_photo_gets_a_ticket_a_card_and_goes_to_review(world: World) -> None:
    async with running_bot(world):
        ticket, card = await send_and_get_card(world, picture(1))
        assert "New" in card
        review = await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m)
        assert ticket in text_of(review)
        buttons = [b["text"] for row in review["reply_markup"]["inline_keyboard"] for b in row]
        for label in ("Authentic", "Misattributed", "Edited", "Synthetic", "Inconclusive", "Claim"):
            assert any(label in b for b in buttons), label
        assert world.api.calls_to("sendPhoto"), "the moderators see the picture"


async def test_a_repeated_update_makes_no_second_ticket(world: World) -> None:
    async with running_bot(world):
        sent = world.tipster.send_photo(picture(2))
        await world.api.wait_for_message(world.tipster, "Received")
        await world.api.wait_for_message(world.tipster, "Ticket", timeout=15)
        world.api.redeliver(sent)
        world.tipster.send_command("status")
        status = text_of(await world.api.wait_for_message(world.tipster, "tickets"))
    assert len(TICKET.findall(status)) == 1
    acks = [m for m in world.api.messages_to(world.tipster) if "Received" in text_of(m)]
    assert len(acks) == 1


async def test_an_album_is_one_ticket(world: World) -> None:
    async with running_bot(world):
        world.tipster.send_album([picture(3), picture(4), picture(5)])
        await world.api.wait_for_message(world.tipster, "Received")
        card = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    assert "Picture 3 of 3" in card
    acks = [m for m in world.api.messages_to(world.tipster) if "Received" in text_of(m)]
    assert len(acks) == 1


async def test_a_late_album_part_brings_the_card_again(world: World) -> None:
    async with running_bot(world):
        sent = world.tipster.send_album([picture(50), picture(51)])
        await world.api.wait_for_message(world.tipster, "Received")
        first = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
        assert "Picture 2 of 2" in first
        group = sent[0].message["media_group_id"]  # type: ignore[index]
        world.tipster.send_photo(picture(52), _media_group_id=group)
        second = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    assert "Picture 3 of 3" in second
    assert TICKET.search(first).group(0) == TICKET.search(second).group(0)  # type: ignore[union-attr]


async def test_a_forward_from_a_channel_is_shown_to_moderators(world: World) -> None:
    channel = world.api.add_channel("Pyongyang Daily <Truth>", username="pyongyang_daily")
    async with running_bot(world):
        await send_and_get_card(world, picture(6), forward_from=channel)
        review = await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m)
    text = text_of(review)
    assert "Pyongyang Daily <Truth>" in text and "@pyongyang_daily" in text
    assert "originally posted" in text


async def test_a_file_with_gps_warns_first(world: World, images: Path) -> None:
    data = (images / "exif-samples/gps/DSCN0010.jpg").read_bytes()
    async with running_bot(world):
        world.tipster.send_document(data, file_name="DSCN0010.jpg", mime_type="image/jpeg")
        card = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    findings = card.split("\n")
    first_finding = next(line for line in findings if line.startswith(("⚠", "•", "·")))
    assert "where it was taken" in first_finding


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        ("pdf", "not a picture"),
        ("huge", "larger than 20 MB"),
        ("text", "Please send a picture"),
    ],
)
async def test_refusals_say_what_to_do(world: World, send: str, expected: str) -> None:
    async with running_bot(world):
        if send == "pdf":
            world.tipster.send_document(b"%PDF-1.4 ...", file_name="leak.pdf")
        elif send == "huge":
            world.tipster.send_document(
                picture(7), file_name="big.jpg", mime_type="image/jpeg", file_size=30 * 2**20
            )
        else:
            world.tipster.send_text("hello, is anyone there?")
        reply = text_of(await world.api.wait_for_message(world.tipster))
    assert expected in reply


async def test_an_undecodable_image_file_is_explained(world: World) -> None:
    async with running_bot(world):
        world.tipster.send_document(b"\0" * 5000, file_name="photo.jpg", mime_type="image/jpeg")
        card = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    assert "could not check" in card


@pytest.fixture
def picture_server() -> Iterator[tuple[str, bytes]]:
    data = picture(8)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://pictures.example:{server.server_address[1]}/viral.jpg", data
    finally:
        server.shutdown()
        server.server_close()


async def test_a_link_is_fetched_and_checked(
    world: World, picture_server: tuple[str, bytes]
) -> None:
    url, _ = picture_server
    async with running_bot(world, loopback_links={"pictures.example": ["127.0.0.1"]}):
        world.tipster.send_text(f"look at this {url}")
        card = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    assert "New" in card


async def test_a_link_to_a_private_address_is_refused(world: World) -> None:
    async with running_bot(world):
        world.tipster.send_text("http://169.254.169.254/latest/meta-data/")
        card = text_of(await world.api.wait_for_message(world.tipster, "Ticket", timeout=15))
    assert "private" in card or "not fetch" in card


async def test_status_shows_only_your_own_tickets(world: World) -> None:
    async with running_bot(world):
        ticket, _ = await send_and_get_card(world, picture(9))
        world.tipster.send_command("status")
        mine = text_of(await world.api.wait_for_message(world.tipster, "tickets"))
        assert ticket in mine
        world.tipster.send_command("status", ticket.lower().replace("-", ""))
        assert ticket in text_of(await world.api.wait_for_message(world.tipster, ticket))
        world.other_tipster.send_command("status", ticket)
        theirs = text_of(await world.api.wait_for_message(world.other_tipster))
        assert ticket not in theirs and "No ticket" in theirs
        world.moderator.send_command("status", ticket)
        assert ticket in text_of(await world.api.wait_for_message(world.moderator))


async def test_forget_unlinks_every_ticket(world: World) -> None:
    async with running_bot(world):
        await send_and_get_card(world, picture(10))
        world.tipster.send_command("forget")
        assert "1 ticket" in text_of(await world.api.wait_for_message(world.tipster, "Done"))
        world.tipster.send_command("status")
        assert "no tickets" in text_of(await world.api.wait_for_message(world.tipster))


async def test_a_429_delays_the_card_but_loses_nothing(world: World) -> None:
    async with running_bot(world):
        world.api.fail_next("sendMessage", status=429, retry_after=1, times=1)
        ticket, _ = await send_and_get_card(world, picture(11))
    cards = [m for m in world.api.messages_to(world.tipster) if "Ticket" in text_of(m)]
    assert len(cards) == 1 and ticket in text_of(cards[0])
