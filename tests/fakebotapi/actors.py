"""People the test drives: their messages, albums, forwards and button presses become updates
with the ids, dates and entities Telegram would give them."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakebotapi.markup import detect_entities
from tests.fakebotapi.photos import image_size
from tests.fakebotapi.state import JSON, Chat, State, User

if TYPE_CHECKING:
    from tests.fakebotapi.driver import FakeBotAPI

__all__ = ["FakeChat", "FakeUser", "Sent", "chat_id_of", "message_ref"]

MessageRef = Any  # a message dict, a Sent, a PTB Message, or (chat_id, message_id)
ChatRef = Any  # a FakeChat, a FakeUser (their private chat), or a chat id


@dataclass(frozen=True)
class Sent:
    """An update a fake user caused, as it was queued for the bot."""

    update: JSON

    @property
    def update_id(self) -> int:
        return self.update["update_id"]

    @property
    def message(self) -> JSON | None:
        return self.update.get("message")

    @property
    def callback_query_id(self) -> str:
        return self.update["callback_query"]["id"]

    @property
    def message_id(self) -> int:
        return _require(self.message)["message_id"]

    @property
    def chat_id(self) -> int:
        if self.message is not None:
            return self.message["chat"]["id"]
        return self.update["callback_query"]["message"]["chat"]["id"]

    @property
    def text(self) -> str | None:
        return (self.message or {}).get("text")

    @property
    def file_id(self) -> str:
        """The photo's largest size, or the document: what the bot should download."""
        message = _require(self.message)
        if "photo" in message:
            return message["photo"][-1]["file_id"]
        return message["document"]["file_id"]


def _require(message: JSON | None) -> JSON:
    if message is None:
        raise ValueError("this update carries no message")
    return message


class FakeUser:
    """A tipster or a moderator. Every action returns the :class:`Sent` update it queued;
    ``chat`` defaults to the user's private chat with the bot."""

    def __init__(self, api: FakeBotAPI, record: User) -> None:
        self.api = api
        self.record = record

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def first_name(self) -> str:
        return self.record.first_name

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def full_name(self) -> str:
        return self.record.full_name

    @property
    def json(self) -> JSON:
        return self.record.json

    @property
    def _state(self) -> State:
        return self.api.state

    def send_text(self, text: str, *, chat: ChatRef = None, forward_from: Any = None) -> Sent:
        """Send ``text``; commands and links get the entities a client gives them."""
        content = {"text": text, "entities": detect_entities(text) or None}
        return self._post(chat, content, forward_from)

    def send_command(self, command: str, *args: str, chat: ChatRef = None) -> Sent:
        """``send_command("status", "K7QM-2XTD")`` sends ``/status K7QM-2XTD``."""
        return self.send_text(" ".join([f"/{command.removeprefix('/')}", *args]), chat=chat)

    def start(self) -> Sent:
        return self.send_command("start")

    def send_photo(
        self,
        data: bytes,
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        forward_from: Any = None,
        size: tuple[int, int] | None = None,
        _media_group_id: str | None = None,
    ) -> Sent:
        """Send a picture as a photo: the bytes as the largest size, smaller ones below.

        Undecodable bytes become a 1x1 photo (or ``size``): a test may want the bot to meet a
        broken file.
        """
        photo = self._state.store_photo(data, image_size(data) or size or (1, 1))
        content = {"photo": photo, "media_group_id": _media_group_id, **_caption(caption)}
        return self._post(chat, content, forward_from)

    def send_document(
        self,
        data: bytes,
        *,
        file_name: str | None = "document.bin",
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatRef = None,
        forward_from: Any = None,
        file_size: int | None = None,
    ) -> Sent:
        """Send a file as a document (the original bytes, as a tipster sends a camera file).

        ``file_size`` overrides the size Telegram reports (30 MB meets getFile's 20 MB limit
        without allocating it); ``mime_type`` is guessed from ``file_name`` if omitted.
        """
        stored = self._state.store_document(
            data, file_name=file_name, mime_type=mime_type, file_size=file_size
        )
        return self._post(chat, {"document": stored.document, **_caption(caption)}, forward_from)

    def send_sticker(self, data: bytes = b"RIFF\0\0\0\0WEBPVP8 ", *, chat: ChatRef = None) -> Sent:
        """A static sticker (WebP, 512x512), as a sticker pack's is sent."""
        sticker = self._state.store_media(
            data, width=512, height=512, type="regular", is_animated=False, is_video=False
        )
        return self._post(chat, {"sticker": sticker}, None)

    def send_video(
        self,
        data: bytes = b"\0\0\0\x18ftypmp42",
        *,
        caption: str | None = None,
        chat: ChatRef = None,
    ) -> Sent:
        """A video (MP4), as a client sends a clip from the gallery."""
        video = self._state.store_media(
            data, width=1280, height=720, duration=12, mime_type="video/mp4", file_name="clip.mp4"
        )
        return self._post(chat, {"video": video, **_caption(caption)}, None)

    def send_animation(self, data: bytes = b"\0\0\0\x18ftypmp42", *, chat: ChatRef = None) -> Sent:
        """A GIF, which Telegram turns into a silent MP4 and sends as an animation *and* a
        document (for clients that do not know animations)."""
        details = {"mime_type": "video/mp4", "file_name": "funny.gif.mp4"}
        animation = self._state.store_media(data, width=480, height=270, duration=3, **details)
        document = {k: animation[k] for k in ("file_id", "file_unique_id", "file_size")}
        return self._post(chat, {"animation": animation, "document": {**document, **details}}, None)

    def add_bot_to(self, chat: ChatRef, *, as_admin: bool = False) -> Sent:
        """Add the bot to a group or channel: the ``my_chat_member`` update Telegram sends it."""
        state = self._state
        found = state.chats[chat_id_of(chat)]
        if found.is_private:
            raise ValueError("a bot cannot be added to a private chat")
        found.members.setdefault(self.id, "creator")
        new = "administrator" if as_admin else "member"
        was = found.members.get(state.bot.id, "left")
        found.members[state.bot.id] = new
        return Sent(state.push_member_change(found, self.record, was, new))

    def send_album(
        self,
        items: Iterable[bytes],
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        forward_from: Any = None,
    ) -> list[Sent]:
        """2-10 photos as one album: separate updates sharing a ``media_group_id``, the caption
        on the first, as Telegram clients send them."""
        blobs = list(items)
        if not 1 <= len(blobs) <= 10:
            raise ValueError("an album holds 1 to 10 items")
        group_id = self._state.next_media_group_id()
        return [
            self.send_photo(
                data,
                caption=caption if index == 0 else None,
                chat=chat,
                forward_from=forward_from,
                _media_group_id=group_id,
            )
            for index, data in enumerate(blobs)
        ]

    def press(self, message: MessageRef, button: str) -> Sent:
        """Press the inline button labelled ``button`` (or the one label containing it)."""
        found = self._state.message(*message_ref(message))
        if found is None:
            raise LookupError(f"no message {message_ref(message)} (deleted?)")
        return self._press(found, _find_button(found, button))

    def press_forged(self, data: str, *, message: MessageRef) -> Sent:
        """A callback query with arbitrary ``data``, as a modified client can send: Telegram
        does not check that such a button exists."""
        found = self._state.message(*message_ref(message))
        if found is None:
            raise LookupError(f"no message {message_ref(message)} (deleted?)")
        return self._press(found, data)

    def _press(self, message: JSON, data: str) -> Sent:
        state = self._state
        query = {
            "id": state.next_callback_id(),
            "from": self.json,
            "message": copy.deepcopy(message),
            "chat_instance": state.chats[message["chat"]["id"]].chat_instance,
            "data": data,
        }
        state.callback_queries[query["id"]] = query
        return Sent(state.updates.push({"callback_query": copy.deepcopy(query)}))

    def _post(self, chat_ref: ChatRef, content: JSON, forward_from: Any) -> Sent:
        state = self._state
        chat = state.chats[self.id if chat_ref is None else chat_id_of(chat_ref)]
        if chat.is_private and chat.id != self.id:
            raise ValueError(f"{self!r} cannot write in someone else's private chat")
        if forward_from is not None:
            content["forward_origin"] = self.api.origin(forward_from)
        message = state.new_message(chat, self.record, **content)
        return Sent(state.updates.push({"message": copy.deepcopy(message)}))


class FakeChat:
    """A chat the fake Telegram knows: a private chat, a group, a supergroup or a channel."""

    def __init__(self, api: FakeBotAPI, record: Chat) -> None:
        self.api = api
        self.record = record

    def __repr__(self) -> str:
        return f"FakeChat(id={self.id}, type={self.record.type!r}, title={self.title!r})"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def title(self) -> str | None:
        return self.record.title

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def json(self) -> JSON:
        return self.record.json


def _caption(caption: str | None) -> JSON:
    if not caption:
        return {}
    return {"caption": caption, "caption_entities": detect_entities(caption) or None}


def chat_id_of(ref: ChatRef) -> int:
    if isinstance(ref, FakeChat | FakeUser):
        return ref.id
    if isinstance(ref, Sent):
        return ref.chat_id
    if isinstance(ref, dict):
        return int(ref["id"])
    if hasattr(ref, "id") and not isinstance(ref, int):
        return int(ref.id)
    return int(ref)


def message_ref(ref: MessageRef) -> tuple[int, int]:
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


def _find_button(message: JSON, text: str) -> str:
    buttons = [
        b
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    ]
    exact = [b for b in buttons if b["text"] == text]
    partial = [b for b in buttons if text in b["text"]]
    if exact or len(partial) == 1:
        return (exact or partial)[0]["callback_data"]
    shown = [(b["text"], b["callback_data"]) for b in buttons]
    raise LookupError(f"no button {text!r} on message {message['message_id']}: {shown}")
