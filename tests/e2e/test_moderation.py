"""Moderators and admins, end to end: buttons, commands, roles, and what tipsters hear."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from checks.verdicts import Verdict
from tests.e2e.harness import TICKET, World, picture, running_bot, text_of


def smaller_copy(data: bytes) -> bytes:
    out = io.BytesIO()
    image = Image.open(io.BytesIO(data))
    image.resize((image.width // 2, image.height // 2)).save(out, "JPEG", quality=60)
    return out.getvalue()


async def new_tip(world: World, data: bytes, who: object = None) -> tuple[str, dict]:
    """A tipster sends a picture; returns its ticket and the review card in the mods' chat."""
    sender = who or world.tipster
    sender.send_photo(data)  # type: ignore[attr-defined]
    ack = await world.api.wait_for_message(sender, "Received")
    ticket = TICKET.search(text_of(ack))
    assert ticket
    review = await world.api.wait_for_message(
        world.mods, lambda m: "reply_markup" in m and ticket.group(0) in text_of(m), timeout=15
    )
    return ticket.group(0), review


async def test_a_button_verdict_teaches_the_database_and_tells_the_tipster(world: World) -> None:
    original = picture(20)
    async with running_bot(world):
        ticket, review = await new_tip(world, original)
        await world.api.wait_for_message(world.tipster, "Ticket")
        press = world.moderator.press(review, "Authentic")
        await world.api.wait_for_callback_answer(press)
        notice = text_of(await world.api.wait_for_message(world.tipster, "reviewed"))
        assert ticket in notice and "authentic" in notice
        # The next copy, from someone else, is recognised at once and not queued again.
        world.other_tipster.send_photo(smaller_copy(original))
        card = text_of(await world.api.wait_for_message(world.other_tipster, "Ticket", timeout=15))
        # A near copy goes to review with the two pictures side by side.
        beside = await world.api.wait_for_message(world.mods, "beside known item", timeout=15)
    assert "Known and verified" in card
    assert beside.get("photo")
    edited = world.api.message(world.mods, review["message_id"])
    assert "reply_markup" not in edited or not edited["reply_markup"]["inline_keyboard"]


async def test_a_forged_button_press_is_refused_and_logged(world: World) -> None:
    async with running_bot(world) as app:
        ticket, review = await new_tip(world, picture(21))
        press = world.outsider.press_forged(
            review["reply_markup"]["inline_keyboard"][0][0]["callback_data"], message=review
        )
        answer = await world.api.wait_for_callback_answer(press)
        assert "moderators" in answer.get("text", "")
        storage = world.services(app).storage
        submission = await storage.get_submission_by_ticket(ticket)
        assert submission is not None and submission.verdict is None
        log = await storage.audit_log()
    assert any(entry.action == "refused" for entry in log)


async def test_moderator_commands(world: World) -> None:
    async with running_bot(world) as app:
        ticket, _ = await new_tip(world, picture(22))
        mods, mina = world.mods, world.moderator

        mina.send_command("queue", chat=mods)
        assert ticket in text_of(await world.api.wait_for_message(mods, "Review queue"))

        mina.send_command("claim", ticket, chat=mods)
        assert "claimed" in text_of(await world.api.wait_for_message(mods, "claimed"))
        world.admin.send_command("claim", ticket, chat=mods)
        assert "already claimed" in text_of(await world.api.wait_for_message(mods, "already"))

        mina.send_command("note", ticket, "Same", "scene", "as", "2019", chat=mods)
        await world.api.wait_for_message(mods, "Note saved")

        mina.send_command(
            "verdict",
            ticket,
            "misattributed",
            "https://factcheck.example/2019-flood",
            "Photo",
            "is",
            "from",
            "2019",
            chat=mods,
        )
        done = text_of(await world.api.wait_for_message(mods, "misattributed"))
        assert "known item" in done
        notice = text_of(await world.api.wait_for_message(world.tipster, "reviewed"))
        assert "wrong time or place" in notice and "factcheck.example" in str(
            world.api.messages_to(world.tipster)[-1]
        )

        world.admin.send_command("verdict", ticket, "authentic", chat=mods)
        assert "already has a verdict" in text_of(await world.api.wait_for_message(mods, "already"))

        mina.send_command("undo", ticket, chat=mods)
        assert "undone" in text_of(await world.api.wait_for_message(mods, "undone"))
        storage = world.services(app).storage
        submission = await storage.get_submission_by_ticket(ticket)
        assert submission is not None and submission.verdict is None

        mina.send_command("stats", chat=mods)
        stats = text_of(await world.api.wait_for_message(mods, "Tipline today"))
        assert "Queue: 1" in stats and "Median time to first verdict card" in stats

        actions = [entry.action for entry in await storage.audit_log()]
    for action in ("review.claim", "review.note", "review.verdict", "review.undo"):
        assert action in actions


async def test_undo_tells_the_moderator_what_an_import_changed_since(world: World) -> None:
    original = picture(23)
    async with running_bot(world) as app:
        ticket, _ = await new_tip(world, original)
        world.moderator.send_command("verdict", ticket, "edited", chat=world.mods)
        await world.api.wait_for_message(world.mods, "edited")
        storage = world.services(app).storage
        submission = await storage.get_submission_by_ticket(ticket)
        assert submission is not None and submission.items[0].fingerprint is not None
        (match,) = await storage.lookup(submission.items[0].fingerprint)
        known = await storage.get_known_item(match.item_id)
        assert known is not None
        # A partner's database, imported after the verdict, says more about the picture.
        await storage.upsert_known_item(
            dataclasses.replace(known.draft, verdict=Verdict.STAGED, recorded_by="import")
        )
        world.moderator.send_command("undo", ticket, chat=world.mods)
        reply = text_of(await world.api.wait_for_message(world.mods, "undone"))
        assert f"#{match.item_id}" in reply and "keeps its current verdict" in reply
        kept = await storage.get_known_item(match.item_id)
    assert kept is not None and kept.verdict is Verdict.STAGED


async def test_only_admins_manage_moderators(world: World) -> None:
    async with running_bot(world):
        mods = world.mods
        world.moderator.send_command("mod", "add", str(world.outsider.id), chat=mods)
        assert "for the newsroom's moderators" in text_of(await world.api.wait_for_message(mods))
        world.outsider.send_command("queue", chat=mods)
        assert "for the newsroom's moderators" in text_of(await world.api.wait_for_message(mods))

        world.admin.send_command("mod", "add", str(world.outsider.id), chat=mods)
        assert "now a moderator" in text_of(await world.api.wait_for_message(mods))
        world.outsider.send_command("queue", chat=mods)
        assert "queue" in text_of(await world.api.wait_for_message(mods)).lower()

        world.admin.send_command("mods", chat=mods)
        listing = text_of(await world.api.wait_for_message(mods, "Moderators"))
        assert str(world.outsider.id) not in listing

        world.admin.send_command("mod", "remove", str(world.outsider.id), chat=mods)
        assert "no longer" in text_of(await world.api.wait_for_message(mods))
        world.outsider.send_command("queue", chat=mods)
        assert "for the newsroom's moderators" in text_of(await world.api.wait_for_message(mods))


async def test_forget_means_no_notification(world: World) -> None:
    async with running_bot(world):
        _, review = await new_tip(world, picture(23))
        await world.api.wait_for_message(world.tipster, "Ticket")
        world.tipster.send_command("forget")
        await world.api.wait_for_message(world.tipster, "Done")
        press = world.moderator.press(review, "Edited")
        await world.api.wait_for_callback_answer(press)
        await world.api.wait_for_message(world.mods, "edited")
    assert not any("reviewed" in text_of(m) for m in world.api.messages_to(world.tipster))


async def test_every_review_button(world: World) -> None:
    buttons = {
        "Misattributed": "misattributed",
        "Edited": "edited",
        "Synthetic": "synthetic",
        "Inconclusive": "inconclusive",
    }
    async with running_bot(world) as app:
        storage = world.services(app).storage
        _, review = await new_tip(world, picture(30))
        claim = world.moderator.press(review, "Claim")
        assert "claimed" in (await world.api.wait_for_callback_answer(claim)).get("text", "")
        await world.api.wait_until(
            lambda: "mod·" in text_of(world.api.message(world.mods, review["message_id"]) or {}),
            what="the review card showing its claimer",
        )
        for seed, (label, verdict) in enumerate(buttons.items(), start=31):
            ticket, review = await new_tip(world, picture(seed))
            await world.api.wait_for_callback_answer(world.moderator.press(review, label))
            submission = await storage.get_submission_by_ticket(ticket)
            assert submission is not None and submission.verdict is not None
            assert submission.verdict.value == verdict
