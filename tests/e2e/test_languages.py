"""Tipsters read the bot in their own language, end to end through the fake Telegram; the
moderators read the newsroom's."""

from __future__ import annotations

from telegram import BotCommandScopeAllPrivateChats

from tests.e2e.harness import TICKET, World, picture, running_bot, text_of
from tests.fakebotapi import FakeUser

LRI, PDI = "\u2066", "\u2069"


def unisolated(text: str) -> str:
    """Text without the bidi isolates around inserted values (invisible to a reader)."""
    return text.translate({ord(c): None for c in "\u2066\u2067\u2068\u2069"})


async def card_for(world: World, tipster: FakeUser, seed: int, ack: str, card: str) -> str:
    """Send a photo; the ticket from the acknowledgement (``ack`` in its text), then the text of
    the verdict card (``card`` in it) that names the same ticket."""
    tipster.send_photo(picture(seed))
    acknowledged = text_of(await world.api.wait_for_message(tipster, ack))
    ticket = TICKET.search(acknowledged)
    assert ticket, acknowledged
    text = text_of(await world.api.wait_for_message(tipster, card, timeout=15))
    assert ticket.group(0) in text
    return ticket.group(0)


async def test_korean_tipster_reads_korean_and_moderators_read_english(world: World) -> None:
    jiwoo = world.api.add_user("Jiwoo", id=7771110001, language_code="ko")
    async with running_bot(world):
        jiwoo.start()
        welcome = text_of(await world.api.wait_for_message(jiwoo))
        assert "파일로" in welcome and "/privacy" in welcome
        jiwoo.send_photo(picture(70))
        ack = text_of(await world.api.wait_for_message(jiwoo, "잘 받았습니다"))
        ticket = TICKET.search(ack)
        assert ticket is not None
        card = text_of(await world.api.wait_for_message(jiwoo, "접수 번호", timeout=15))
        assert "새 사진" in card and ticket.group(0) in card
        review = await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m)
    text = unisolated(text_of(review))
    assert ticket.group(0) in text and "Claimed by" in text  # the newsroom's English
    assert "Tipster's language: Korean (한국어)" in text
    buttons = [b["text"] for row in review["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Authentic" in b for b in buttons)


async def test_arabic_tipster_reads_arabic_with_codes_left_to_right(world: World) -> None:
    amal = world.api.add_user("Amal", id=7771110002, language_code="ar")
    async with running_bot(world):
        ticket = await card_for(world, amal, 71, "وصلنا", "رقم البلاغ")
        card = text_of(world.api.messages_to(amal)[-1])
    assert f"{LRI}{ticket}{PDI}" in card  # the ticket reads as typed inside Arabic text
    assert f"{LRI}/status {ticket}{PDI}" in card
    assert "صورة جديدة" in card


async def test_an_unknown_language_gets_the_newsrooms(world: World) -> None:
    xavier = world.api.add_user("Xavier", id=7771110003, language_code="xx")
    async with running_bot(world):
        await card_for(world, xavier, 72, "Received", "Ticket")


async def test_language_is_chosen_remembered_by_pseudonym_and_forgotten(world: World) -> None:
    tipster = world.tipster  # Telegram set to English
    async with running_bot(world):
        tipster.send_command("language")
        menu = await world.api.wait_for_message(tipster, "Choose the language")
        labels = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
        assert {"한국어", "العربية", "فارسی", "简体中文", "Українська"} <= set(labels)
        answer = await world.api.wait_for_callback_answer(tipster.press(menu, "Українська"))
        assert "українською" in answer.get("text", "")
        await world.api.wait_until(
            lambda: "українською" in text_of(world.api.message(tipster, menu["message_id"]) or {}),
            what="the menu answering in the chosen language",
        )
    async with running_bot(world):  # a restart: the choice is in the database
        tipster.start()
        welcome = text_of(await world.api.wait_for_message(tipster, "Tipline"))
        assert "файлом" in welcome
        await card_for(world, tipster, 73, "Отримано", "Звернення")
        tipster.send_command("forget")
        await world.api.wait_for_message(tipster, "Готово")
        tipster.start()
        assert "as a file" in text_of(await world.api.wait_for_message(tipster, "Tipline"))
    blob = b"".join(p.read_bytes() for p in world.tmp.rglob("*") if p.is_file())
    for identity in (str(tipster.id), tipster.first_name, tipster.username or ""):
        assert identity.encode() not in blob


async def test_command_menus_are_set_per_language(world: World) -> None:
    private = BotCommandScopeAllPrivateChats()
    async with running_bot(world):
        korean = {c["command"]: c["description"] for c in world.api.commands(private, "ko")}
        chinese = {c["command"]: c["description"] for c in world.api.commands(private, "zh")}
        default = {c["command"]: c["description"] for c in world.api.commands(private)}
    assert korean["language"] == "대화 언어 선택"
    assert "机器人" in chinese["language"]
    assert default["start"] == "What this bot does"
    assert set(korean) == set(chinese) == set(default)


async def test_a_spanish_newsroom_reviews_in_spanish(world: World) -> None:
    settings = world.settings.model_copy(update={"language": "es"})
    jiwoo = world.api.add_user("Jiwoo", id=7771110004, language_code="ko")
    async with running_bot(world, settings=settings):
        await card_for(world, jiwoo, 74, "잘 받았습니다", "접수 번호")
        review = await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m)
    text = unisolated(text_of(review))
    assert "Idioma de la fuente: coreano (한국어)" in text and "Asignado a" in text
    buttons = [b["text"] for row in review["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Auténtica" in b for b in buttons)


async def test_spanish_moderators_get_their_replies_in_spanish(world: World) -> None:
    settings = world.settings.model_copy(update={"language": "es"})
    mods, mina = world.mods, world.moderator
    async with running_bot(world, settings=settings):
        world.tipster.send_photo(picture(75))
        ack = text_of(await world.api.wait_for_message(world.tipster, "Received"))
        found = TICKET.search(ack)
        assert found is not None
        ticket = found.group(0)
        review = await world.api.wait_for_message(
            mods, lambda m: "reply_markup" in m and ticket in text_of(m), timeout=15
        )

        mina.send_command("queue", chat=mods)
        queue = text_of(await world.api.wait_for_message(mods, "Cola de revisión"))
        claim = world.moderator.press(review, "Asignarme")
        claimed = (await world.api.wait_for_callback_answer(claim)).get("text", "")

        mina.send_command("verdict", ticket, "misattributed", chat=mods)
        done = text_of(await world.api.wait_for_message(mods, "Se registró"))
        mina.send_command("verdict", ticket, "misatributed", chat=mods)  # a typo
        typo = text_of(await world.api.wait_for_message(mods, "no es un veredicto"))
        mina.send_command("stats", chat=mods)
        stats = text_of(await world.api.wait_for_message(mods, "Tipline hoy"))
    assert "1 aviso en espera" in queue and ticket in queue and "en espera · hace" in queue
    assert claimed == f"Te has asignado el aviso {ticket}."
    # The verdict keeps the word moderators type; the sentence around it is Spanish.
    assert done == f"Aviso {ticket}: misattributed. Se registró 1 imagen conocida; " + (
        "la próxima copia se reconocerá."
    )
    assert "misattributed, edited" in typo  # the words to type, as they are typed
    assert "En cola: 0" in stats and "Imágenes conocidas: 1" in stats
