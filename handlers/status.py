"""What a tipster can ask: /start, /help, /privacy, /status and /forget."""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from handlers.context import TiplineContext
from storage.tips import Submission

__all__ = ["HANDLERS", "TIPSTER_COMMANDS"]

log = logging.getLogger(__name__)

TIPSTER_COMMANDS = (
    ("start", "What this bot does"),
    ("help", "What to send and how"),
    ("status", "Your tickets, or one ticket: /status CODE"),
    ("privacy", "What is kept about you, and for how long"),
    ("forget", "Unlink all your tickets from you"),
)

_STATUS_WORDS = {
    "received": "received, being checked",
    "new": "new: waiting for a reviewer",
    "in_review": "a reviewer is on it",
    "matched": "matched a known picture",
    "reviewed": "reviewed",
    "failed": "could not be checked",
}


def help_text() -> str:
    return (
        "<b>Tipline</b> checks pictures for the newsroom.\n\n"
        "Send a picture and you get, within seconds, whether we have seen it before "
        "(debunked or verified), what its metadata reveals, and a ticket to follow it.\n\n"
        "• Send it <b>as a file</b> (📎 → File) to keep its metadata (camera, date, place): "
        "a compressed photo loses it.\n"
        "• Albums and links to pictures work too; so does forwarding from a channel.\n"
        "• /status lists your tickets; /status CODE shows one.\n\n"
        "<b>Privacy, in short:</b> we never store your Telegram name or id; a file you send may "
        "reveal where it was taken, and we will warn you. /privacy has the details."
    )


def privacy_text(retention_days: int) -> str:
    return (
        "<b>What Tipline keeps</b>\n"
        "• Your pictures and what we found in them, to check them and recognise copies.\n"
        "• A pseudonym (a keyed code computed from your account) that links your tickets, so "
        "/status works. Your Telegram id, name and username are never stored.\n"
        "• Your chat id, encrypted, only so we can tell you the verdict; it is deleted when "
        f"your tip is reviewed, or after {retention_days} days.\n\n"
        "<b>What you should know</b>\n"
        "• Telegram chats with bots are <b>not end-to-end encrypted</b>: Telegram can read "
        "them. If that is a risk for you, talk to the newsroom through a safer channel.\n"
        "• Pictures sent as files keep their metadata, which can reveal the phone and place.\n\n"
        "/forget removes every link between you and your tickets. Your pictures stay with the "
        "newsroom, but no longer lead back to you, and you will not be notified of verdicts."
    )


async def on_start(update: Update, context: TiplineContext) -> None:
    """Welcome and explain."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(help_text())


async def on_privacy(update: Update, context: TiplineContext) -> None:
    """Say plainly what is kept."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(privacy_text(context.services.retention_days))


def _ticket_line(submission: Submission) -> str:
    state = _STATUS_WORDS.get(submission.status.value, submission.status.value)
    if submission.verdict is not None:
        state = f"{state}: {submission.verdict.value}"
    when = submission.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<code>{escape(submission.ticket)}</code> — {escape(state)} ({when})"


async def on_status(update: Update, context: TiplineContext) -> None:
    """List the caller's tickets, or show one to its tipster or a moderator."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    me = services.identities.pseudonym(user.id)
    if context.args:
        submission = await services.storage.get_submission_by_ticket(context.args[0])
        allowed = submission is not None and (
            submission.tipster == me or await services.role_of(user.id) is not None
        )
        if submission is None or not allowed:
            # The same answer either way: a ticket code must not confirm that a tip exists.
            await message.reply_text("No ticket of yours has that code.")
            return
        await message.reply_text(_ticket_line(submission))
        return
    mine = await services.storage.submissions_of(me, limit=10)
    if not mine:
        await message.reply_text("You have no tickets. Send a picture to start one.")
        return
    lines = ["<b>Your recent tickets</b>", *(_ticket_line(s) for s in mine)]
    await message.reply_text("\n".join(lines))


async def on_forget(update: Update, context: TiplineContext) -> None:
    """Cut every link between the caller and their tickets."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    me = services.identities.pseudonym(user.id)
    count = await services.storage.forget_tipster(me)
    await services.storage.audit(None, "tipster.forget", None, {"tickets": count})
    await message.reply_text(
        f"Done. {count} ticket(s) are no longer linked to you, and we will not message you "
        "about them. Your pictures stay with the newsroom without any link to you."
    )


_PRIVATE = filters.ChatType.PRIVATE
HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler(["start", "help"], on_start, filters=_PRIVATE),
    CommandHandler("privacy", on_privacy, filters=_PRIVATE),
    CommandHandler("status", on_status),
    CommandHandler("forget", on_forget, filters=_PRIVATE),
]
