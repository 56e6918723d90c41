"""What the fake Telegram knows: users, chats, messages, files, the update queue, the bot's calls.

Everything lives on one event loop (the test's), so plain containers suffice; a
:class:`Notifier` wakes whoever waits (a long-polling getUpdates, a test's ``wait_for_*``)
whenever something changes.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.fakebotapi.objects import JSON, chat_json, user_json

__all__ = [
    "Call",
    "Chat",
    "Notifier",
    "State",
    "StoredFile",
    "UpdateQueue",
    "Upload",
    "User",
]

T = TypeVar("T")

# What Telegram delivers when the bot never chose: everything but these three.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
}
_FILE_DIR = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "audio": "music",
    "animation": "animations",
    "voice": "voice",
    "sticker": "stickers",
}


@dataclass
class User:
    """A Telegram account: a tipster, a moderator, or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False
    is_premium: bool = False
    started: bool = True  # has opened the private chat, so the bot may write to them
    blocked_bot: bool = False
    forward_privacy: bool = False  # forwards of their messages show only their name

    @property
    def json(self) -> JSON:
        return user_json(
            self.id,
            self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=None if self.is_bot else self.language_code,
            is_bot=self.is_bot,
            is_premium=self.is_premium or None,
        )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class Chat:
    """A chat: private (id = the user's id), group, supergroup or channel (negative ids)."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    # user id -> "creator" | "administrator" | "member" | "left" | "kicked"
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "administrator"
    chat_instance: str = ""
    last_message_id: int = 0

    @property
    def json(self) -> JSON:
        return chat_json(
            self.id,
            self.type,
            title=self.title,
            username=self.username,
            first_name=self.first_name,
            last_name=self.last_name,
        )

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class StoredFile:
    """One file Telegram holds; ``data`` is served at ``/file/bot<token>/<file_path>``."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    file_size: int
    width: int | None = None
    height: int | None = None
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def photo_size(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "width": self.width or 0,
            "height": self.height or 0,
        }

    @property
    def document(self) -> JSON:
        data: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    @property
    def file(self) -> JSON:
        """The ``File`` object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


@dataclass
class Upload:
    """A file part of a multipart request, as the bot sent it."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"Upload({self.name!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One request the bot made: canonical method name, decoded params, and the answer."""

    method: str
    params: dict[str, Any]
    time: float
    status: int = 200
    response: JSON | None = None
    injected: bool = False  # the answer came from fail_next, not from the method

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return (self.response or {}).get("result")

    @property
    def description(self) -> str | None:
        return (self.response or {}).get("description")


class Notifier:
    """Wakes every waiter when anything changes; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Wait for the next :meth:`notify`, or ``seconds``, whichever comes first."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout=max(seconds, 0))
        except TimeoutError:
            pass
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    async def wait_for(
        self,
        check: Callable[[], T | None],
        seconds: float,
        clock: Callable[[], float],
        poll: float = 0.01,
    ) -> T | None:
        """Re-run ``check`` on every change until it returns something or ``seconds`` pass.

        It also re-runs every ``poll`` seconds, for conditions on things the fake does not see
        change (a handler appending to a list, a database row appearing).
        """
        deadline = clock() + seconds
        while True:
            found = check()
            if found is not None:
                return found
            remaining = deadline - clock()
            if remaining <= 0:
                return None
            await self.wait(min(remaining, poll))


class UpdateQueue:
    """Telegram's pending updates for the bot, with getUpdates' offset semantics."""

    def __init__(self, first_update_id: int, notifier: Notifier) -> None:
        self._next_id = first_update_id
        self._notifier = notifier
        self.pending: list[JSON] = []
        self.redeliveries: list[JSON] = []
        self.allowed_updates: list[str] | None = None
        self.dropped: list[JSON] = []  # updates the bot's allowed_updates filtered out
        self.delivered: list[JSON] = []  # every update handed out, in order, for tests

    def allows(self, kind: str) -> bool:
        if self.allowed_updates is None or not self.allowed_updates:
            return kind not in _OPT_IN_UPDATES
        return kind in self.allowed_updates

    def push(self, body: JSON) -> JSON:
        """Give ``body`` (``{"message": {...}}`` etc.) the next update_id and queue it."""
        update = {"update_id": self._next_id, **body}
        self._next_id += 1
        kind = next(k for k in body if k != "update_id")
        if self.allows(kind):
            self.pending.append(update)
        else:
            self.dropped.append(update)
        self._notifier.notify()
        return update

    def redeliver(self, update: JSON) -> None:
        """Hand ``update`` out once more, same update_id, as after a bot crash before confirming.

        It goes out alone in the next batch, so the bot's offset going back cannot bring
        back anything else.
        """
        self.redeliveries.append(copy.deepcopy(update))
        self._notifier.notify()

    def confirm(self, offset: int) -> None:
        """getUpdates' ``offset``: forget every update below it (negative: keep the last -n)."""
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]

    def take(self, limit: int) -> list[JSON]:
        """The next batch, without removing it: Telegram forgets updates only on confirm."""
        if self.redeliveries:
            batch = self.redeliveries[:limit]
            del self.redeliveries[: len(batch)]
        else:
            batch = self.pending[:limit]
        self.delivered.extend(batch)
        return copy.deepcopy(batch)

    def drop_pending(self) -> None:
        self.pending.clear()
        self.redeliveries.clear()

    @property
    def count(self) -> int:
        return len(self.pending) + len(self.redeliveries)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class State:
    """All of the fake Telegram's memory, shared by the HTTP layer and the test driver."""

    def __init__(
        self,
        *,
        token: str,
        bot: User,
        first_update_id: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot = bot
        self.clock = clock
        self.notifier = Notifier()
        self.updates = UpdateQueue(first_update_id, self.notifier)
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        # chat id -> message id -> message JSON (current version, after edits)
        self.messages: dict[int, dict[int, JSON]] = {}
        self.deleted: list[JSON] = []
        self.bot_sent: list[tuple[int, int]] = []  # (chat_id, message_id) in send order
        self.files: dict[str, StoredFile] = {}  # by file_id
        self.files_by_path: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[JSON]] = {}  # any size's file_id -> all sizes
        self.calls: list[Call] = []
        self.callback_queries: dict[str, JSON] = {}  # unanswered, by id
        self.callback_answers: list[JSON] = []
        self.commands: dict[tuple[tuple[Any, ...], str], list[JSON]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}  # (kind, language) -> name/description
        self.menu_buttons: dict[int | None, JSON] = {}
        self.webhook: JSON | None = None
        self.webhook_error: tuple[int, str] | None = None
        self._file_counter = 0
        self._callback_counter = 0
        self._media_group_counter = 0

    # --- time -------------------------------------------------------------------------------
    def now(self) -> int:
        """A Unix date as Telegram sends it: an int."""
        return int(self.clock())

    # --- chats and messages -----------------------------------------------------------------
    def add_chat(self, chat: Chat) -> Chat:
        if not chat.chat_instance:
            digest = hashlib.sha256(f"{self.token}:{chat.id}".encode()).digest()
            chat.chat_instance = str(int.from_bytes(digest[:8], "big") >> 1)
        self.chats[chat.id] = chat
        self.messages.setdefault(chat.id, {})
        return chat

    def new_message(self, chat: Chat, sender: User | None, **content: Any) -> JSON:
        """Store a message from ``sender`` in ``chat`` with the chat's next message_id."""
        message: JSON = {"message_id": chat.next_message_id()}
        if sender is not None:
            message["from"] = sender.json
        message["chat"] = chat.json
        message["date"] = self.now()
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages[chat.id][message["message_id"]] = message
        return message

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self.messages.get(chat_id, {}).get(message_id)

    def record_bot_message(self, message: JSON) -> None:
        self.bot_sent.append((message["chat"]["id"], message["message_id"]))
        self.notifier.notify()

    # --- files ------------------------------------------------------------------------------
    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        extension: str = "",
        width: int | None = None,
        height: int | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        file_size: int | None = None,
    ) -> StoredFile:
        """Keep ``data`` and give it a file_id, a file_unique_id and a download path."""
        self._file_counter += 1
        n = self._file_counter
        digest = hashlib.sha256(f"{self.token}:{kind}:{n}".encode()).digest()
        file_id = _FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAAI") + _b64(digest + digest[:12])
        file_unique_id = "AQAD" + _b64(digest[:9])
        path = f"{_FILE_DIR.get(kind, 'documents')}/file_{n}{extension}"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=file_unique_id,
            data=data,
            file_path=path,
            kind=kind,
            file_size=len(data) if file_size is None else file_size,
            width=width,
            height=height,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[file_id] = stored
        self.files_by_path[path] = stored
        return stored

    def register_photo(self, sizes: list[StoredFile]) -> list[JSON]:
        """Group stored sizes (smallest first) into one photo, findable by any size's id."""
        photo = [size.photo_size for size in sizes]
        for size in sizes:
            self.photo_sets[size.file_id] = photo
        return photo

    # --- ids --------------------------------------------------------------------------------
    def next_callback_id(self) -> str:
        self._callback_counter += 1
        digest = hashlib.sha256(f"{self.token}:cb:{self._callback_counter}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big") >> 1)

    def next_media_group_id(self) -> str:
        self._media_group_counter += 1
        return str(13_000_000_000_000_000 + self._media_group_counter)

    # --- calls ------------------------------------------------------------------------------
    def record_call(self, call: Call) -> None:
        self.calls.append(call)
        self.notifier.notify()


def scope_key(scope: Any) -> tuple[Any, ...]:
    """A hashable key for a BotCommandScope given as a dict, a PTB object, a type or None."""
    if scope is None:
        return ("default",)
    if isinstance(scope, str):
        return (scope,)
    if hasattr(scope, "to_dict"):
        scope = scope.to_dict()
    if not isinstance(scope, dict) or "type" not in scope:
        raise ValueError(f"not a BotCommandScope: {scope!r}")
    kind = scope["type"]
    if kind in ("chat", "chat_administrators"):
        return (kind, _int_chat(scope.get("chat_id")))
    if kind == "chat_member":
        return (kind, _int_chat(scope.get("chat_id")), int(scope.get("user_id", 0)))
    return (kind,)


def _int_chat(value: Any) -> int | str:
    if hasattr(value, "id"):
        return int(value.id)
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return value
    return int(value) if value is not None else 0
