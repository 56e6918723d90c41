"""The Bot API methods, implemented on :class:`~tests.fakebotapi.state.State`.

Each method takes the request's decoded parameters and returns the ``result`` or raises
:class:`ApiError` with the status and description the real Bot API gives in that situation, so
the bot's error handling meets the same exceptions in tests as in production.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakebotapi.markup import HtmlError, parse_html, strip_text
from tests.fakebotapi.objects import JSON, image_size, photo_thumbnails, reencode_like_telegram
from tests.fakebotapi.state import Chat, State, StoredFile, Upload, User, scope_key

__all__ = ["ApiError", "Methods", "normalize_params"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_ALBUM = 10
CALLBACK_ANSWER_TEXT = 200


class ApiError(Exception):
    """An error answer: HTTP status, Telegram's description, optional ``parameters``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    @property
    def body(self) -> JSON:
        data: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


# How the Bot API types the form fields it knows (every value arrives as a string in a form).
_CHAT_FIELDS = frozenset({"chat_id", "from_chat_id"})
_INT_FIELDS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
        "user_id",
        "duration",
        "width",
        "height",
        "until_date",
        "direct_messages_topic_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "has_spoiler",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "allow_sending_without_reply",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "supports_streaming",
        "for_channels",
        "remove_caption",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "media",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "menu_button",
        "message_ids",
        "rights",
        "options",
    }
)


def normalize_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Type the parameters the way the Bot API reads them; unknown ones stay strings.

    A JSON body already carries typed values, a form carries strings (PTB sends strings as
    they are and everything else JSON-encoded); both end up the same here.
    """
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, Upload) or value is None:
            params[name] = value
            continue
        if name in _CHAT_FIELDS:
            params[name] = _chat_value(name, value)
        elif name in _INT_FIELDS:
            params[name] = _int_value(name, value)
        elif name in _BOOL_FIELDS:
            params[name] = _bool_value(value)
        elif name in _JSON_FIELDS and isinstance(value, str):
            try:
                params[name] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if name == "reply_markup" else name
                raise bad(f"can't parse {what} JSON object") from None
        else:
            params[name] = value
    return params


def _chat_value(name: str, value: Any) -> int | str:
    if isinstance(value, bool):
        raise bad(f"{name} is invalid")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if not text:
        raise bad(f"{name} is empty")
    return text


def _int_value(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad(f"invalid {name} specified") from None


def _bool_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _json_copy(value: JSON) -> JSON:
    return copy.deepcopy(value)


_CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "video",
    "audio",
    "animation",
    "voice",
    "sticker",
    "caption",
    "caption_entities",
    "media_group_id",
    "has_media_spoiler",
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}


class Methods:
    """The Bot API surface. ``table`` maps lower-cased method names to handlers.

    Method names are case-insensitive in the real API too.
    """

    def __init__(
        self,
        state: State,
        *,
        strict_html: bool = True,
        reencode_photos: bool = False,
        photo_thumbnails: bool = True,
        on_webhook_change: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.strict_html = strict_html
        self.reencode_photos = reencode_photos
        self.photo_thumbnails = photo_thumbnails
        self.on_webhook_change = on_webhook_change
        self.closing = False
        self._poll_generation = 0
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self.get_me,
            "logOut": self.true,
            "close": self.true,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "forwardMessage": self.forward_message,
            "copyMessage": self.copy_message,
            "getFile": self.get_file,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setMyName": self.set_bot_text("name"),
            "getMyName": self.get_bot_text("name"),
            "setMyDescription": self.set_bot_text("description"),
            "getMyDescription": self.get_bot_text("description"),
            "setMyShortDescription": self.set_bot_text("short_description"),
            "getMyShortDescription": self.get_bot_text("short_description"),
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
        }
        self.names = {name.lower(): name for name in handlers}
        self.table = {name.lower(): handler for name, handler in handlers.items()}

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        handler = self.table[method.lower()]
        result = handler(params)
        if isinstance(result, Awaitable):
            result = await result
        return result

    # --- shared helpers ---------------------------------------------------------------------
    @staticmethod
    def true(_params: dict[str, Any]) -> bool:
        return True

    def _chat(self, params: dict[str, Any], name: str = "chat_id") -> Chat:
        value = params.get(name)
        if value is None or value == "":
            raise bad(f"{name} is empty")
        if isinstance(value, str):
            username = value.removeprefix("@").lower()
            for chat in self.state.chats.values():
                if not chat.is_private and (chat.username or "").lower() == username:
                    return chat
            raise bad("chat not found")
        chat = self.state.chats.get(value)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _target(self, params: dict[str, Any]) -> Chat:
        """The chat to send into, refused the way Telegram refuses it."""
        chat = self._chat(params)
        if chat.is_private:
            user = self.state.users.get(chat.id)
            if user is not None and user.is_bot:
                raise forbidden("bot can't send messages to bots")
            if user is not None and user.blocked_bot:
                raise forbidden("bot was blocked by the user")
            if user is not None and not user.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif chat.type == "channel":
            if chat.bot_status not in ("administrator", "creator"):
                raise forbidden("bot is not a member of the channel chat")
        elif chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def _int(self, params: dict[str, Any], name: str) -> int:
        value = params.get(name)
        if value is None or value == "":
            what = "message identifier is not specified" if name == "message_id" else None
            raise bad(what or f'parameter "{name}" is required')
        return int(value)

    def _format(
        self, text: str, parse_mode: str | None, entities: Any, *, caption: bool = False
    ) -> tuple[str, list[JSON]]:
        """Apply ``parse_mode`` (or explicit entities) as Telegram does; check the length."""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, found = parse_html(text, strict=self.strict_html)
            except HtmlError as exc:
                raise bad(f"can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not interpreted (the tip line speaks HTML); the text passes as is.
            plain, found = text, []
        else:
            raise bad("unsupported parse_mode")
        if entities and not mode:
            if not isinstance(entities, list):
                raise bad("can't parse entities JSON object")
            found = [dict(e) for e in entities]
        plain, found = strip_text(plain, found)
        if len(plain) > (MAX_CAPTION if caption else MAX_TEXT):
            raise bad("message caption is too long" if caption else "message is too long")
        return plain, found

    def _markup(self, params: dict[str, Any]) -> JSON | None:
        """Validate ``reply_markup``; return what the sent Message carries (inline only)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad("object expected as reply markup")
        if "inline_keyboard" in markup:
            return {"inline_keyboard": self._inline_keyboard(markup["inline_keyboard"])}
        if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad('can\'t find field "inline_keyboard"')
        return None

    @staticmethod
    def _inline_keyboard(rows: Any) -> list[list[JSON]]:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad('field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad("can't parse inline keyboard button: Text must be a String")
                actions = [a for a in _BUTTON_ACTIONS if a in button]
                if not actions:
                    raise bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not (
                    isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
                ):
                    raise bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise bad(f"inline keyboard button URL '{url}' is invalid")
        return _json_copy(rows)

    def _reply_to(self, params: dict[str, Any], chat: Chat) -> JSON | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if reply.get("chat_id") not in (None, chat.id):
                chat = self._chat({"chat_id": reply["chat_id"]})
        if message_id is None:
            return None
        original = self.state.message(chat.id, int(message_id))
        if original is None:
            if allow_missing:
                return None
            raise bad("message to be replied not found")
        shallow = dict(original)
        shallow.pop("reply_to_message", None)
        return _json_copy(shallow)

    def _bot_message(self, chat: Chat, params: dict[str, Any], **content: Any) -> JSON:
        """Store a message the bot sends, with reply and markup, and notify the watchers."""
        markup = self._markup(params)
        message = self.state.new_message(
            chat,
            self.state.bot,
            reply_to_message=self._reply_to(params, chat),
            **content,
            reply_markup=markup,
        )
        self.state.record_bot_message(message)
        return _json_copy(message)

    def _editable(self, params: dict[str, Any], what: str = "edit") -> JSON:
        if params.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message = self.state.message(chat.id, self._int(params, "message_id"))
        if message is None:
            raise bad(f"message to {what} not found")
        if message.get("from", {}).get("id") != self.state.bot.id:
            raise bad("message can't be edited")
        return message

    @staticmethod
    def _not_modified() -> ApiError:
        return bad(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    # --- bot identity -----------------------------------------------------------------------
    def get_me(self, _params: dict[str, Any]) -> JSON:
        return {
            **self.state.bot.json,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # --- updates ----------------------------------------------------------------------------
    async def get_updates(self, params: dict[str, Any]) -> list[JSON]:
        state = self.state
        if state.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        state.notifier.notify()  # an older long poll still waiting learns it is superseded
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            allowed = params["allowed_updates"]
            if not isinstance(allowed, list):
                raise bad("can't parse allowed_updates JSON array")
            state.updates.allowed_updates = [str(a) for a in allowed]
        state.updates.confirm(int(params.get("offset") or 0))
        deadline = state.clock() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = state.updates.take(limit)
            remaining = deadline - state.clock()
            if batch or remaining <= 0 or self.closing:
                return batch
            await state.notifier.wait(remaining)

    def set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self.delete_webhook(params)
        match = re.match(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)", url)
        if not match:
            raise bad("bad webhook: the fake Bot API delivers only to loopback http(s) URLs")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.state.updates.drop_pending()
        if params.get("allowed_updates") is not None:
            self.state.updates.allowed_updates = list(params["allowed_updates"])
        self.state.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int(params.get("max_connections") or 40),
            "allowed_updates": params.get("allowed_updates"),
        }
        self.state.webhook_error = None
        self.state.notifier.notify()
        if self.on_webhook_change:
            self.on_webhook_change()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self.state.updates.drop_pending()
        self.state.webhook = None
        self.state.notifier.notify()
        if self.on_webhook_change:
            self.on_webhook_change()
        return True

    def get_webhook_info(self, _params: dict[str, Any]) -> JSON:
        hook = self.state.webhook
        info: JSON = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.state.updates.count,
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if hook.get("allowed_updates") is not None:
                info["allowed_updates"] = hook["allowed_updates"]
            if self.state.webhook_error:
                info["last_error_date"], info["last_error_message"] = self.state.webhook_error
        return info

    # --- sending ----------------------------------------------------------------------------
    def send_message(self, params: dict[str, Any]) -> JSON:
        chat = self._target(params)
        text = params.get("text")
        if text is None or str(text) == "":
            raise bad("message text is empty")
        plain, entities = self._format(str(text), params.get("parse_mode"), params.get("entities"))
        if not plain:
            raise bad("message text is empty")
        return self._bot_message(chat, params, text=plain, entities=entities or None)

    def _caption(self, params: dict[str, Any]) -> tuple[str | None, list[JSON] | None]:
        caption = params.get("caption")
        if caption is None or caption == "":
            return None, None
        plain, entities = self._format(
            str(caption), params.get("parse_mode"), params.get("caption_entities"), caption=True
        )
        return plain or None, entities or None

    @staticmethod
    def _input_file(holder: dict[str, Any], name: str, request: dict[str, Any]) -> Any:
        """A file parameter: an upload, an ``attach://`` part of ``request``, or a file_id."""
        value = holder.get(name)
        if value is None or value == "":
            raise bad(f'parameter "{name}" is required')
        if isinstance(value, Upload):
            return value
        text = str(value)
        if text.startswith("attach://"):
            attached = request.get(text.removeprefix("attach://"))
            if not isinstance(attached, Upload):
                raise bad(f"file {text} not found")  # wording of the real API
            return attached
        return text

    def _photo_from(self, source: Upload | str) -> list[JSON]:
        if isinstance(source, str):
            if source in self.state.photo_sets:
                return copy.deepcopy(self.state.photo_sets[source])
            stored = self.state.files.get(source)
            if stored is not None:
                raise bad(f"can't use file of type {stored.kind.title()} as Photo")
            if re.match(r"^https?://", source):
                raise bad("failed to get HTTP URL content")
            raise bad("wrong file identifier/HTTP URL specified")
        return self.store_photo(source.data, reencode=self.reencode_photos, upload=True)

    def store_photo(
        self,
        data: bytes,
        *,
        reencode: bool,
        upload: bool = False,
        size: tuple[int, int] | None = None,
    ) -> list[JSON]:
        """Keep a photo as Telegram would: thumbnails below, the picture itself as largest.

        A bot's upload that is no image is refused like Telegram refuses it; a test may still
        hand in undecodable bytes as a user's photo (``size`` then gives its dimensions).
        """
        if reencode:
            data = reencode_like_telegram(data) or data
        size = image_size(data) or size
        if size is None:
            if upload:
                raise bad("IMAGE_PROCESS_FAILED")
            size = (1, 1)
        width, height = size
        if upload and (width + height > 10000 or max(width, height) > 20 * min(width, height)):
            raise bad("PHOTO_INVALID_DIMENSIONS")
        stored = [
            self.state.store_file(thumb, "photo", extension=".jpg", width=w, height=h)
            for thumb, w, h in (photo_thumbnails(data) if self.photo_thumbnails else [])
        ]
        stored.append(
            self.state.store_file(data, "photo", extension=".jpg", width=width, height=height)
        )
        return self.state.register_photo(stored)

    def store_document(
        self,
        data: bytes,
        *,
        file_name: str | None,
        mime_type: str | None,
        file_size: int | None = None,
    ) -> StoredFile:
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1].lower()
        elif mime_type:
            extension = mimetypes.guess_extension(mime_type) or ""
        return self.state.store_file(
            data,
            "document",
            extension=extension,
            file_name=file_name,
            mime_type=mime_type,
            file_size=file_size,
        )

    def _document_from(self, source: Upload | str) -> JSON:
        if isinstance(source, str):
            stored = self.state.files.get(source)
            if stored is None:
                if re.match(r"^https?://", source):
                    raise bad("failed to get HTTP URL content")
                raise bad("wrong file identifier/HTTP URL specified")
            if stored.kind != "document":
                raise bad(f"can't use file of type {stored.kind.title()} as Document")
            return stored.document
        content_type = source.content_type
        if content_type in (None, "application/octet-stream") and source.filename:
            content_type = mimetypes.guess_type(source.filename)[0] or content_type
        return self.store_document(
            source.data, file_name=source.filename, mime_type=content_type
        ).document

    def send_photo(self, params: dict[str, Any]) -> JSON:
        chat = self._target(params)
        source = self._input_file(params, "photo", params)
        caption, entities = self._caption(params)
        photo = self._photo_from(source)
        return self._bot_message(
            chat,
            params,
            photo=photo,
            caption=caption,
            caption_entities=entities,
            has_media_spoiler=True if params.get("has_spoiler") else None,
        )

    def send_document(self, params: dict[str, Any]) -> JSON:
        chat = self._target(params)
        source = self._input_file(params, "document", params)
        caption, entities = self._caption(params)
        document = self._document_from(source)
        return self._bot_message(
            chat, params, document=document, caption=caption, caption_entities=entities
        )

    def send_media_group(self, params: dict[str, Any]) -> list[JSON]:
        chat = self._target(params)
        media = params.get("media")
        if media is None:
            raise bad('parameter "media" is required')
        if not isinstance(media, list) or not media:
            raise bad("there are no messages to send")
        if len(media) > MAX_ALBUM:
            raise bad("too many messages to send as an album")
        kinds = {str(item.get("type")) for item in media if isinstance(item, dict)}
        for kind in ("document", "audio"):
            if kind in kinds and len(kinds) > 1:
                raise bad(f"{kind} can't be mixed with other media types")
        prepared: list[JSON] = []
        for item in media:
            if not isinstance(item, dict):
                raise bad("can't parse InputMedia JSON object")
            kind = item.get("type")
            if kind not in ("photo", "document", "video", "audio"):
                raise bad(
                    f"can't parse InputMedia: type \"{kind}\" can't be used in sendMediaGroup"
                )
            source = self._input_file(item, "media", params)
            caption, entities = self._caption(item)
            content: JSON = {"caption": caption, "caption_entities": entities}
            if kind == "photo":
                content["photo"] = self._photo_from(source)
            elif kind == "document":
                content["document"] = self._document_from(source)
            else:
                raise ApiError(404, f"Not Found: {kind} albums are not simulated")
            prepared.append(content)
        group_id = self.state.next_media_group_id()
        return [
            self._bot_message(chat, params, media_group_id=group_id, **content)
            for content in prepared
        ]

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        self._target(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def _source_message(self, params: dict[str, Any]) -> JSON:
        source_chat = self._chat(params, "from_chat_id")
        message = self.state.message(source_chat.id, self._int(params, "message_id"))
        if message is None:
            raise bad("message to forward not found")
        return message

    def forward_message(self, params: dict[str, Any]) -> JSON:
        chat = self._target(params)
        original = self._source_message(params)
        content = {k: copy.deepcopy(original[k]) for k in _CONTENT_KEYS if k in original}
        origin = original.get("forward_origin") or self._origin_of(original)
        return self._bot_message(chat, {}, forward_origin=origin, **content)

    def _origin_of(self, message: JSON) -> JSON:
        source_chat = self.state.chats[message["chat"]["id"]]
        if source_chat.type == "channel":
            return {
                "type": "channel",
                "date": message["date"],
                "chat": source_chat.json,
                "message_id": message["message_id"],
            }
        sender = self.state.users.get(message.get("from", {}).get("id", 0))
        if sender is None:
            return {"type": "chat", "date": message["date"], "sender_chat": source_chat.json}
        if sender.forward_privacy:
            return {
                "type": "hidden_user",
                "date": message["date"],
                "sender_user_name": sender.full_name,
            }
        return {"type": "user", "date": message["date"], "sender_user": sender.json}

    def copy_message(self, params: dict[str, Any]) -> JSON:
        chat = self._target(params)
        original = self._source_message(params)
        content = {k: copy.deepcopy(original[k]) for k in _CONTENT_KEYS if k in original}
        content.pop("media_group_id", None)
        if "caption" in params and "text" not in original:
            caption, entities = self._caption(params)
            content["caption"], content["caption_entities"] = caption, entities
        message = self._bot_message(chat, params, **content)
        return {"message_id": message["message_id"]}

    # --- files ------------------------------------------------------------------------------
    def get_file(self, params: dict[str, Any]) -> JSON:
        file_id = params.get("file_id")
        if not file_id:
            raise bad('parameter "file_id" is required')
        stored = self.state.files.get(str(file_id))
        if stored is None:
            raise bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD:
            raise bad("file is too big")
        return stored.file

    # --- editing ----------------------------------------------------------------------------
    def edit_message_text(self, params: dict[str, Any]) -> JSON:
        message = self._editable(params)
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        text = params.get("text")
        if text is None or str(text) == "":
            raise bad("message text is empty")
        plain, entities = self._format(str(text), params.get("parse_mode"), params.get("entities"))
        if not plain:
            raise bad("message text is empty")
        markup = self._markup(params)
        if (
            plain == message.get("text")
            and (entities or None) == message.get("entities")
            and markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        return self._apply_edit(message, text=plain, entities=entities or None, markup=markup)

    def edit_message_caption(self, params: dict[str, Any]) -> JSON:
        message = self._editable(params)
        if "text" in message:
            raise bad("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._markup(params)
        if (
            caption == message.get("caption")
            and entities == message.get("caption_entities")
            and markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        return self._apply_edit(message, caption=caption, caption_entities=entities, markup=markup)

    def edit_message_reply_markup(self, params: dict[str, Any]) -> JSON:
        message = self._editable(params)
        markup = self._markup(params)
        if markup == message.get("reply_markup"):
            raise self._not_modified()
        return self._apply_edit(message, markup=markup)

    def _apply_edit(self, message: JSON, *, markup: JSON | None, **content: Any) -> JSON:
        """Replace content; like Telegram, an edit without reply_markup drops the keyboard."""
        for key, value in content.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = self.state.now()
        self.state.notifier.notify()
        return _json_copy(message)

    def delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        message_id = self._int(params, "message_id")
        message = self.state.message(chat.id, message_id)
        if message is None:
            raise bad("message to delete not found")
        mine = message.get("from", {}).get("id") == self.state.bot.id
        if not chat.is_private and not mine and chat.bot_status not in ("administrator", "creator"):
            raise bad("message can't be deleted")
        del self.state.messages[chat.id][message_id]
        self.state.deleted.append(message)
        self.state.notifier.notify()
        return True

    # --- callback queries -------------------------------------------------------------------
    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self.state.callback_queries.pop(query_id, None)
        if query is None:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_TEXT:
            raise bad("MESSAGE_TOO_LONG")
        answer = {
            "callback_query_id": query_id,
            "text": text,
            "show_alert": bool(params.get("show_alert")),
            "url": params.get("url"),
            "cache_time": params.get("cache_time"),
            "query": query,
            "time": self.state.clock(),
        }
        self.state.callback_answers.append(answer)
        self.state.notifier.notify()
        return True

    # --- commands and profile ---------------------------------------------------------------
    def _scope(self, params: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
        scope = params.get("scope")
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise bad("can't parse BotCommandScope JSON object")
            if "chat_id" in scope:
                scope = {**scope, "chat_id": self._chat({"chat_id": scope["chat_id"]}).id}
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad("invalid language code specified")
        return scope_key(scope), language

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad('parameter "commands" is required')
        if len(commands) > 100:
            raise bad("too many commands specified")
        cleaned: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad("can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad(
                    "command description is empty"
                    if not description
                    else "BOT_COMMAND_DESCRIPTION_INVALID"
                )
            cleaned.append({"command": name, "description": description})
        key = self._scope(params)
        if cleaned:
            self.state.commands[key] = cleaned
        else:
            self.state.commands.pop(key, None)
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[JSON]:
        return copy.deepcopy(self.state.commands.get(self._scope(params), []))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.state.commands.pop(self._scope(params), None)
        return True

    def set_bot_text(self, kind: str) -> Callable[[dict[str, Any]], bool]:
        def handler(params: dict[str, Any]) -> bool:
            self.state.bot_texts[(kind, str(params.get("language_code") or ""))] = str(
                params.get(kind) or ""
            )
            return True

        return handler

    def get_bot_text(self, kind: str) -> Callable[[dict[str, Any]], JSON]:
        def handler(params: dict[str, Any]) -> JSON:
            language = str(params.get("language_code") or "")
            default = self.state.bot.first_name if kind == "name" else ""
            return {kind: self.state.bot_texts.get((kind, language), default)}

        return handler

    def set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat(params).id if params.get("chat_id") is not None else None
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad("can't parse menu button JSON object")
        self.state.menu_buttons[chat_id] = button
        return True

    def get_chat_menu_button(self, params: dict[str, Any]) -> JSON:
        chat_id = self._chat(params).id if params.get("chat_id") is not None else None
        button = self.state.menu_buttons.get(chat_id) or self.state.menu_buttons.get(None)
        if button is None or button.get("type") == "default":
            return {"type": "commands"}
        return button

    # --- chats ------------------------------------------------------------------------------
    def get_chat(self, params: dict[str, Any]) -> JSON:
        chat = self._chat(params)
        return {
            **chat.json,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat: Chat, user: User) -> JSON:
        if user.id == self.state.bot.id:
            status = chat.bot_status
        elif chat.is_private:
            status = "member" if user.id == chat.id else "left"
        else:
            status = chat.members.get(user.id, "left")
        member: JSON = {"status": status, "user": user.json}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(_ADMIN_RIGHTS)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def get_chat_member(self, params: dict[str, Any]) -> JSON:
        chat = self._chat(params)
        user = self.state.users.get(self._int(params, "user_id"))
        if user is None:
            raise bad("user not found")
        return self._member(chat, user)

    def get_chat_administrators(self, params: dict[str, Any]) -> list[JSON]:
        chat = self._chat(params)
        if chat.is_private:
            raise bad("there are no administrators in the private chat")
        ids = [
            uid for uid, status in chat.members.items() if status in ("creator", "administrator")
        ]
        if chat.bot_status == "administrator":
            ids.append(self.state.bot.id)
        return [self._member(chat, self.state.users[uid]) for uid in ids]

    def get_chat_member_count(self, params: dict[str, Any]) -> int:
        chat = self._chat(params)
        if chat.is_private:
            return 2
        present = [s for s in chat.members.values() if s in ("creator", "administrator", "member")]
        return len(present) + (chat.bot_status in ("administrator", "member", "creator"))
