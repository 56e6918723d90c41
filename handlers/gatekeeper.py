"""The one place roles are checked, before any moderator or admin handler runs; and before
that, the one place the bot leaves chats that are not its own.

It sits in a negative handler group (order matters: it must run first) and stops handling with
``ApplicationHandlerStop`` when the caller lacks the role, so no handler needs its own check and
none can forget it. Button presses are checked too: callback data can be forged.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    TypeHandler,
)

from handlers.callbacks import REVIEW_PATTERN
from handlers.context import TiplineContext
from handlers.i18n import N_
from storage.tips import Role

__all__ = [
    "ADMIN_COMMANDS",
    "GATEKEEPER_GROUP",
    "HANDLERS",
    "MODERATOR_COMMANDS",
    "STRANGERS",
    "STRANGERS_GROUP",
]

log = logging.getLogger(__name__)

GATEKEEPER_GROUP = -1
#: Runs before the gatekeeper: nothing from a chat that is not ours goes further.
STRANGERS_GROUP = -2
_GONE = (ChatMember.LEFT, ChatMember.BANNED)
#: The moderators' command menu; descriptions are translated into the newsroom's language.
MODERATOR_COMMANDS = (
    ("queue", N_("Tips waiting for a verdict, oldest first")),
    ("claim", N_("Claim a tip: /claim CODE")),
    ("verdict", N_("/verdict CODE VERDICT [URL] [note]")),
    ("note", N_("Add a note: /note CODE text")),
    ("undo", N_("Revert the last verdict: /undo CODE")),
    ("publish", N_("Share a tip's known items with partner newsrooms: /publish CODE")),
    ("unpublish", N_("Stop sharing a tip's known items: /unpublish CODE")),
    ("stats", N_("Queue, known items and today's figures")),
)
ADMIN_COMMANDS = (
    ("mod", N_("/mod add USER_ID or /mod remove USER_ID")),
    ("mods", N_("List moderators and admins")),
)
_ADMIN_ONLY = frozenset(name for name, _ in ADMIN_COMMANDS)


async def _refuse(update: Update, context: TiplineContext, what: str) -> None:
    services = context.services
    user = update.effective_user
    actor = services.identities.pseudonym(user.id) if user else None
    log.warning("refused %s from a caller without the role", what)
    await services.storage.audit(actor, "refused", what)
    chat = update.effective_chat
    in_newsroom = chat is not None and chat.id == services.moderator_chat_id
    # In the moderators' chat everyone reads the newsroom's language; elsewhere, their own.
    if in_newsroom or user is None:
        t = services.newsroom_texts
    else:
        t = await services.texts_of(user.id, user.language_code)
    if update.callback_query is not None:
        await update.callback_query.answer(t.plain._("Only the newsroom's moderators can do that."))
    elif update.effective_message is not None:
        await update.effective_message.reply_text(
            t._("This command is for the newsroom's moderators.")
        )
    raise ApplicationHandlerStop


async def gate_command(update: Update, context: TiplineContext) -> None:
    """Let moderators (and admins) through; admin commands need an admin."""
    message, user = update.effective_message, update.effective_user
    command = (message.text or "").split()[0].lstrip("/").split("@")[0] if message else "?"
    role = await context.services.role_of(user.id) if user else None
    if role is Role.ADMIN or (role is Role.MODERATOR and command not in _ADMIN_ONLY):
        return
    await _refuse(update, context, f"/{command}")


async def gate_button(update: Update, context: TiplineContext) -> None:
    """Review buttons are for moderators only, whoever's client sent the press."""
    user = update.effective_user
    role = await context.services.role_of(user.id) if user else None
    if role is not None:
        return
    await _refuse(update, context, "review button")


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler([n for n, _ in MODERATOR_COMMANDS + ADMIN_COMMANDS], gate_command),
    CallbackQueryHandler(gate_button, pattern=REVIEW_PATTERN),
]


async def leave_strangers(update: Update, context: TiplineContext) -> None:
    """Leave any group or channel other than the moderators' chat, saying nothing.

    Someone may add the bot to a public group: tips come in private chats only, and the
    moderators' commands and cards belong in their chat alone (a moderator's /queue in another
    group would show tips to strangers). Nothing from such a chat is handled or recorded.
    """
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    if chat.id == context.services.moderator_chat_id:
        return
    change = update.my_chat_member
    still_in = change is None or change.new_chat_member.status not in _GONE
    if still_in:
        log.warning("left a %s that is not the moderators' chat", chat.type)
        try:
            await context.bot.leave_chat(chat.id)
        except TelegramError as exc:  # already gone, or never quite there: nothing to leave
            log.info("could not leave a %s: %s", chat.type, exc.message)
    raise ApplicationHandlerStop


STRANGERS: list[BaseHandler[Update, TiplineContext, Any]] = [TypeHandler(Update, leave_strangers)]
