"""The Bot API methods Tipline and PTB call, implemented on :class:`~.state.State`.

Only these are served (any other is 404, as an unknown method is on api.telegram.org): PTB's
own getMe, getUpdates, deleteWebhook and setWebhook, and the bot's setMyCommands,
sendMessage, sendPhoto, editMessageText, answerCallbackQuery, getFile and leaveChat. Each
refuses what
Telegram refuses with Telegram's status and description, so the bot meets the same exceptions
in tests as in production.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakebotapi.markup import HtmlError, parse_html, strip_text
from tests.fakebotapi.photos import image_size
from tests.fakebotapi.state import JSON, Chat, State, Upload

__all__ = ["ApiError", "Methods", "normalize_params", "scope_key"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024
CALLBACK_ANSWER_TEXT = 200


class ApiError(Exception):
    """An error answer: HTTP status and Telegram's description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    @property
    def body(self) -> JSON:
        return {"ok": False, "error_code": self.status, "description": self.description}


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# PTB sends strings as they are and everything else JSON-encoded, in a form or multipart body.
_INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "max_connections", "cache_time"}
)
_BOOL_FIELDS = frozenset({"drop_pending_updates", "show_alert", "disable_web_page_preview"})
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
    }
)


def normalize_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Type the parameters the way the Bot API reads them; unknown ones stay strings."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, Upload):
            params[name] = value
        elif name in _INT_FIELDS:
            try:
                params[name] = int(value)
            except ValueError:
                raise bad(f"invalid {name} specified") from None
        elif name in _BOOL_FIELDS:
            params[name] = value.strip().lower() in ("true", "1")
        elif name in _JSON_FIELDS:
            try:
                params[name] = json.loads(value)
            except ValueError:
                raise bad(f"can't parse {name} JSON object") from None
        else:
            params[name] = value
    return params


class Methods:
    """The Bot API surface: ``table`` maps lower-cased names (Telegram ignores case)."""

    def __init__(self, state: State, on_webhook_change: Callable[[], None]) -> None:
        self.state = state
        self.on_webhook_change = on_webhook_change
        self.closing = False  # the server is stopping: long polls answer at once
        self._poll_generation = 0
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "setMyCommands": self.set_my_commands,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "editMessageText": self.edit_message_text,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "leaveChat": self.leave_chat,
        }
        self.names = {name.lower(): name for name in handlers}
        self.table = {name.lower(): handler for name, handler in handlers.items()}

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        result = self.table[method.lower()](params)
        if isinstance(result, Awaitable):
            result = await result
        return result

    # --- shared checks ----------------------------------------------------------------------
    def _chat(self, params: dict[str, Any]) -> Chat:
        chat = self.state.chats.get(params.get("chat_id", 0))
        if chat is None:
            raise bad("chat not found" if "chat_id" in params else "chat_id is empty")
        return chat

    def _format(self, text: Any, parse_mode: Any, *, caption: bool = False) -> tuple[str, list]:
        """``parse_mode`` applied as Telegram applies it, and the length checked after."""
        text = str(text or "")
        if (parse_mode or "").lower() == "html":
            try:
                text, entities = parse_html(text)
            except HtmlError as exc:
                raise bad(f"can't parse entities: {exc}") from None
        elif parse_mode:
            raise bad("unsupported parse_mode")  # Tipline speaks HTML only
        else:
            entities = []
        text, entities = strip_text(text, entities)
        if len(text) > (MAX_CAPTION if caption else MAX_TEXT):
            raise bad("message caption is too long" if caption else "message is too long")
        return text, entities

    def _text(self, params: dict[str, Any]) -> tuple[str, list]:
        text, entities = self._format(params.get("text"), params.get("parse_mode"))
        if not text:
            raise bad("message text is empty")
        return text, entities

    @staticmethod
    def _markup(params: dict[str, Any]) -> JSON | None:
        """The inline keyboard a sent message carries, checked as Telegram checks it."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad('field "inline_keyboard" must be an Array of Arrays')
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad("can't parse inline keyboard button: Text must be a String")
            data = button.get("callback_data")
            if data is None and "url" not in button:
                raise bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise bad("BUTTON_DATA_INVALID")
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _reply_to(self, params: dict[str, Any], chat: Chat) -> JSON | None:
        """The replied-to message, one level deep (PTB quotes in groups)."""
        reply = params.get("reply_parameters") or {}
        if "message_id" not in reply:
            return None
        original = self.state.message(chat.id, int(reply["message_id"]))
        if original is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad("message to be replied not found")
        return {k: copy.deepcopy(v) for k, v in original.items() if k != "reply_to_message"}

    def _send(self, chat: Chat, params: dict[str, Any], **content: Any) -> JSON:
        if not chat.is_private and chat.members.get(self.state.bot.id) in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        message = self.state.new_message(
            chat,
            self.state.bot,
            reply_to_message=self._reply_to(params, chat),
            **content,
            reply_markup=self._markup(params),
        )
        return copy.deepcopy(message)

    # --- PTB's own calls --------------------------------------------------------------------
    def get_me(self, _params: dict[str, Any]) -> JSON:
        return {
            **self.state.bot.json,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def get_updates(self, params: dict[str, Any]) -> list[JSON]:
        """Long polling: confirm by offset, answer as soon as there is something."""
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
        limit = min(max(params.get("limit") or 100, 1), 100)
        deadline = state.clock() + max(params.get("timeout") or 0, 0)
        state.updates.confirm(params.get("offset") or 0)
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
        if not re.match(r"^https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)", url):
            raise bad("bad webhook: the fake Bot API delivers only to loopback http(s) URLs")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.state.updates.drop_pending()
        self.state.webhook = {"url": url, "secret_token": secret}
        self.on_webhook_change()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self.state.updates.drop_pending()
        self.state.webhook = None
        self.on_webhook_change()
        return True

    # --- the bot's calls --------------------------------------------------------------------
    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad('parameter "commands" is required')
        if len(commands) > 100:
            raise bad("too many commands specified")
        cleaned: list[JSON] = []
        for command in commands:
            name, description = str(command.get("command")), str(command.get("description"))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        scope = params.get("scope")
        if scope is not None and "chat_id" in scope:
            self._chat({"chat_id": int(scope["chat_id"])})
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad("invalid language code specified")
        self.state.commands[(scope_key(scope), language)] = cleaned
        return True

    def leave_chat(self, params: dict[str, Any]) -> bool:
        """The bot leaves a group or channel; Telegram then tells it so (my_chat_member)."""
        chat = self._chat(params)
        if chat.is_private:
            raise bad("chat member status can't be changed in private chats")
        bot = self.state.bot
        was = chat.members.get(bot.id, "member")
        if was in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        chat.members[bot.id] = "left"
        self.state.push_member_change(chat, bot, was, "left")
        return True

    def send_message(self, params: dict[str, Any]) -> JSON:
        chat = self._chat(params)
        text, entities = self._text(params)
        return self._send(chat, params, text=text, entities=entities or None)

    def send_photo(self, params: dict[str, Any]) -> JSON:
        chat = self._chat(params)
        upload = params.get("photo")
        if not isinstance(upload, Upload):
            # Tipline uploads every picture it shows; a file_id or URL is not simulated.
            raise bad("wrong file identifier/HTTP URL specified")
        caption, entities = self._format(
            params.get("caption"), params.get("parse_mode"), caption=True
        )
        size = image_size(upload.data)
        if size is None:
            raise bad("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(size) > 20 * min(size):
            raise bad("PHOTO_INVALID_DIMENSIONS")
        photo = self.state.store_photo(upload.data, size)
        return self._send(
            chat, params, photo=photo, caption=caption or None, caption_entities=entities or None
        )

    def edit_message_text(self, params: dict[str, Any]) -> JSON:
        chat = self._chat(params)
        message = self.state.message(chat.id, params.get("message_id") or 0)
        if message is None:
            raise bad("message to edit not found")
        if message["from"]["id"] != self.state.bot.id:
            raise bad("message can't be edited")
        if "text" not in message:
            raise bad("there is no text in the message to edit")
        text, entities = self._text(params)
        markup = self._markup(params)
        if (text, entities or None, markup) == (
            message.get("text"),
            message.get("entities"),
            message.get("reply_markup"),
        ):
            raise bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        # Like Telegram, an edit without reply_markup drops the keyboard.
        for key, value in (("text", text), ("entities", entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = self.state.now()
        self.state.notifier.notify()
        return copy.deepcopy(message)

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self.state.callback_queries.pop(query_id, None)
        if query is None:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(text) > CALLBACK_ANSWER_TEXT:
            raise bad("MESSAGE_TOO_LONG")
        answer = {
            "callback_query_id": query_id,
            "text": text,
            "show_alert": bool(params.get("show_alert")),
            "query": query,
            "time": self.state.clock(),
        }
        self.state.callback_answers.append(answer)
        self.state.notifier.notify()
        return True

    def get_file(self, params: dict[str, Any]) -> JSON:
        stored = self.state.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD:
            raise bad("file is too big")
        return stored.file


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
    extra = tuple(int(scope[k]) for k in ("chat_id", "user_id") if k in scope)
    return (scope["type"], *extra)
