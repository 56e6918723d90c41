"""What a tipster can ask: /start, /help, /privacy, /status, /forget and /language.

Every reply is in the tipster's language (see :meth:`handlers.services.Services.language_of`),
except /status asked in the moderators' chat, which is answered in the newsroom's.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from handlers.callbacks import LANGUAGE_PATTERN, language_data, parse_language
from handlers.context import TiplineContext
from handlers.i18n import LANGUAGES, N_, Texts, texts_for
from handlers.wording import STATUS_WORDS, VERDICT_WORDS
from storage.tips import Submission

__all__ = ["HANDLERS", "TIPSTER_COMMANDS", "help_text", "privacy_text", "tipster_commands"]

log = logging.getLogger(__name__)

#: The command menu of private chats; descriptions are translated per language.
TIPSTER_COMMANDS = (
    ("start", N_("What this bot does")),
    ("help", N_("What to send and how")),
    ("status", N_("Your tickets, or one ticket: /status CODE")),
    ("privacy", N_("What is kept about you, and for how long")),
    ("forget", N_("Unlink all your tickets from you")),
    ("language", N_("Choose the language I write in")),
)


def tipster_commands(t: Texts) -> list[BotCommand]:
    """The private chats' command menu in ``t``'s language."""
    return [BotCommand(name, t.plain._(text)) for name, text in TIPSTER_COMMANDS]


def help_text(t: Texts) -> str:
    return "\n".join(
        [
            t._("<b>Tipline</b> checks pictures for the newsroom."),
            "",
            t._(
                "Send a picture and you get, within seconds, whether we have seen it before "
                "(debunked or verified), what its metadata reveals, and a ticket to follow it."
            ),
            "",
            t._(
                "• Send it <b>as a file</b> (📎 → File) to keep its metadata (camera, date, "
                "place): a compressed photo loses it."
            ),
            t._("• Albums and links to pictures work too; so does forwarding from a channel."),
            t._("• /status lists your tickets; /status CODE shows one."),
            t._("• /language changes the language I write in."),
            "",
            t._(
                "<b>Privacy, in short:</b> we never store your Telegram name or id; a file you "
                "send may reveal where it was taken, and we will warn you. /privacy has the "
                "details."
            ),
        ]
    )


def privacy_text(t: Texts, retention_days: int) -> str:
    return "\n".join(
        [
            t._("<b>What Tipline keeps</b>"),
            t._("• Your pictures and what we found in them, to check them and recognise copies."),
            t._(
                "• A pseudonym (a keyed code computed from your account) that links your "
                "tickets, so /status works. Your Telegram id, name and username are never "
                "stored."
            ),
            t.ngettext(
                "• Your chat id, encrypted, only so we can tell you the verdict and correct it "
                "if it changes; it is deleted after {n} day, or at once with /forget.",
                "• Your chat id, encrypted, only so we can tell you the verdict and correct it "
                "if it changes; it is deleted after {n} days, or at once with /forget.",
                retention_days,
            ),
            t._(
                "• The language you chose with /language, if you chose one, by the same pseudonym."
            ),
            "",
            t._("<b>What you should know</b>"),
            t._(
                "• Telegram chats with bots are <b>not end-to-end encrypted</b>: Telegram can "
                "read them. If that is a risk for you, talk to the newsroom through a safer "
                "channel."
            ),
            t._(
                "• Pictures sent as files keep their metadata, which can reveal the phone and "
                "place."
            ),
            t._(
                "• Your pictures are never shared. The newsroom may share a picture's "
                "fingerprint (a code computed from it, not the picture) and its verdict with "
                "partner newsrooms, but only when a moderator decides to publish it."
            ),
            "",
            t._(
                "/forget removes every link between you and your tickets, and your language "
                "choice. Your pictures stay with the newsroom, but no longer lead back to you, "
                "and you will not be notified of verdicts."
            ),
        ]
    )


async def _texts(update: Update, context: TiplineContext) -> Texts:
    user = update.effective_user
    assert user is not None
    return await context.services.texts_of(user.id, user.language_code)


async def on_start(update: Update, context: TiplineContext) -> None:
    """Welcome and explain."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(help_text(await _texts(update, context)))


async def on_privacy(update: Update, context: TiplineContext) -> None:
    """Say plainly what is kept."""
    assert update.effective_message is not None
    t = await _texts(update, context)
    await update.effective_message.reply_text(privacy_text(t, context.services.retention_days))


def _ticket_line(submission: Submission, t: Texts) -> str:
    state = t._(STATUS_WORDS[submission.status])
    if submission.verdict is not None:
        state = t._(
            "{state}: {verdict}", state=state, verdict=t._(VERDICT_WORDS[submission.verdict])
        )
    when = t.ltr(submission.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    return t._(
        "{ticket} — {state} ({when})", ticket=t.ticket(submission.ticket), state=state, when=when
    )


async def on_status(update: Update, context: TiplineContext) -> None:
    """List the caller's tickets, or show one to its tipster or a moderator."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    me = services.identities.pseudonym(user.id)
    chat = update.effective_chat
    if chat is not None and chat.id == services.moderator_chat_id:
        t = services.newsroom_texts  # asked in the moderators' chat: the newsroom's language
    else:
        t = await _texts(update, context)
    if context.args:
        submission = await services.storage.get_submission_by_ticket(context.args[0])
        allowed = submission is not None and (
            submission.tipster == me or await services.role_of(user.id) is not None
        )
        if submission is None or not allowed:
            # The same answer either way: a ticket code must not confirm that a tip exists.
            await message.reply_text(t._("No ticket of yours has that code."))
            return
        await message.reply_text(_ticket_line(submission, t))
        return
    mine = await services.storage.submissions_of(me, limit=10)
    if not mine:
        await message.reply_text(t._("You have no tickets. Send a picture to start one."))
        return
    lines = [t._("<b>Your recent tickets</b>"), *(_ticket_line(s, t) for s in mine)]
    await message.reply_text("\n".join(lines))


async def on_forget(update: Update, context: TiplineContext) -> None:
    """Cut every link between the caller and their tickets."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    me = services.identities.pseudonym(user.id)
    t = await _texts(update, context)  # before the choice of language is forgotten
    count = await services.storage.forget_tipster(me)
    await services.storage.audit(None, "tipster.forget", None, {"tickets": count})
    await message.reply_text(
        t.ngettext(
            "Done. {n} ticket is no longer linked to you, and we will not message you about "
            "it. Your pictures stay with the newsroom without any link to you.",
            "Done. {n} tickets are no longer linked to you, and we will not message you about "
            "them. Your pictures stay with the newsroom without any link to you.",
            count,
        )
    )


def _language_keyboard() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(language.native, callback_data=language_data(code))
        for code, language in LANGUAGES.items()
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def on_language(update: Update, context: TiplineContext) -> None:
    """Offer the languages Tipline speaks, as buttons."""
    message = update.effective_message
    assert message is not None
    t = await _texts(update, context)
    await message.reply_text(
        t._("Choose the language I write to you in:"), reply_markup=_language_keyboard()
    )


async def on_language_button(update: Update, context: TiplineContext) -> None:
    """Remember the chosen language by pseudonym, and answer in it."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    code = parse_language(query.data, LANGUAGES)
    if code is None:
        await query.answer()
        return
    services = context.services
    await services.storage.set_language(services.identities.pseudonym(user.id), code)
    t = texts_for(code)
    await query.answer(t.plain._("Done: I will write to you in this language from now on."))
    if query.message is not None:
        await query.edit_message_text(
            t._("Done: I will write to you in this language from now on.")
        )
    try:  # this chat's command menu in the chosen language too
        await context.bot.set_my_commands(tipster_commands(t), scope=BotCommandScopeChat(user.id))
    except TelegramError as exc:
        log.info("could not set a chat's command menu: %s", type(exc).__name__)


_PRIVATE = filters.ChatType.PRIVATE
HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler(["start", "help"], on_start, filters=_PRIVATE),
    CommandHandler("privacy", on_privacy, filters=_PRIVATE),
    CommandHandler("status", on_status),
    CommandHandler("forget", on_forget, filters=_PRIVATE),
    CommandHandler("language", on_language, filters=_PRIVATE),
    CallbackQueryHandler(on_language_button, pattern=LANGUAGE_PATTERN),
]
