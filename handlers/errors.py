"""The one error handler: log first (no user data), then tell the user briefly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType

from handlers.context import TiplineContext
from handlers.i18n import resolve_language, texts_for
from handlers.tipflow import TipProcessingFailed

__all__ = ["on_error"]

log = logging.getLogger(__name__)


async def on_error(update: object, context: TiplineContext) -> None:
    """Log the failure by update id and exception type; reassure a tipster their tip is safe.

    The update itself is not logged: it holds names, ids and captions that could expose a source.
    """
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, TipProcessingFailed):
        cause = error.__cause__
        log.error(
            "tip %s: processing failed (%s); it is saved and will be retried",
            error.ticket,
            type(cause).__name__,
            exc_info=(type(cause), cause, cause.__traceback__) if cause else None,
        )
    else:
        log.error(
            "handling update %s failed: %s: %s",
            update_id,
            type(error).__name__,
            error,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE or update.effective_message is None:
        return
    try:
        user = update.effective_user
        code = user.language_code if user else None
        try:
            language = await context.services.language_of(user.id, code) if user else None
        except Exception:  # the database may be what failed: the Telegram language will do
            language = None
        t = texts_for(language or resolve_language(code, context.services.language))
        await update.effective_message.reply_text(
            t._(
                "Something went wrong on our side. If you sent a picture, it is saved and will "
                "be checked; send /status later to see it."
            )
        )
    except Exception as exc:  # the network may be what failed; never raise from here
        log.warning("could not tell the user about the failure: %s", type(exc).__name__)
