"""A tip line under attack: floods, strangers' groups and hostile messages, end to end."""

from __future__ import annotations

from typing import Any

from handlers.services import Services
from tests.e2e.harness import TICKET, World, picture, running_bot, text_of


def bot_texts(world: World, chat: Any) -> list[str]:
    return [text_of(m) for m in world.api.messages_to(chat)]


async def tips_of(services: Services, user_id: int) -> list[Any]:
    return await services.storage.submissions_of(services.identities.pseudonym(user_id), 100)


async def test_an_album_sent_twenty_times_is_taken_up_to_the_limit(world: World) -> None:
    albums = [[picture(1000 + a * 10 + i, size=(160, 120)) for i in range(10)] for a in range(20)]
    async with running_bot(world) as app:
        services = world.services(app)
        limit = services.fair_use.pictures
        assert limit == 30
        for album in albums:
            world.tipster.send_album(album)

        def settled() -> bool:
            texts = bot_texts(world, world.tipster)
            refusals = sum("not recorded" in t for t in texts)
            cards = [t for t in texts if t.startswith("Ticket") or "\nTicket" in t]
            acks = sum("Received" in t for t in texts)
            return refusals and acks and len(cards) >= acks and refusals + acks >= 20

        await world.api.wait_until(settled, timeout=60, what="every album answered")
        await world.api.wait_until(lambda: not services.pending, timeout=30, what="idle")
        tips = await tips_of(services, world.tipster.id)
    texts = bot_texts(world, world.tipster)
    # Exactly the limit was recorded, however the albums' parts interleaved.
    assert sum(len(t.items) for t in tips) == limit
    acks = [t for t in texts if "Received" in t]
    assert len(acks) == len(tips)
    for tip in tips:  # every accepted tip was acknowledged and got its card
        assert any(tip.ticket in t for t in acks)
        assert any(tip.ticket in t and "Picture" in t for t in texts if t not in acks)
    # One friendly answer per album that went over, saying when to try again.
    partial = sum(1 for t in tips if len(t.items) < 10)
    refusals = [t for t in texts if "not recorded" in t]
    assert len(refusals) == 20 - len(tips) + partial
    assert all("in 10 minutes" in r or "in 9 minutes" in r for r in refusals), refusals[0]
    assert not world.api.errors


async def test_the_bot_leaves_a_group_that_is_not_the_newsroom(world: World) -> None:
    strangers = world.api.add_group("Anyone's chat", members=[world.outsider])
    world.tipster.add_bot_to(strangers)
    world.tipster.send_photo(picture(60), chat=strangers)
    world.moderator.send_command("queue", chat=strangers)
    world.tipster.send_text("https://example.com/a.jpg", chat=strangers)
    async with running_bot(world) as app:
        services = world.services(app)
        left = await world.api.wait_until(
            lambda: world.api.calls_to("leaveChat", ok=True), what="leaveChat"
        )
        # A private tip afterwards is handled as ever (and shows the group's updates are done).
        world.tipster.send_photo(picture(61))
        await world.api.wait_for_message(world.tipster, "Ticket", timeout=15)
        tips = await tips_of(services, world.tipster.id)
    assert len(left) == 1
    assert bot_texts(world, strangers) == []  # nothing said there, about tips or anything
    assert len(tips) == 1 and len(tips[0].items) == 1
    assert world.api.chat(strangers).record.members[world.api.state.bot.id] == "left"


async def test_a_long_hostile_caption_and_channel_name(world: World) -> None:
    channel = world.api.add_channel(
        "<b>Daily</b> \u202eswen\u202c & <a href='x'>", username="hostile_daily"
    )
    caption = ("<i>look</i> \u202e&amp; \u2067" * 300)[:4000]
    assert len(caption) == 4000
    async with running_bot(world):
        world.tipster.send_photo(picture(62), caption=caption, forward_from=channel)
        card = await world.api.wait_for_message(world.tipster, "Ticket", timeout=15)
        review = await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m)
    assert TICKET.search(text_of(card))
    shown = text_of(review)
    assert "<b>Daily</b> swen & <a href='x'>" in shown  # escaped, shown as typed
    for message in world.api.messages_to(world.tipster) + world.api.messages_to(world.mods):
        text = text_of(message)
        assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e"), text
    assert not world.api.errors  # every card was valid Telegram HTML


async def test_stickers_videos_and_animations_get_a_clear_reply(world: World) -> None:
    async with running_bot(world) as app:
        world.tipster.send_sticker()
        world.tipster.send_video(caption="<b>video</b>")
        world.tipster.send_animation()
        replies = await world.api.wait_for_messages(world.tipster, 3)
        tips = await tips_of(world.services(app), world.tipster.id)
    for reply in replies:
        assert "checks pictures only" in text_of(reply)
    assert tips == []
    assert not world.api.errors
