"""The test's side of the fake: people who write to the bot, and eyes on what the bot does.

``FakeBotAPI`` starts the HTTP server, creates users and chats, turns their actions into
updates (with the ids, dates and entities Telegram would give them) and lets a test wait for
the bot's answers. See ``tests/fakebotapi/__init__.py`` for a worked example.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from telegram.ext import Application, ApplicationBuilder

from tests.fakebotapi.markup import detect_entities
from tests.fakebotapi.methods import Methods
from tests.fakebotapi.objects import JSON, hidden_user_origin
from tests.fakebotapi.server import Failure, FakeServer
from tests.fakebotapi.state import Call, Chat, State, User, scope_key

__all__ = ["DEFAULT_TOKEN", "FakeBotAPI", "FakeChat", "FakeUser", "Sent", "WaitTimeout"]

T = TypeVar("T")

DEFAULT_TOKEN = "7000000001:AAFakeBotApiTokenForTiplineTests_x1"  # a fake, not a secret

MessageRef = Any  # a message dict, a Sent, a PTB Message, or (chat_id, message_id)
ChatRef = Any  # a FakeChat, a FakeUser (their private chat), or a chat id


class WaitTimeout(AssertionError):
    """What the test waited for did not happen in time; the message says what did happen."""


@dataclass(frozen=True)
class Sent:
    """An update a fake user caused, as it was queued for the bot.

    ``update_id`` is ``None`` when Telegram would not deliver it (e.g. a plain message in a
    group where the bot's privacy mode hides it).
    """

    update: JSON

    @property
    def update_id(self) -> int | None:
        return self.update.get("update_id")

    @property
    def delivered(self) -> bool:
        return self.update_id is not None

    @property
    def message(self) -> JSON | None:
        return self.update.get("message") or self.update.get("edited_message")

    @property
    def callback_query(self) -> JSON | None:
        return self.update.get("callback_query")

    @property
    def callback_query_id(self) -> str:
        return self._require(self.callback_query, "callback query")["id"]

    @property
    def message_id(self) -> int:
        return self._require(self.message, "message")["message_id"]

    @property
    def chat_id(self) -> int:
        source = self.message or self._require(self.callback_query, "message")["message"]
        return source["chat"]["id"]

    @property
    def text(self) -> str | None:
        return (self.message or {}).get("text")

    @property
    def file_id(self) -> str:
        """The photo's largest size, or the document: what the bot should download."""
        message = self._require(self.message, "message")
        if "photo" in message:
            return message["photo"][-1]["file_id"]
        if "document" in message:
            return message["document"]["file_id"]
        raise ValueError("this message carries no file")

    @property
    def media_group_id(self) -> str | None:
        return (self.message or {}).get("media_group_id")

    @staticmethod
    def _require(value: JSON | None, what: str) -> JSON:
        if value is None:
            raise ValueError(f"this update has no {what}")
        return value


class FakeUser:
    """A Telegram user the test drives: a tipster or a moderator.

    Every action returns the :class:`Sent` update (or a list of them) it queued for the bot.
    ``chat`` arguments default to the user's private chat with the bot.
    """

    def __init__(self, api: FakeBotAPI, record: User) -> None:
        self.api = api
        self.record = record

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r}, username={self.username!r})"

    # --- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> int:
        return self.record.id

    @property
    def first_name(self) -> str:
        return self.record.first_name

    @property
    def last_name(self) -> str | None:
        return self.record.last_name

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def language_code(self) -> str | None:
        return self.record.language_code

    @property
    def full_name(self) -> str:
        return self.record.full_name

    @property
    def json(self) -> JSON:
        return self.record.json

    @property
    def chat(self) -> FakeChat:
        """The private chat between this user and the bot (its id is the user's id)."""
        return self.api.chat(self.id)

    # --- messages ---------------------------------------------------------------------------
    def send_text(
        self,
        text: str,
        *,
        chat: ChatRef = None,
        entities: list[JSON] | None = None,
        reply_to: MessageRef = None,
        forward_from: Any = None,
        forward_date: int | None = None,
    ) -> Sent:
        """Send ``text``; commands, links, mentions and hashtags get their entities."""
        found = detect_entities(text) if entities is None else entities
        return self.api._post(
            self,
            chat,
            {"text": text, "entities": found or None},
            reply_to=reply_to,
            forward_from=forward_from,
            forward_date=forward_date,
        )

    def send_command(
        self, command: str, *args: str, chat: ChatRef = None, mention_bot: bool = False
    ) -> Sent:
        """``send_command("status", "K7QM-2XTD")`` sends ``/status K7QM-2XTD``.

        ``mention_bot`` writes ``/status@botname``, as clients do when a command is picked
        from the menu in a group.
        """
        name = command.removeprefix("/")
        if mention_bot:
            name += f"@{self.api.bot.username}"
        return self.send_text(" ".join([f"/{name}", *args]), chat=chat)

    def start(self, payload: str | None = None) -> Sent:
        """Open the bot (``/start``, with a deep-link payload if given)."""
        return self.send_command("start", *([payload] if payload else []))

    def send_photo(
        self,
        data: bytes,
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        reply_to: MessageRef = None,
        forward_from: Any = None,
        forward_date: int | None = None,
        reencode: bool | None = None,
        size: tuple[int, int] | None = None,
        _media_group_id: str | None = None,
    ) -> Sent:
        """Send a picture as a photo.

        By default the bytes are kept as they are as the largest size (thumbnails are made
        with Pillow); ``reencode=True`` does what Telegram really does to photos: orient,
        shrink to 1280 px, JPEG, metadata gone. Undecodable bytes become a 1x1 photo (or
        ``size``), since a test may want the bot to meet a broken file.
        """
        use_reencode = self.api.reencode_photos if reencode is None else reencode
        photo = self.api.methods.store_photo(data, reencode=use_reencode, size=size)
        content = {"photo": photo, "media_group_id": _media_group_id, **_caption(caption)}
        return self.api._post(
            self,
            chat,
            content,
            reply_to=reply_to,
            forward_from=forward_from,
            forward_date=forward_date,
        )

    def send_document(
        self,
        data: bytes,
        *,
        file_name: str | None = "document.bin",
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatRef = None,
        reply_to: MessageRef = None,
        forward_from: Any = None,
        forward_date: int | None = None,
        file_size: int | None = None,
        _media_group_id: str | None = None,
    ) -> Sent:
        """Send a file as a document (the original bytes, as a tipster sends a camera file).

        ``file_size`` overrides the size Telegram reports (e.g. 30 MB, to meet getFile's 20 MB
        limit without allocating it); ``mime_type`` is guessed from ``file_name`` if omitted.
        """
        stored = self.api.methods.store_document(
            data, file_name=file_name, mime_type=mime_type, file_size=file_size
        )
        content = {
            "document": stored.document,
            "media_group_id": _media_group_id,
            **_caption(caption),
        }
        return self.api._post(
            self,
            chat,
            content,
            reply_to=reply_to,
            forward_from=forward_from,
            forward_date=forward_date,
        )

    def send_album(
        self,
        items: Iterable[bytes],
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        forward_from: Any = None,
        forward_date: int | None = None,
        as_documents: bool = False,
        file_names: Iterable[str] | None = None,
    ) -> list[Sent]:
        """Send 2-10 pictures as one album: separate updates sharing a ``media_group_id``.

        The caption goes on the first item, as Telegram clients do.
        """
        blobs = list(items)
        if not 1 <= len(blobs) <= 10:
            raise ValueError("an album holds 1 to 10 items")
        names = list(file_names) if file_names is not None else []
        group_id = self.api.state.next_media_group_id()
        sent: list[Sent] = []
        for index, data in enumerate(blobs):
            first_caption = caption if index == 0 else None
            common = {
                "chat": chat,
                "forward_from": forward_from,
                "forward_date": forward_date,
                "caption": first_caption,
                "_media_group_id": group_id,
            }
            if as_documents:
                name = names[index] if index < len(names) else f"image_{index + 1}.jpg"
                sent.append(self.send_document(data, file_name=name, **common))
            else:
                sent.append(self.send_photo(data, **common))
        return sent

    def edit(self, sent: MessageRef, text: str) -> Sent:
        """Edit one of this user's text messages: the bot gets an ``edited_message`` update."""
        return self.api._edit_by_user(self, sent, text)

    # --- buttons ----------------------------------------------------------------------------
    def press(
        self, message: MessageRef, button: str | None = None, *, data: str | None = None
    ) -> Sent:
        """Press an inline button on a message the bot sent, found by its text or its data."""
        return self.api._press(self, message, button=button, data=data)

    def press_forged(self, data: str, *, message: MessageRef = None, chat: ChatRef = None) -> Sent:
        """A callback query with arbitrary ``data``, as a modified client can send.

        Telegram does not check that such a button exists. ``message`` defaults to the bot's
        latest message in ``chat`` (the user's private chat by default).
        """
        return self.api._press(self, message, data=data, forged=True, chat=chat)

    # --- relationship with the bot ----------------------------------------------------------
    def block_bot(self) -> Sent:
        """Block the bot: it gets a ``my_chat_member`` update, and 403 on its next message."""
        return self.api._set_blocked(self, blocked=True)

    def unblock_bot(self) -> Sent:
        return self.api._set_blocked(self, blocked=False)


class FakeChat:
    """A chat the fake Telegram knows: a private chat, a group, a supergroup or a channel."""

    def __init__(self, api: FakeBotAPI, record: Chat) -> None:
        self.api = api
        self.record = record

    def __repr__(self) -> str:
        return f"FakeChat(id={self.id}, type={self.type!r}, title={self.title!r})"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def title(self) -> str | None:
        return self.record.title

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def json(self) -> JSON:
        return self.record.json

    @property
    def members(self) -> dict[int, str]:
        return dict(self.record.members)

    def add_member(self, user: FakeUser, status: str = "member") -> None:
        """Add ``user`` (``member``, ``administrator`` or ``creator``)."""
        if status not in ("member", "administrator", "creator", "left", "kicked"):
            raise ValueError(f"unknown member status {status!r}")
        self.record.members[user.id] = status

    def remove_member(self, user: FakeUser) -> None:
        self.record.members[user.id] = "left"

    def set_bot_status(self, status: str) -> None:
        """``administrator`` (sees all), ``member`` (privacy mode applies), ``left``, ``kicked``."""
        self.record.bot_status = status

    @property
    def messages(self) -> list[JSON]:
        """What the bot has sent here (current versions, deleted ones left out)."""
        return self.api.messages_to(self)


def _caption(caption: str | None) -> JSON:
    if not caption:
        return {}
    return {"caption": caption, "caption_entities": detect_entities(caption) or None}


class FakeBotAPI:
    """A fake Telegram Bot API on 127.0.0.1 with the users, chats and eyes a test needs.

    Use as ``async with FakeBotAPI() as api:`` (or the ``fake_bot_api`` fixture). Everything
    runs on the test's event loop.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "tipline_test_bot",
        bot_first_name: str = "Tipline Test",
        first_update_id: int = 800_000_001,
        first_user_id: int = 5_000_000_001,
        first_group_id: int = -1_002_000_000_001,
        strict_html: bool = True,
        reencode_photos: bool = False,
        photo_thumbnails: bool = True,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
    ) -> None:
        bot_id = int(token.split(":", 1)[0])
        self.bot = User(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.state = State(token=token, bot=self.bot, first_update_id=first_update_id, clock=clock)
        self.reencode_photos = reencode_photos
        self.privacy_mode = privacy_mode
        self.methods = Methods(
            self.state,
            strict_html=strict_html,
            reencode_photos=reencode_photos,
            photo_thumbnails=photo_thumbnails,
            on_webhook_change=lambda: self.server.webhook_changed(),
        )
        self.server = FakeServer(self.state, self.methods, host=host)
        self._next_user_id = first_user_id
        self._next_group_id = first_group_id
        self._seen_messages: set[tuple[int, int]] = set()
        self._seen_calls: set[int] = set()
        self._seen_answers: set[int] = set()
        self._started = False

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> FakeBotAPI:
        await self.server.start()
        self._started = True
        return self

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.server.stop()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.server.root

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.root}/file/bot"

    def application_builder(self) -> ApplicationBuilder:
        """A PTB ``ApplicationBuilder`` with this fake's token and URLs already set."""
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    @asynccontextmanager
    async def running(self, app: Application, *, poll_timeout: float = 10.0) -> AsyncIterator[Any]:
        """Run ``app`` with long polling for the duration of the block, then stop it cleanly."""
        async with app:
            await app.start()
            assert app.updater is not None, "the application was built without an updater"
            await app.updater.start_polling(timeout=int(poll_timeout), poll_interval=0.0)
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()

    # --- people and chats -------------------------------------------------------------------
    def add_user(
        self,
        first_name: str = "Alice",
        *,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
        started: bool = True,
        forward_privacy: bool = False,
    ) -> FakeUser:
        """A new user with a private chat with the bot (``started=False``: never opened it)."""
        if id is None:
            id = self._next_user_id
            self._next_user_id += 1
        if id in self.state.users:
            raise ValueError(f"user {id} exists already")
        record = User(
            id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
            started=started,
            forward_privacy=forward_privacy,
        )
        self.state.users[id] = record
        self.state.add_chat(
            Chat(id, "private", username=username, first_name=first_name, last_name=last_name)
        )
        return FakeUser(self, record)

    def add_group(
        self,
        title: str = "Moderators",
        *,
        id: int | None = None,
        supergroup: bool = True,
        username: str | None = None,
        members: Iterable[FakeUser] = (),
        admins: Iterable[FakeUser] = (),
        creator: FakeUser | None = None,
        bot_status: str = "administrator",
    ) -> FakeChat:
        """A group or supergroup (negative id) with the bot in it.

        ``bot_status="member"`` with ``privacy_mode`` on means the bot sees only commands,
        replies to its messages and mentions of it, as on real Telegram.
        """
        if id is None:
            id = self._next_group_id
            self._next_group_id -= 1
        record = Chat(
            id,
            "supergroup" if supergroup else "group",
            title=title,
            username=username,
            bot_status=bot_status,
        )
        for user in members:
            record.members[user.id] = "member"
        for user in admins:
            record.members[user.id] = "administrator"
        if creator is not None:
            record.members[creator.id] = "creator"
        self.state.add_chat(record)
        return FakeChat(self, record)

    def add_channel(
        self,
        title: str,
        *,
        id: int | None = None,
        username: str | None = None,
        bot_status: str = "left",
    ) -> FakeChat:
        """A channel, mostly to forward from (``forward_from=channel``)."""
        if id is None:
            id = self._next_group_id
            self._next_group_id -= 1
        record = Chat(id, "channel", title=title, username=username, bot_status=bot_status)
        self.state.add_chat(record)
        return FakeChat(self, record)

    def chat(self, ref: ChatRef) -> FakeChat:
        """The chat behind a FakeChat, a FakeUser (private chat) or an id."""
        chat_id = _chat_id(ref)
        if chat_id not in self.state.chats:
            raise KeyError(f"no chat {chat_id}")
        return FakeChat(self, self.state.chats[chat_id])

    def user(self, user_id: int) -> FakeUser:
        return FakeUser(self, self.state.users[user_id])

    # --- forward origins --------------------------------------------------------------------
    def origin(
        self, source: Any, *, date: int | None = None, message_id: int | None = None
    ) -> JSON:
        """A ``MessageOrigin`` for ``forward_from=``: from a user, a hidden user (a name), a
        group or a channel (with a post id), dated an hour ago unless ``date`` says otherwise.
        """
        when = self.state.now() - 3600 if date is None else date
        if isinstance(source, dict):
            return source
        if isinstance(source, str):
            return hidden_user_origin(source, when)
        if isinstance(source, FakeUser):
            if source.record.forward_privacy:
                return hidden_user_origin(source.full_name, when)
            return {"type": "user", "date": when, "sender_user": source.json}
        chat = source.record if isinstance(source, FakeChat) else self.state.chats[int(source)]
        if chat.type == "channel":
            post_id = message_id if message_id is not None else chat.next_message_id()
            return {"type": "channel", "date": when, "chat": chat.json, "message_id": post_id}
        return {"type": "chat", "date": when, "sender_chat": chat.json}

    # --- delivering what users do -----------------------------------------------------------
    def _post(
        self,
        user: FakeUser,
        chat_ref: ChatRef,
        content: JSON,
        *,
        reply_to: MessageRef = None,
        forward_from: Any = None,
        forward_date: int | None = None,
    ) -> Sent:
        chat = self.state.chats[user.id if chat_ref is None else _chat_id(chat_ref)]
        record = user.record
        if chat.is_private:
            if chat.id != user.id:
                raise ValueError(f"{user!r} cannot write in someone else's private chat")
            if record.blocked_bot:
                raise RuntimeError(f"{user!r} has blocked the bot; call unblock_bot() first")
            record.started = True
        elif chat.members.get(user.id) in (None, "left"):
            chat.members[user.id] = "member"
        elif chat.members.get(user.id) == "kicked":
            raise RuntimeError(f"{user!r} was banned from {chat.title!r}")
        if forward_from is not None:
            content["forward_origin"] = self.origin(forward_from, date=forward_date)
        if reply_to is not None:
            chat_id, message_id = _message_ref(reply_to)
            replied = self.state.message(chat_id, message_id)
            if replied is None:
                raise KeyError(f"no message {message_id} in chat {chat_id} to reply to")
            shallow = dict(replied)
            shallow.pop("reply_to_message", None)
            content["reply_to_message"] = copy.deepcopy(shallow)
        message = self.state.new_message(chat, record, **content)
        body = {"message": copy.deepcopy(message)}
        if not self._bot_sees(chat, message):
            return Sent({"update_id": None, **body})
        return Sent(self.state.updates.push(body))

    def _bot_sees(self, chat: Chat, message: JSON) -> bool:
        """Privacy mode: in groups where it is no admin, a bot sees commands, replies, mentions."""
        if chat.is_private:
            return True
        if chat.bot_status in ("left", "kicked"):
            return False
        if chat.bot_status in ("administrator", "creator") or not self.privacy_mode:
            return True
        text = message.get("text") or message.get("caption") or ""
        reply = message.get("reply_to_message") or {}
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        addressee = command.partition("@")[2].lower()
        return (
            (bool(command) and addressee in ("", (self.bot.username or "").lower()))
            or reply.get("from", {}).get("id") == self.bot.id
            or f"@{self.bot.username}".lower() in text.lower()
        )

    def _edit_by_user(self, user: FakeUser, ref: MessageRef, text: str) -> Sent:
        chat_id, message_id = _message_ref(ref)
        message = self.state.message(chat_id, message_id)
        if message is None or message.get("from", {}).get("id") != user.id:
            raise ValueError(f"{user!r} has no message {message_id} in chat {chat_id} to edit")
        if "text" not in message:
            raise ValueError("only text messages can be edited this way")
        message["text"] = text
        entities = detect_entities(text)
        if entities:
            message["entities"] = entities
        else:
            message.pop("entities", None)
        message["edit_date"] = self.state.now()
        body = {"edited_message": copy.deepcopy(message)}
        if not self._bot_sees(self.state.chats[chat_id], message):
            return Sent({"update_id": None, **body})
        return Sent(self.state.updates.push(body))

    def _press(
        self,
        user: FakeUser,
        ref: MessageRef,
        *,
        button: str | None = None,
        data: str | None = None,
        forged: bool = False,
        chat: ChatRef = None,
    ) -> Sent:
        if ref is None:
            target = self.chat(user.id if chat is None else chat)
            candidates = self.messages_to(target)
            if not candidates:
                raise LookupError(f"the bot has sent nothing in chat {target.id} to press on")
            chat_id, message_id = target.id, candidates[-1]["message_id"]
        else:
            chat_id, message_id = _message_ref(ref)
        message = self.state.message(chat_id, message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id} (deleted?)")
        if not forged:
            data = _find_button(message, button, data)
        if data is None:
            raise ValueError("a callback query needs data")
        query = {
            "id": self.state.next_callback_id(),
            "from": user.json,
            "message": copy.deepcopy(message),
            "chat_instance": self.state.chats[chat_id].chat_instance,
            "data": data,
        }
        self.state.callback_queries[query["id"]] = query
        return Sent(self.state.updates.push({"callback_query": copy.deepcopy(query)}))

    def _set_blocked(self, user: FakeUser, *, blocked: bool) -> Sent:
        user.record.blocked_bot = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot_old: JSON = {"status": old, "user": self.bot.json}
        bot_new: JSON = {"status": new, "user": self.bot.json}
        for member in (bot_old, bot_new):
            if member["status"] == "kicked":
                member["until_date"] = 0
        update = {
            "my_chat_member": {
                "chat": self.state.chats[user.id].json,
                "from": user.json,
                "date": self.state.now(),
                "old_chat_member": bot_old,
                "new_chat_member": bot_new,
            }
        }
        return Sent(self.state.updates.push(update))

    def push_update(self, body: JSON) -> Sent:
        """Queue any update body (``{"message_reaction": {...}}`` etc.) with the next id."""
        return Sent(self.state.updates.push(copy.deepcopy(body)))

    def redeliver(self, sent: Sent | JSON) -> None:
        """Deliver an update again with the same update_id, as after a crash before confirming."""
        update = sent.update if isinstance(sent, Sent) else sent
        if update.get("update_id") is None:
            raise ValueError("this update was never delivered")
        self.state.updates.redeliver(update)

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot's getUpdates offset."""
        return self.state.updates.count

    # --- failure injection ------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of running it.

        429 carries ``parameters.retry_after`` (default 1), as Telegram's flood control does;
        other statuses get Telegram's usual description unless ``description`` is given.
        """
        self.server.failures.append(
            Failure(method, status, retry_after, description, times, delay=delay)
        )

    def disconnect_next(self, method: str, *, times: int = 1, delay: float = 0.0) -> None:
        """Drop the connection on the next calls of ``method`` without any answer."""
        self.server.failures.append(Failure(method, None, None, None, times, delay, True))

    def slow_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next calls of ``method`` for ``seconds`` before answering them normally."""
        self.server.failures.append(Failure(method, None, None, None, times, delay=seconds))

    # --- observing the bot ------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Every request the bot made, in order (getUpdates included)."""
        return self.state.calls

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        return [
            c
            for c in self.state.calls
            if c.method.lower() == method.lower() and (ok is None or c.ok == ok)
        ]

    @property
    def errors(self) -> list[Call]:
        """Calls that got an error answer (not counting injected ones)."""
        return [c for c in self.state.calls if not c.ok and not c.injected]

    def message(self, chat: ChatRef, message_id: int) -> JSON | None:
        """The current version of any message (the bot's or a user's), or None if deleted."""
        found = self.state.message(_chat_id(chat), message_id)
        return copy.deepcopy(found) if found is not None else None

    def messages_to(self, chat: ChatRef) -> list[JSON]:
        """The bot's messages in ``chat``, in send order, as they are now (after edits)."""
        chat_id = _chat_id(chat)
        out = []
        for cid, mid in self.state.bot_sent:
            message = self.state.message(cid, mid) if cid == chat_id else None
            if message is not None:
                out.append(copy.deepcopy(message))
        return out

    @property
    def sent_messages(self) -> list[JSON]:
        """Every message the bot sent anywhere, as it is now (deleted ones left out)."""
        found = (self.state.message(cid, mid) for cid, mid in self.state.bot_sent)
        return [copy.deepcopy(m) for m in found if m is not None]

    @property
    def deleted_messages(self) -> list[JSON]:
        return copy.deepcopy(self.state.deleted)

    @property
    def callback_answers(self) -> list[JSON]:
        """answerCallbackQuery calls that succeeded, with the query they answered."""
        return copy.deepcopy(self.state.callback_answers)

    def commands(self, scope: Any = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands recorded for ``scope`` (a PTB BotCommandScope, a dict, a type
        name such as ``"all_private_chats"``, or None for the default scope)."""
        if hasattr(scope, "to_dict"):
            scope = scope.to_dict()
        if isinstance(scope, dict) and isinstance(scope.get("chat_id"), str | FakeChat):
            chat_ref = scope["chat_id"]
            found = self.methods._chat({"chat_id": getattr(chat_ref, "id", chat_ref)})
            scope = {**scope, "chat_id": found.id}
        return copy.deepcopy(self.state.commands.get((scope_key(scope), language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file_id (what a user sent, or what the bot uploaded)."""
        return self.state.files[file_id].data

    def photo_bytes(self, message: JSON) -> bytes:
        """The largest size of the photo in a message (e.g. one the bot sent)."""
        return self.file_bytes(message["photo"][-1]["file_id"])

    @property
    def downloads(self) -> list[str]:
        """File paths the bot downloaded, in order."""
        return list(self.server.downloads)

    @property
    def webhook(self) -> JSON | None:
        return copy.deepcopy(self.state.webhook)

    async def wait_until(
        self,
        condition: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for a condition, not for I/O
        what: str = "condition",
    ) -> T:
        """Wait until ``condition()`` returns something truthy; return it."""

        def check() -> T | None:
            value = condition()
            return value if value else None

        found = await self.state.notifier.wait_for(check, timeout, time.monotonic)
        if found is None:
            raise WaitTimeout(f"{what} not met within {timeout}s{self._recent_errors()}")
        return found

    async def wait_for_message(
        self,
        chat: ChatRef,
        predicate: Callable[[JSON], bool] | str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
    ) -> JSON:
        """The bot's next message in ``chat`` matching ``predicate`` (a function of the message
        dict, or a substring of its text/caption) that no earlier wait returned.

        Each message is returned once, so successive waits walk through the conversation.
        """
        return (await self.wait_for_messages(chat, 1, predicate, timeout=timeout))[0]

    async def wait_for_messages(
        self,
        chat: ChatRef,
        count: int,
        predicate: Callable[[JSON], bool] | str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
    ) -> list[JSON]:
        """Like :meth:`wait_for_message` for ``count`` messages (e.g. an album)."""
        chat_id = _chat_id(chat)
        match = _predicate(predicate)

        def check() -> list[tuple[int, JSON]] | None:
            found = []
            for cid, mid in self.state.bot_sent:
                if cid != chat_id or (cid, mid) in self._seen_messages:
                    continue
                message = self.state.message(cid, mid)
                if message is not None and match(message):
                    found.append((mid, message))
                    if len(found) == count:
                        return found
            return None

        found = await self.state.notifier.wait_for(check, timeout, time.monotonic)
        if found is None:
            sent = [_summary(m) for m in self.messages_to(chat_id)]
            raise WaitTimeout(
                f"no{'' if count == 1 else f' {count}'} new bot message in chat {chat_id}"
                f" matching {predicate!r} within {timeout}s; the bot's messages there: {sent}"
                f"{self._recent_errors()}"
            )
        for mid, _ in found:
            self._seen_messages.add((chat_id, mid))
        return [copy.deepcopy(m) for _, m in found]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
        ok: bool | None = None,
    ) -> Call:
        """The next call of ``method`` (matching ``predicate``/``ok``) no earlier wait returned."""

        def check() -> tuple[int, Call] | None:
            for index, call in enumerate(self.state.calls):
                if (
                    index not in self._seen_calls
                    and call.method.lower() == method.lower()
                    and (ok is None or call.ok == ok)
                    and (predicate is None or predicate(call))
                ):
                    return index, call
            return None

        found = await self.state.notifier.wait_for(check, timeout, time.monotonic)
        if found is None:
            raise WaitTimeout(f"no new {method} call within {timeout}s{self._recent_errors()}")
        self._seen_calls.add(found[0])
        return found[1]

    async def wait_for_callback_answer(
        self,
        query: Sent | str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
    ) -> JSON:
        """The answer to ``query`` (a Sent press or a query id), or the next unseen answer."""
        query_id = query.callback_query_id if isinstance(query, Sent) else query

        def check() -> tuple[int, JSON] | None:
            for index, answer in enumerate(self.state.callback_answers):
                if index in self._seen_answers:
                    continue
                if query_id is None or answer["callback_query_id"] == query_id:
                    return index, answer
            return None

        found = await self.state.notifier.wait_for(check, timeout, time.monotonic)
        if found is None:
            raise WaitTimeout(
                f"callback query {query_id} not answered within {timeout}s{self._recent_errors()}"
            )
        self._seen_answers.add(found[0])
        return copy.deepcopy(found[1])

    def _recent_errors(self) -> str:
        errors = [f"{c.method}: {c.status} {c.description}" for c in self.errors[-5:]]
        return f"; recent error answers: {errors}" if errors else ""


def _chat_id(ref: ChatRef) -> int:
    if isinstance(ref, FakeChat | FakeUser):
        return ref.id
    if isinstance(ref, Sent):
        return ref.chat_id
    if isinstance(ref, dict):
        return int(ref["id"])
    if hasattr(ref, "id") and not isinstance(ref, int):
        return int(ref.id)
    return int(ref)


def _message_ref(ref: MessageRef) -> tuple[int, int]:
    """``(chat_id, message_id)`` from a message dict, a Sent, a PTB Message or a tuple."""
    if isinstance(ref, Sent):
        return ref.chat_id, ref.message_id
    if isinstance(ref, dict):
        return int(ref["chat"]["id"]), int(ref["message_id"])
    if isinstance(ref, tuple):
        return int(ref[0]), int(ref[1])
    if hasattr(ref, "chat_id") and hasattr(ref, "message_id"):
        return int(ref.chat_id), int(ref.message_id)
    raise TypeError(f"cannot find a message in {ref!r}")


def _find_button(message: JSON, text: str | None, data: str | None) -> str:
    buttons = [
        b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
    ]
    for button in buttons:
        if "callback_data" not in button:
            continue
        if (text is not None and button["text"] == text) or (
            text is None and data is not None and button["callback_data"] == data
        ):
            return button["callback_data"]
    if text is not None:
        partial = [b for b in buttons if "callback_data" in b and text in b["text"]]
        if len(partial) == 1:
            return partial[0]["callback_data"]
    shown = [(b["text"], b.get("callback_data")) for b in buttons]
    raise LookupError(f"no button {text or data!r} on message {message['message_id']}: {shown}")


def _predicate(predicate: Callable[[JSON], bool] | str | None) -> Callable[[JSON], bool]:
    if predicate is None:
        return lambda _message: True
    if isinstance(predicate, str):
        needle = predicate
        return lambda message: needle in (message.get("text") or message.get("caption") or "")
    return predicate


def _summary(message: JSON) -> str:
    body = message.get("text") or message.get("caption") or ""
    kind = "photo" if "photo" in message else "document" if "document" in message else "text"
    return f"#{message['message_id']} {kind}: {body[:80]!r}"
