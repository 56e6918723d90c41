"""What the moderators' commands share: a reply in the chat, who is asking (as a pseudonym),
and the tip a command names by its ticket code."""

from __future__ import annotations

from telegram import Update

from handlers.context import TiplineContext
from handlers.services import Services
from storage.tips import Submission

__all__ = ["find_tip", "moderator", "reply"]


async def reply(update: Update, text: str) -> None:
    """Answer in the chat the command came from (links stay links, without previews)."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, disable_web_page_preview=True)


def moderator(update: Update, services: Services) -> str:
    """The pseudonym of whoever sent the update: a Telegram id is never kept."""
    assert update.effective_user is not None
    return services.identities.pseudonym(update.effective_user.id)


async def find_tip(update: Update, context: TiplineContext, command: str) -> Submission | None:
    """The tip named by the command's argument, or None once the moderator has been told why
    not (no code given, or no tip has it)."""
    t = context.services.newsroom_texts
    if not context.args:
        example = t.ltr(f"/{command} K7QM-2XTD")
        await reply(update, t._("Which tip? Give its ticket code, e.g. {example}", example=example))
        return None
    submission = await context.services.storage.get_submission_by_ticket(context.args[0])
    if submission is None:
        await reply(update, t._("No tip has the code {code}.", code=context.args[0]))
    return submission
