"""What the fake Telegram remembers: people, chats, messages, files, pending updates, calls.

Everything lives on the test's event loop, so plain containers suffice; a :class:`Notifier`
wakes whoever waits (a long-polling getUpdates, a test's ``wait_for_*``) whenever something
changes.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.fakebotapi.photos import photo_thumbnails

__all__ = [
    "JSON",
    "Call",
    "Chat",
    "Notifier",
    "State",
    "StoredFile",
    "UpdateQueue",
    "Upload",
]

JSON = dict[str, Any]
T = TypeVar("T")

# Real file_ids start with a prefix naming the file type; PTB does not care, people reading
# a failing test's output do.
_FILE_ID_PREFIX = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI"}
_FILE_DIR = {"photo": "photos", "document": "documents"}


@dataclass
class User:
    """A Telegram account: a tipster, a moderator, or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    @property
    def json(self) -> JSON:
        """A ``User`` object: optional fields left out when unset, as Telegram does."""
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class Chat:
    """A private chat (id = the user's id), a group, a supergroup or a channel (negative ids)."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> member status
    chat_instance: str = ""
    last_message_id: int = 0

    @property
    def json(self) -> JSON:
        """The short ``Chat`` object messages carry."""
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def next_message_id(self) -> int:
        """Message ids count per chat, shared by both sides of the conversation."""
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class StoredFile:
    """One file Telegram holds; ``data`` is served at ``/file/bot<token>/<file_path>``."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_size: int
    width: int = 0
    height: int = 0
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def _ids(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }

    @property
    def photo_size(self) -> JSON:
        return {**self._ids, "width": self.width, "height": self.height}

    @property
    def document(self) -> JSON:
        named = {"file_name": self.file_name, "mime_type": self.mime_type}
        return {**self._ids, **{k: v for k, v in named.items() if v}}

    @property
    def file(self) -> JSON:
        """The ``File`` object getFile returns."""
        return {**self._ids, "file_path": self.file_path}


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
    injected: bool = False  # the answer came from a fault, not from the method

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
        """Until the next :meth:`notify` or ``seconds``, whichever comes first."""
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
        self, check: Callable[[], T | None], seconds: float, poll: float = 0.01
    ) -> T | None:
        """Re-run ``check`` until it returns something or ``seconds`` pass.

        It also re-runs every ``poll`` seconds, for conditions on things the fake does not see
        change (a database row appearing, a handler's own list).
        """
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await self.wait(min(remaining, poll))


class UpdateQueue:
    """The bot's pending updates, forgotten only when an offset confirms them, as Telegram does."""

    def __init__(self, first_update_id: int, notifier: Notifier) -> None:
        self._next_id = first_update_id
        self._notifier = notifier
        self.pending: list[JSON] = []
        self.redeliveries: list[JSON] = []

    def push(self, body: JSON) -> JSON:
        """Give ``body`` (``{"message": {...}}`` etc.) the next update_id and queue it."""
        update = {"update_id": self._next_id, **body}
        self._next_id += 1
        self.pending.append(update)
        self._notifier.notify()
        return update

    def redeliver(self, update: JSON) -> None:
        """Hand ``update`` out once more, as after a bot crash before it confirmed it.

        It goes out alone, so the bot's offset going back cannot bring back anything else.
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
        """The next batch; it stays pending until confirmed."""
        if self.redeliveries:
            batch = self.redeliveries[:limit]
            del self.redeliveries[: len(batch)]
        else:
            batch = self.pending[:limit]
        return copy.deepcopy(batch)

    def drop_pending(self) -> None:
        self.pending.clear()
        self.redeliveries.clear()

    @property
    def count(self) -> int:
        return len(self.pending) + len(self.redeliveries)


class State:
    """All of the fake Telegram's memory, shared by the Bot API methods and the test driver."""

    def __init__(
        self,
        *,
        token: str,
        bot: User,
        first_update_id: int,
        photo_thumbnails: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot = bot
        self.clock = clock
        self.photo_thumbnails = photo_thumbnails
        self.notifier = Notifier()
        self.updates = UpdateQueue(first_update_id, self.notifier)
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, dict[int, JSON]] = {}  # chat id -> message id -> message
        self.bot_sent: list[tuple[int, int]] = []  # (chat_id, message_id) in send order
        self.bot_sent_in: dict[int, list[int]] = {}  # chat id -> the bot's message ids, in order
        #: Called with each message the bot sends, as it is stored (a load test's eyes).
        self.watchers: list[Callable[[JSON], None]] = []
        self.files: dict[str, StoredFile] = {}  # by file_id
        self.files_by_path: dict[str, StoredFile] = {}
        self.downloads: list[str] = []  # file paths the bot fetched, in order
        self.calls: list[Call] = []
        self.callback_queries: dict[str, JSON] = {}  # unanswered, by id
        self.callback_answers: list[JSON] = []
        self.commands: dict[tuple[tuple[Any, ...], str], list[JSON]] = {}
        self.webhook: JSON | None = None
        self._counter = 0

    def now(self) -> int:
        """A Unix date as Telegram sends it: an int."""
        return int(self.clock())

    def _digest(self, kind: str) -> bytes:
        """Ids that look random but repeat from run to run, so failures reproduce."""
        self._counter += 1
        return hashlib.sha256(f"{self.token}:{kind}:{self._counter}".encode()).digest()

    def record_call(self, call: Call) -> None:
        self.calls.append(call)
        self.notifier.notify()

    # --- chats and messages -----------------------------------------------------------------
    def add_chat(self, chat: Chat) -> Chat:
        if not chat.chat_instance:
            chat.chat_instance = str(int.from_bytes(self._digest("chat")[:8], "big") >> 1)
        self.chats[chat.id] = chat
        self.messages.setdefault(chat.id, {})
        return chat

    def new_message(self, chat: Chat, sender: User, **content: Any) -> JSON:
        """Store a message from ``sender`` with the chat's next message_id."""
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": sender.json,
            "chat": chat.json,
            "date": self.now(),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages[chat.id][message["message_id"]] = message
        if sender.id == self.bot.id:
            self.bot_sent.append((chat.id, message["message_id"]))
            self.bot_sent_in.setdefault(chat.id, []).append(message["message_id"])
            for watch in self.watchers:
                watch(message)
        self.notifier.notify()
        return message

    def push_member_change(self, chat: Chat, by: User, old: str, new: str) -> JSON:
        """The ``my_chat_member`` update Telegram sends when the bot's membership changes."""
        change = {
            "chat": chat.json,
            "from": by.json,
            "date": self.now(),
            "old_chat_member": {"user": self.bot.json, "status": old},
            "new_chat_member": {"user": self.bot.json, "status": new},
        }
        return self.updates.push({"my_chat_member": change})

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        return self.messages.get(chat_id, {}).get(message_id)

    def next_callback_id(self) -> str:
        return str(int.from_bytes(self._digest("callback")[:8], "big") >> 1)

    def next_media_group_id(self) -> str:
        return str(13_000_000_000_000_000 + int.from_bytes(self._digest("album")[:4], "big"))

    # --- files ------------------------------------------------------------------------------
    def _store(self, data: bytes, kind: str, extension: str, **details: Any) -> StoredFile:
        digest = self._digest(kind)
        b64 = base64.urlsafe_b64encode(digest + digest[:12]).decode().rstrip("=")
        stored = StoredFile(
            file_id=_FILE_ID_PREFIX[kind] + b64,
            file_unique_id="AQAD" + base64.urlsafe_b64encode(digest[:9]).decode(),
            data=data,
            file_path=f"{_FILE_DIR[kind]}/file_{self._counter}{extension}",
            **{"file_size": len(data), **details},
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def store_photo(self, data: bytes, size: tuple[int, int]) -> list[JSON]:
        """A photo as Telegram keeps it: smaller renditions first, the picture itself last."""
        thumbnails = photo_thumbnails(data) if self.photo_thumbnails else []
        sizes = [self._store(t, "photo", ".jpg", width=w, height=h) for t, w, h in thumbnails]
        sizes.append(self._store(data, "photo", ".jpg", width=size[0], height=size[1]))
        return [s.photo_size for s in sizes]

    def store_media(
        self,
        data: bytes,
        *,
        width: int,
        height: int,
        mime_type: str | None = None,
        file_name: str | None = None,
        **extra: Any,
    ) -> JSON:
        """A sticker, video or animation as a message carries it: the file's ids, size and
        dimensions, the type's own fields (``extra``), its name and MIME type if it has them."""
        stored = self._store(data, "document", "", width=width, height=height)
        named = {"file_name": file_name, "mime_type": mime_type}
        return {
            **stored.photo_size,
            **extra,
            **{k: v for k, v in named.items() if v},
        }

    def store_document(
        self,
        data: bytes,
        *,
        file_name: str | None,
        mime_type: str | None,
        file_size: int | None = None,
    ) -> StoredFile:
        """A file sent as a document; Telegram guesses the MIME type from its name."""
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1].lower()
        details: JSON = {"file_name": file_name, "mime_type": mime_type}
        if file_size is not None:
            details["file_size"] = file_size
        return self._store(data, "document", extension, **details)
