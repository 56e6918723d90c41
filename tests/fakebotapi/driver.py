"""The test's side of the fake: setting up people and chats, injecting faults, and waiting for
what the bot does. See ``tests/fakebotapi/__init__.py`` for a worked example."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

from telegram.ext import Application, ApplicationBuilder

from tests.fakebotapi.actors import ChatRef, FakeChat, FakeUser, Sent, chat_id_of
from tests.fakebotapi.faults import Failure
from tests.fakebotapi.methods import scope_key
from tests.fakebotapi.server import FakeServer
from tests.fakebotapi.state import JSON, Call, Chat, State, User

__all__ = ["DEFAULT_TOKEN", "FakeBotAPI", "WaitTimeout"]

T = TypeVar("T")

DEFAULT_TOKEN = "7000000001:AAFakeBotApiTokenForTiplineTests_x1"  # a fake, not a secret


class WaitTimeout(AssertionError):
    """What the test waited for did not happen in time; the message says what did happen."""


class FakeBotAPI:
    """A fake Telegram Bot API on 127.0.0.1 with the people, chats and eyes a test needs.

    Use as ``async with FakeBotAPI() as api:`` (or the ``fake_bot_api`` fixture).
    ``photo_thumbnails=False`` skips making the smaller photo sizes (a load test's shortcut:
    the bot reads only the largest).
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
        photo_thumbnails: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bot_id = int(token.split(":", 1)[0])
        self.bot = User(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.state = State(
            token=token,
            bot=self.bot,
            first_update_id=first_update_id,
            photo_thumbnails=photo_thumbnails,
            clock=clock,
        )
        self.server = FakeServer(self.state)
        self._next_user_id = first_user_id
        self._next_group_id = first_group_id
        self._seen_messages: set[tuple[int, int]] = set()
        self._seen_answers: set[int] = set()
        self._started = False

    # --- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBotAPI:
        await self.server.start()
        self._started = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self._started = False
            await self.server.stop()

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``; the bot's settings derive both base URLs from it."""
        return self.server.root

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self.root}/bot"

    def application_builder(self) -> ApplicationBuilder:
        """A PTB ``ApplicationBuilder`` with this fake's token and URLs already set."""
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(f"{self.root}/file/bot")
        )

    @asynccontextmanager
    async def running(self, app: Application) -> AsyncIterator[Any]:
        """Run ``app`` with long polling for the duration of the block, then stop it cleanly."""
        async with app:
            await app.start()
            assert app.updater is not None, "the application was built without an updater"
            await app.updater.start_polling(timeout=10, poll_interval=0.0)
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
    ) -> FakeUser:
        """A new user who has opened a private chat with the bot."""
        if id is None:
            id = self._next_user_id
            self._next_user_id += 1
        if id in self.state.users:
            raise ValueError(f"user {id} exists already")
        record = User(id, first_name, last_name, username, language_code)
        self.state.users[id] = record
        self.state.add_chat(
            Chat(id, "private", username=username, first_name=first_name, last_name=last_name)
        )
        return FakeUser(self, record)

    def _group_id(self, id: int | None) -> int:
        if id is not None:
            return id
        self._next_group_id -= 1
        return self._next_group_id + 1

    def add_group(
        self,
        title: str = "Moderators",
        *,
        id: int | None = None,
        members: Iterable[FakeUser] = (),
        admins: Iterable[FakeUser] = (),
    ) -> FakeChat:
        """A supergroup with the bot in it as an admin, so it sees every message."""
        record = Chat(self._group_id(id), "supergroup", title=title)
        record.members.update({user.id: "member" for user in members})
        record.members.update({user.id: "administrator" for user in admins})
        return FakeChat(self, self.state.add_chat(record))

    def add_channel(
        self, title: str, *, id: int | None = None, username: str | None = None
    ) -> FakeChat:
        """A channel to forward from (``forward_from=channel``)."""
        record = Chat(self._group_id(id), "channel", title=title, username=username)
        return FakeChat(self, self.state.add_chat(record))

    def chat(self, ref: ChatRef) -> FakeChat:
        """The chat behind a FakeChat, a FakeUser (private chat) or an id."""
        return FakeChat(self, self.state.chats[chat_id_of(ref)])

    def origin(self, source: Any, *, date: int | None = None) -> JSON:
        """A ``MessageOrigin`` for ``forward_from=``: a user, a hidden user (a name, for one
        who forwards anonymously), a group or a channel (with a post id), an hour ago."""
        when = self.state.now() - 3600 if date is None else date
        if isinstance(source, str):
            return {"type": "hidden_user", "date": when, "sender_user_name": source}
        if isinstance(source, FakeUser):
            return {"type": "user", "date": when, "sender_user": source.json}
        chat = self.state.chats[chat_id_of(source)]
        if chat.type == "channel":
            post = chat.next_message_id()
            return {"type": "channel", "date": when, "chat": chat.json, "message_id": post}
        return {"type": "chat", "date": when, "sender_chat": chat.json}

    def redeliver(self, sent: Sent) -> None:
        """Deliver an update again with the same update_id, as after a crash before confirming."""
        self.state.updates.redeliver(sent.update)

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot's getUpdates offset."""
        return self.state.updates.count

    # --- faults -----------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of running it.

        429 carries ``parameters.retry_after`` (default 1), as Telegram's flood control does;
        other statuses get Telegram's usual description unless ``description`` is given.
        """
        self.server.faults.add(Failure(method, status, retry_after, description, times))

    def disconnect_next(self, method: str, *, times: int = 1) -> None:
        """Drop the connection on the next calls of ``method`` without any answer."""
        self.server.faults.add(Failure(method, None, times=times, disconnect=True))

    def slow_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next calls of ``method`` for ``seconds``, then answer them normally."""
        self.server.faults.add(Failure(method, None, times=times, delay=seconds))

    # --- what the bot did -------------------------------------------------------------------
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
        """The current version of any message (after edits)."""
        return copy.deepcopy(self.state.message(chat_id_of(chat), message_id))

    def messages_to(self, chat: ChatRef) -> list[JSON]:
        """The bot's messages in ``chat``, in send order, as they are now (after edits)."""
        chat_id = chat_id_of(chat)
        return [
            copy.deepcopy(self.state.messages[chat_id][mid])
            for mid in self.state.bot_sent_in.get(chat_id, ())
        ]

    def watch_messages(self, callback: Callable[[JSON], None]) -> Callable[[], None]:
        """Call ``callback`` with every message the bot sends from now on, as it arrives (no
        polling: for load tests timing thousands of messages); returns the way to stop."""
        self.state.watchers.append(callback)
        return lambda: self.state.watchers.remove(callback)

    def commands(self, scope: Any = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands recorded for ``scope`` (a PTB BotCommandScope, a dict, a type
        name such as ``"all_private_chats"``, or None for the default scope)."""
        return copy.deepcopy(self.state.commands.get((scope_key(scope), language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file_id (what a user sent, or what the bot uploaded)."""
        return self.state.files[file_id].data

    @property
    def downloads(self) -> list[str]:
        """File paths the bot downloaded, in order."""
        return list(self.state.downloads)

    @property
    def webhook(self) -> JSON | None:
        return copy.deepcopy(self.state.webhook)

    # --- waiting ----------------------------------------------------------------------------
    async def wait_until(
        self,
        condition: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for a condition, not for I/O
        what: str = "condition",
    ) -> T:
        """Wait until ``condition()`` returns something truthy; return it."""
        found = await self.state.notifier.wait_for(lambda: condition() or None, timeout)
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
        """Like :meth:`wait_for_message` for ``count`` messages."""
        chat_id = chat_id_of(chat)

        def match(message: JSON) -> bool:
            if isinstance(predicate, str):
                return predicate in _text_of(message)
            return predicate is None or predicate(message)

        def check() -> list[tuple[int, JSON]] | None:
            found = []
            # Only this chat's messages: under load, scanning every chat's on each wake-up
            # made the fake, not the bot, the bottleneck.
            for mid in self.state.bot_sent_in.get(chat_id, ()):
                if (chat_id, mid) not in self._seen_messages:
                    message = self.state.messages[chat_id][mid]
                    if match(message):
                        found.append((mid, message))
            return found[:count] if len(found) >= count else None

        found = await self.state.notifier.wait_for(check, timeout)
        if found is None:
            sent = [_summary(m) for m in self.messages_to(chat_id)]
            raise WaitTimeout(
                f"no{'' if count == 1 else f' {count}'} new bot message in chat {chat_id}"
                f" matching {predicate!r} within {timeout}s; the bot's messages there: {sent}"
                f"{self._recent_errors()}"
            )
        self._seen_messages.update((chat_id, mid) for mid, _ in found)
        return [copy.deepcopy(m) for _, m in found]

    async def wait_for_callback_answer(
        self,
        query: Sent,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
    ) -> JSON:
        """The bot's answer to the button press ``query``."""
        query_id = query.callback_query_id

        def check() -> tuple[int, JSON] | None:
            for index, answer in enumerate(self.state.callback_answers):
                if index not in self._seen_answers and answer["callback_query_id"] == query_id:
                    return index, answer
            return None

        found = await self.state.notifier.wait_for(check, timeout)
        if found is None:
            raise WaitTimeout(
                f"callback query {query_id} not answered within {timeout}s{self._recent_errors()}"
            )
        self._seen_answers.add(found[0])
        return copy.deepcopy(found[1])

    def _recent_errors(self) -> str:
        errors = [f"{c.method}: {c.status} {c.description}" for c in self.errors[-5:]]
        return f"; recent error answers: {errors}" if errors else ""


def _text_of(message: JSON) -> str:
    return message.get("text") or message.get("caption") or ""


def _summary(message: JSON) -> str:
    kind = "photo" if "photo" in message else "text"
    return f"#{message['message_id']} {kind}: {_text_of(message)[:80]!r}"
