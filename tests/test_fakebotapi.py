"""The fake Telegram Bot API, driven by a real PTB Application over real HTTP.

These tests pin what the end-to-end tests rely on, for the methods Tipline and PTB call: that
PTB parses every answer, that the fake refuses what Telegram refuses (bad HTML, long texts,
big files), and that failures such as 429 flood control reach PTB the way Telegram sends them.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginChannel,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApp
from tornado.web import RequestHandler

from tests.fakebotapi import FakeBotAPI, WaitTimeout, parse_html

Context = ContextTypes.DEFAULT_TYPE


def jpeg(
    width: int = 1600, height: int = 1200, color: tuple[int, int, int] = (200, 30, 60)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


class Recorder:
    """Collects what the handlers saw, so tests can wait for it."""

    def __init__(self) -> None:
        self.updates: list[Update] = []
        self.photos: list[bytes] = []


async def echo(update: Update, context: Context) -> None:
    context.bot_data["recorder"].updates.append(update)
    message = update.effective_message
    assert message is not None
    if message.text:
        await message.reply_text(message.text)


async def keyboard(update: Update, context: Context) -> None:
    assert update.effective_message is not None
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Claim", callback_data="claim:1")],
            [InlineKeyboardButton("Authentic", callback_data="verdict:1:authentic")],
        ]
    )
    await update.effective_message.reply_text(
        "Review <b>K7QM</b>", parse_mode="HTML", reply_markup=markup
    )


async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    context.bot_data["recorder"].updates.append(update)
    await query.answer(f"got {query.data}")
    await query.edit_message_text(f"chosen: {query.data}")


async def on_photo(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    context.bot_data["recorder"].updates.append(update)
    file = await context.bot.get_file(message.photo[-1].file_id)
    context.bot_data["recorder"].photos.append(bytes(await file.download_as_bytearray()))


def build_app(api: FakeBotAPI) -> tuple[Application[Any, Any, Any, Any, Any, Any], Recorder]:
    app = api.application_builder().rate_limiter(AIORateLimiter(max_retries=3)).build()
    recorder = Recorder()
    app.bot_data["recorder"] = recorder
    app.add_handler(CommandHandler("keyboard", keyboard))
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    return app, recorder


# --- the bot's own calls ---------------------------------------------------------------------


async def test_get_me_describes_the_bot(api: FakeBotAPI) -> None:
    app, _ = build_app(api)
    async with app:  # initialize() calls getMe
        me = await app.bot.get_me()
    assert me.id == 7000000001
    assert me.username == "tipline_test_bot"
    assert me.is_bot
    assert api.calls_to("getMe", ok=True)


async def test_text_reaches_the_handler_and_the_reply_arrives(api: FakeBotAPI) -> None:
    alice = api.add_user("Alice", username="alice_tips", language_code="ko")
    app, recorder = build_app(api)
    async with api.running(app):
        sent = alice.send_text("hello <there> & https://example.org/a.jpg")
        reply = await api.wait_for_message(alice)
    assert reply["text"] == "hello <there> & https://example.org/a.jpg"
    assert reply["from"]["id"] == api.bot.id
    assert reply["message_id"] == sent.message_id + 1  # one counter per chat, both sides
    update = recorder.updates[0]
    assert update.update_id == sent.update_id
    assert update.effective_user is not None
    assert update.effective_user.language_code == "ko"
    message = update.effective_message
    assert message is not None
    assert message.parse_entities(["url"]).popitem()[1] == "https://example.org/a.jpg"


async def test_commands_carry_bot_command_entities(api: FakeBotAPI) -> None:
    alice = api.add_user()
    seen: list[list[str]] = []

    async def status(update: Update, context: Context) -> None:
        seen.append(list(context.args or []))

    app = api.application_builder().build()
    app.add_handler(CommandHandler("status", status))
    async with api.running(app):
        sent = alice.send_command("status", "K7QM-2XTD")
        await api.wait_until(lambda: seen, what="the /status handler")
    assert sent.text == "/status K7QM-2XTD"
    assert sent.message is not None
    assert sent.message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    assert seen == [["K7QM-2XTD"]]


async def test_photo_download_returns_the_bytes_sent(api: FakeBotAPI) -> None:
    alice = api.add_user()
    picture = jpeg()
    app, recorder = build_app(api)
    async with api.running(app):
        sent = alice.send_photo(picture, caption="from /status https://t.me/x")
        await api.wait_until(lambda: recorder.photos, what="the photo download")
    assert recorder.photos == [picture]
    photo = sent.message["photo"] if sent.message else []
    assert [(p["width"], p["height"]) for p in photo] == [
        (90, 68),
        (320, 240),
        (800, 600),
        (1280, 960),
        (1600, 1200),
    ]
    assert photo[-1]["file_size"] == len(picture)
    assert api.downloads and api.downloads[0].startswith("photos/")
    message = recorder.updates[0].effective_message
    assert message is not None
    assert message.caption == "from /status https://t.me/x"
    assert {e.type for e in message.caption_entities} == {"bot_command", "url"}


async def test_album_arrives_as_separate_updates_with_one_media_group(api: FakeBotAPI) -> None:
    alice = api.add_user()
    pictures = [jpeg(color=(i * 60, 10, 10)) for i in range(3)]
    app, recorder = build_app(api)
    async with api.running(app):
        sent = alice.send_album(pictures, caption="three of them")
        await api.wait_until(lambda: len(recorder.photos) == 3, what="three downloads")
    assert [s.update_id for s in sent] == sorted({s.update_id for s in sent})
    groups = {u.effective_message.media_group_id for u in recorder.updates if u.effective_message}
    assert len(groups) == 1
    assert None not in groups
    assert len(recorder.updates) == 3
    assert [u.effective_message.caption for u in recorder.updates if u.effective_message] == [
        "three of them",
        None,
        None,
    ]
    assert sorted(recorder.photos) == sorted(pictures)


async def test_forwarded_messages_expose_forward_origin(api: FakeBotAPI) -> None:
    alice = api.add_user()
    bob = api.add_user("Bob", username="bob_source")
    channel = api.add_channel("Pyongyang Times", username="pyongyang_times")
    app, recorder = build_app(api)
    async with api.running(app):
        alice.send_photo(jpeg(), forward_from=channel)
        alice.send_text("look", forward_from=bob)
        alice.send_text("hidden", forward_from="Chul-su Kim")
        await api.wait_until(lambda: len(recorder.updates) == 3, what="three updates")
    origins = [u.effective_message.forward_origin for u in recorder.updates if u.effective_message]
    first, second, third = origins
    assert isinstance(first, MessageOriginChannel)
    assert first.chat.title == "Pyongyang Times"
    assert first.chat.username == "pyongyang_times"
    assert first.message_id == 1
    assert isinstance(second, MessageOriginUser)
    assert second.sender_user.username == "bob_source"
    assert isinstance(third, MessageOriginHiddenUser)
    assert third.sender_user_name == "Chul-su Kim"


async def test_callback_query_is_answered_and_the_message_edited(api: FakeBotAPI) -> None:
    mod = api.add_user("Mina", username="mina_mod")
    mods = api.add_group("Moderators", admins=[mod])
    app, recorder = build_app(api)
    async with api.running(app):
        mod.send_command("keyboard", chat=mods)
        card = await api.wait_for_message(mods, "Review")
        assert card["entities"] == [{"type": "bold", "offset": 7, "length": 4}]
        press = mod.press(card, "Authentic")
        answer = await api.wait_for_callback_answer(press)
        edited = await api.wait_until(lambda: api.calls_to("editMessageText", ok=True))
        forged = mod.press_forged("verdict:999:satire", message=card)
        await api.wait_for_callback_answer(forged)
    assert answer["text"] == "got verdict:1:authentic"
    assert answer["query"]["from"]["id"] == mod.id
    assert edited[0].result["text"] == "chosen: verdict:1:authentic"
    now = api.message(mods, card["message_id"])
    assert now is not None
    assert now["text"] == "chosen: verdict:999:satire"
    assert "reply_markup" not in now  # an edit without reply_markup drops the keyboard
    assert "edit_date" in now
    query = recorder.updates[-1].callback_query
    assert query is not None
    assert query.data == "verdict:999:satire"
    assert query.message is not None
    assert query.message.chat.id == mods.id
    assert query.chat_instance == api.chat(mods).record.chat_instance


async def test_edit_message_text_and_not_modified(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app, _ = build_app(api)
    async with app:
        sent = await app.bot.send_message(alice.id, "first")
        edited = await app.bot.edit_message_text(
            "second", chat_id=alice.id, message_id=sent.message_id
        )
        assert not isinstance(edited, bool)
        assert edited.text == "second"
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await app.bot.edit_message_text("second", chat_id=alice.id, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await app.bot.edit_message_text("x", chat_id=alice.id, message_id=999)
    assert api.messages_to(alice)[0]["text"] == "second"


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>x</i>", "Unmatched end tag at byte offset 4"),
        ("Tom & Jerry", "Unescaped '&' at byte offset 4"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_malformed_html_is_refused_like_telegram(
    api: FakeBotAPI, html: str, detail: str
) -> None:
    alice = api.add_user()
    app, _ = build_app(api)
    async with app:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await app.bot.send_message(alice.id, html, parse_mode="HTML")
    refused = api.calls_to("sendMessage")[-1]
    assert refused.status == 400
    assert refused.description.startswith(f"Bad Request: can't parse entities: {detail}")
    assert api.messages_to(alice) == []


async def test_wellformed_html_becomes_entities(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app, _ = build_app(api)
    text = '<b>Ticket</b> <code>K7QM</code> — <a href="https://ex.org/?a=1&amp;b=2">link</a> &lt;3'
    async with app:
        message = await app.bot.send_message(alice.id, text, parse_mode="HTML")
    assert message.text == "Ticket K7QM — link <3"
    assert [e.type for e in message.entities] == ["bold", "code", "text_link"]
    assert message.entities[-1].url == "https://ex.org/?a=1&b=2"
    assert message.parse_entity(message.entities[-1]) == "link"


async def test_length_limits(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app, _ = build_app(api)
    async with app:
        await app.bot.send_message(alice.id, "😀" * 4096)  # Telegram counts characters
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await app.bot.send_message(alice.id, "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await app.bot.send_photo(alice.id, jpeg(64, 64), caption="c" * 1025)
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await app.bot.send_message(
                alice.id,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("too long", callback_data="é" * 33)]]
                ),
            )


# PTB itself warns on every RetryAfter it builds unless PTB_TIMEDELTA is set.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limited_send_is_retried_once_and_delivered_once(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app, _ = build_app(api)
    api.fail_next("sendMessage", status=429, retry_after=1)
    async with api.running(app):
        alice.send_text("flood")
        reply = await api.wait_for_message(alice, timeout=5)
        await asyncio.sleep(0.2)  # would a second copy follow?
    assert reply["text"] == "flood"
    assert len(api.messages_to(alice)) == 1
    first, second = api.calls_to("sendMessage")
    assert first.status == 429
    assert first.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert second.ok
    assert second.time - first.time >= 1.0


async def test_server_errors_reach_ptb(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app = api.application_builder().build()
    api.fail_next("sendMessage", status=502)
    api.fail_next("sendMessage", status=403, description="Forbidden: bot was kicked")
    async with app:
        with pytest.raises(NetworkError, match="Bad Gateway") as caught:
            await app.bot.send_message(alice.id, "x")
        assert type(caught.value) is NetworkError  # not one of its subclasses
        with pytest.raises(Forbidden, match="kicked"):
            await app.bot.send_message(alice.id, "x")
        await app.bot.send_message(alice.id, "after")
    assert [m["text"] for m in api.messages_to(alice)] == ["after"]


async def test_set_my_commands_recorded_per_scope(api: FakeBotAPI) -> None:
    mods = api.add_group("Moderators")
    app, _ = build_app(api)
    tipster_commands = [BotCommand("status", "Where is my tip?"), BotCommand("forget", "Forget me")]
    moderator_commands = [BotCommand("claim", "Claim a submission")]
    async with app:
        await app.bot.set_my_commands(tipster_commands, scope=BotCommandScopeAllPrivateChats())
        await app.bot.set_my_commands(moderator_commands, scope=BotCommandScopeChat(mods.id))
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await app.bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert api.commands(BotCommandScopeAllPrivateChats()) == [
        {"command": "status", "description": "Where is my tip?"},
        {"command": "forget", "description": "Forget me"},
    ]
    assert api.commands("all_private_chats") == api.commands(BotCommandScopeAllPrivateChats())
    assert api.commands(BotCommandScopeChat(mods.id)) == [
        {"command": "claim", "description": "Claim a submission"}
    ]
    assert api.commands() == []


async def test_unknown_method_and_wrong_token(api: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        unknown = await client.post(f"{api.base_url}{api.token}/sendTelepathy")
        wrong = await client.post(f"{api.base_url}123:wrong/getMe")
        mangled = await client.get(f"{api.root}/botnot-a-token/getMe")
        case = await client.post(f"{api.base_url}{api.token}/GETME")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }
    assert wrong.status_code == 401
    assert wrong.json()["description"] == "Unauthorized"
    assert mangled.status_code == 404
    assert case.json()["result"]["username"] == "tipline_test_bot"  # names ignore case

    app = api.application_builder().build()
    async with app:
        with pytest.raises(EndPointNotFound):
            await app.bot.do_api_request("sendTelepathy")
    wrong_bot = Bot("7000000001:someoneElsesToken", base_url=api.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong_bot.get_me()
    finally:
        await wrong_bot.request.shutdown()


# --- files -----------------------------------------------------------------------------------


async def test_documents_and_the_20_mb_download_limit(api: FakeBotAPI) -> None:
    alice = api.add_user()
    small = alice.send_document(b"%PDF-1.7 tip", file_name="tip.pdf")
    huge = alice.send_document(b"x", file_name="raw.dng", file_size=30 * 1024 * 1024)
    app = api.application_builder().build()
    async with app:
        file = await app.bot.get_file(small.file_id)
        assert bytes(await file.download_as_bytearray()) == b"%PDF-1.7 tip"
        with pytest.raises(BadRequest, match=r"(?i)file is too big"):
            await app.bot.get_file(huge.file_id)
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await app.bot.get_file("nope")
    assert small.message is not None
    assert small.message["document"]["mime_type"] == "application/pdf"


async def test_bot_uploads_a_photo(api: FakeBotAPI) -> None:
    mods = api.add_group("Moderators")
    app = api.application_builder().build()
    picture = jpeg(400, 300)
    async with app:
        photo = await app.bot.send_photo(mods.id, picture, caption="<i>copy</i>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
            await app.bot.send_photo(mods.id, b"not an image")
    assert photo.caption == "copy"
    assert photo.caption_entities[0].type == "italic"
    assert [(p.width, p.height) for p in photo.photo] == [(90, 68), (320, 240), (400, 300)]
    assert api.file_bytes(photo.photo[-1].file_id) == picture


# --- updates ---------------------------------------------------------------------------------


async def test_redelivered_update_reaches_the_bot_twice(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app, recorder = build_app(api)
    async with api.running(app):
        sent = alice.send_text("once")
        await api.wait_for_message(alice)
        api.redeliver(sent)
        await api.wait_for_message(alice)
        later = alice.send_text("next")
        await api.wait_for_message(alice, "next")
    assert [u.update_id for u in recorder.updates] == [
        sent.update_id,
        sent.update_id,
        later.update_id,
    ]
    assert api.pending_updates == 0


async def test_updates_are_confirmed_by_offset_and_long_polls_wait(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app = api.application_builder().build()
    async with app:
        first = alice.send_text("one")
        got = await app.bot.get_updates(timeout=0)
        assert [u.update_id for u in got] == [first.update_id]
        again = await app.bot.get_updates(offset=first.update_id + 1, timeout=0)
        assert again == ()
        started = time.monotonic()
        waiting = asyncio.create_task(app.bot.get_updates(offset=first.update_id + 1, timeout=5))
        await asyncio.sleep(0.2)
        second = alice.send_text("two")
        got = await waiting
        assert time.monotonic() - started < 2
        assert [u.update_id for u in got] == [second.update_id]
        assert second.update_id == first.update_id + 1


async def test_second_poller_conflicts_the_first(api: FakeBotAPI) -> None:
    """Two bot instances polling: Telegram ends the older request with 409."""
    app = api.application_builder().build()
    async with app, httpx.AsyncClient() as other_instance:
        first = asyncio.create_task(app.bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        second = await other_instance.post(f"{api.base_url}{api.token}/getUpdates")
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await first
    assert second.json() == {"ok": True, "result": []}


async def test_webhook_delivery(api: FakeBotAPI) -> None:
    received: list[dict[str, Any]] = []
    secret: list[str | None] = []

    class Receiver(RequestHandler):
        def post(self) -> None:
            received.append(json.loads(self.request.body))
            secret.append(self.request.headers.get("X-Telegram-Bot-Api-Secret-Token"))

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(TornadoApp([(r"/hook", Receiver)]))
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    app = api.application_builder().build()
    try:
        async with app:
            await app.bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
            alice = api.add_user()
            sent = alice.send_text("via webhook")
            await api.wait_until(lambda: received, what="the webhook POST")
            with pytest.raises(Conflict, match=r"(?i)webhook is active"):
                await app.bot.get_updates()
            await app.bot.delete_webhook()
    finally:
        server.stop()
        await server.close_all_connections()
    assert received[0]["update_id"] == sent.update_id
    assert secret == ["s3cret"]
    assert api.webhook is None
    assert api.pending_updates == 0


# --- the HTML parser on its own --------------------------------------------------------------


def test_parse_html_offsets_are_utf16() -> None:
    text, entities = parse_html('😀 <b>bold</b> <pre><code class="language-python">x</code></pre>')
    assert text == "😀 bold x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "pre", "offset": 8, "length": 1, "language": "python"},
    ]


async def test_wait_for_message_times_out_with_a_useful_message(api: FakeBotAPI) -> None:
    alice = api.add_user()
    with pytest.raises(WaitTimeout, match=f"no new bot message in chat {alice.id}"):
        await api.wait_for_message(alice, timeout=0.05)


async def test_network_failures_and_slow_answers(api: FakeBotAPI) -> None:
    alice = api.add_user()
    app = api.application_builder().build()
    api.disconnect_next("sendMessage")
    api.slow_next("sendMessage", 0.3)
    async with app:
        with pytest.raises(NetworkError):
            await app.bot.send_message(alice.id, "lost")
        started = time.monotonic()
        await app.bot.send_message(alice.id, "delivered")
        assert time.monotonic() - started >= 0.3
    assert [m["text"] for m in api.messages_to(alice)] == ["delivered"]
    assert api.calls_to("sendMessage")[0].injected
