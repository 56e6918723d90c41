"""The moderators' decisions: buttons on review cards, /claim, /verdict, /note, /undo.

Roles are checked by the gatekeeper before these run. Here the rules between moderators hold:
a tip claimed by someone else is theirs to decide, a verdict in force is changed only by
undoing it first, and only its author or an admin may undo it. Every change is audited.

Every reply is in the newsroom's language. Words a moderator types back (verdict names, ticket
codes, commands) are shown as they are typed, in every language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from checks.errors import InvalidInput
from checks.verdicts import SubmissionStatus, Verdict
from handlers.callbacks import REVIEW_PATTERN, parse_review_action
from handlers.cards import review_card, verdict_notice
from handlers.commands import find_tip, moderator, reply
from handlers.context import TiplineContext
from handlers.corrections import opinion_targets
from handlers.i18n import Safe, Texts, supported_language, texts_for
from handlers.services import Services
from handlers.telegram_notifier import review_keyboard
from handlers.tipflow import picture_views
from handlers.wording import moderator_label
from storage.errors import Conflict
from storage.tips import ReviewDraft, Role, Submission, Told

__all__ = ["HANDLERS", "Reply", "apply_verdict"]

log = logging.getLogger(__name__)

#: A reply written once its reader's :class:`Texts` is known: a button's answer is plain text,
#: the same reply in the chat is HTML.
Reply = Callable[[Texts], str]
#: The tags messages themselves carry (values in plain text are never HTML).
_EMPHASIS = re.compile(r"</?(?:b|i|code)>")


async def _is_admin(update: Update, services: Services) -> bool:
    assert update.effective_user is not None
    return await services.role_of(update.effective_user.id) is Role.ADMIN


def _verdict_name(verdict: Verdict | str, t: Texts) -> Safe:
    """A verdict as moderators type it (``misattributed``), in every language."""
    return t.ltr(verdict.value if isinstance(verdict, Verdict) else verdict)


def _verdict_names(t: Texts) -> Safe:
    return Safe(", ".join(_verdict_name(v, t) for v in Verdict))


async def _claim(services: Services, submission: Submission, me: str) -> Reply:
    holder = await services.storage.claim(submission.id, me)
    ticket = submission.ticket
    if holder != me:
        return lambda t: t._(
            "Tip {ticket} is already claimed by {moderator}.",
            ticket=t.ticket(ticket),
            moderator=t.ltr(moderator_label(holder)),
        )
    if submission.status is SubmissionStatus.NEW:
        await services.storage.set_status(submission.id, SubmissionStatus.IN_REVIEW)
    await services.storage.audit(me, "review.claim", ticket)
    return lambda t: t._("You have claimed tip {ticket}.", ticket=t.ticket(ticket))


async def apply_verdict(
    context: TiplineContext,
    submission: Submission,
    verdict: Verdict,
    me: str,
    *,
    is_admin: bool = False,
    fact_check_url: str | None = None,
    note: str = "",
) -> Reply:
    """Record a verdict, teach the known-items database, tell the tipster; returns the reply."""
    services = context.services
    ticket = submission.ticket
    if submission.claimed_by and submission.claimed_by != me and not is_admin:
        holder = moderator_label(submission.claimed_by)
        return lambda t: t._(
            "Tip {ticket} is claimed by {moderator}; only they (or an admin) can give its verdict.",
            ticket=t.ticket(ticket),
            moderator=t.ltr(holder),
        )
    if submission.verdict is not None:
        given = submission.verdict
        return lambda t: t._(
            "Tip {ticket} already has a verdict ({verdict}). Use {command} first to change it.",
            ticket=t.ticket(ticket),
            verdict=_verdict_name(given, t),
            command=t.ltr(f"/undo {ticket}"),
        )
    about = opinion_targets(picture_views(submission))
    try:
        review = await services.storage.record_review(
            submission.id, ReviewDraft(verdict, me, note, fact_check_url, about=about)
        )
    except Conflict:
        # Another verdict on this tip, or on the same picture, came at the same moment.
        return lambda t: t._(
            "Not recorded: another verdict on tip {ticket} or on the same picture came at the "
            "same moment. Look at the tip again, then try again.",
            ticket=t.ticket(ticket),
        )
    await services.storage.audit(
        me,
        "review.verdict",
        ticket,
        {"verdict": verdict.value, "known_items": list(review.known_item_ids)},
    )
    log.info("tip %s: verdict %s", ticket, verdict.value)
    if await _notify_tipster(context, submission, verdict, fact_check_url, note):
        told = [Told(item_id, verdict) for item_id in review.known_item_ids]
        await services.storage.record_answer(submission.id, told)
    taught = len(review.known_item_ids)

    def answer(t: Texts) -> str:
        text = t.ngettext(
            "Tip {ticket}: <b>{verdict}</b>. {n} known item recorded; the next copy will match.",
            "Tip {ticket}: <b>{verdict}</b>. {n} known items recorded; the next copy will match.",
            taught,
            ticket=t.ticket(ticket),
            verdict=_verdict_name(verdict, t),
        )
        if not about:
            return text
        command = t.ltr(f"/publish {ticket}")
        return (
            text
            + " "
            + t._(
                "It is also this newsroom's word on a partner newsroom's item; {command} tells "
                "partner newsrooms.",
                command=command,
            )
        )

    return answer


async def _notify_tipster(
    context: TiplineContext,
    submission: Submission,
    verdict: Verdict,
    fact_check_url: str | None,
    note: str,
) -> bool:
    """Tell the tipster the verdict; False if they cannot be told (no chat link, /forget,
    notices off). The chat link stays until the retention period ends, so that a correction
    can reach them if the verdict changes (:mod:`handlers.corrections`)."""
    services = context.services
    if not (submission.notify and submission.sealed_chat and submission.tipster):
        return False
    chat_id = services.identities.open_chat_id(submission.sealed_chat)
    if chat_id is None:
        return False
    # Their choice since the tip, else the language the tip came in.
    chosen = await services.storage.language_of(submission.tipster)
    t = texts_for(supported_language(chosen or submission.language, services.language))
    try:
        await context.bot.send_message(
            chat_id, verdict_notice(submission.ticket, verdict, fact_check_url, note, t=t)
        )
    except Forbidden:
        log.info("tip %s: the tipster has blocked the bot", submission.ticket)
        return False
    return True


async def _refresh_card(update: Update, context: TiplineContext, submission_id: int) -> None:
    """Show the card's new state (claimed, reviewed) where the button was pressed."""
    query = update.callback_query
    services = context.services
    submission = await services.storage.get_submission(submission_id)
    if query is None or submission is None or query.message is None:
        return
    views = picture_views(submission)
    status = submission.status.value
    if submission.verdict is not None:
        status = f"{status}: {submission.verdict.value}"
    t = services.newsroom_texts
    text = review_card(
        submission.ticket,
        views,
        t=t,
        tipster_language=submission.language,
        claimed_by=moderator_label(submission.claimed_by) if submission.claimed_by else None,
        note=submission.note,
        status=status,
    )
    markup = None if submission.verdict is not None else review_keyboard(submission.id, t)
    try:
        await query.edit_message_text(text, reply_markup=markup, disable_web_page_preview=True)
    except BadRequest as exc:  # "message is not modified" is fine; anything else is logged
        if "not modified" not in str(exc).lower():
            log.warning("could not update a review card: %s", exc)


async def on_button(update: Update, context: TiplineContext) -> None:
    """A press on a review card's button."""
    query = update.callback_query
    assert query is not None
    services = context.services
    t = services.newsroom_texts
    action = parse_review_action(query.data)
    submission = await services.storage.get_submission(action.submission_id) if action else None
    if action is None or submission is None:
        log.warning("refused a malformed or stale review button")
        await services.storage.audit(moderator(update, services), "refused", "malformed button")
        await query.answer(t.plain._("This button is no longer valid."))
        return
    me = moderator(update, services)
    if action.verdict is None:
        reply = await _claim(services, submission, me)
    else:
        admin = await _is_admin(update, services)
        reply = await apply_verdict(context, submission, action.verdict, me, is_admin=admin)
    await query.answer(_without_tags(reply(t.plain))[:190])
    await _refresh_card(update, context, submission.id)
    if action.verdict is not None:
        await context.bot.send_message(services.moderator_chat_id, reply(t))


def _without_tags(text: str) -> str:
    """A message's own emphasis, dropped where Telegram shows plain text (a button's answer)."""
    return _EMPHASIS.sub("", text)


async def on_stale_button(update: Update, context: TiplineContext) -> None:
    """Any other button: answer so the client stops waiting."""
    if update.callback_query is not None:
        t = context.services.newsroom_texts
        await update.callback_query.answer(t.plain._("This button is no longer valid."))


async def on_claim(update: Update, context: TiplineContext) -> None:
    """/claim CODE"""
    submission = await find_tip(update, context, "claim")
    if submission is not None:
        services = context.services
        answer = await _claim(services, submission, moderator(update, services))
        await reply(update, answer(services.newsroom_texts))


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def on_verdict(update: Update, context: TiplineContext) -> None:
    """/verdict CODE VERDICT [URL] [note]"""
    services = context.services
    t = services.newsroom_texts
    args = context.args or []
    if len(args) < 2:
        await reply(
            update,
            "\n".join(
                [
                    t._("Usage: /verdict CODE VERDICT [URL] [note]"),
                    t._("Verdicts: {verdicts}", verdicts=_verdict_names(t)),
                ]
            ),
        )
        return
    try:
        verdict = Verdict.parse(args[1])
    except InvalidInput:
        await reply(
            update,
            t._(
                "{word} is not a verdict. Use one of: {verdicts}",
                word=args[1],
                verdicts=_verdict_names(t),
            ),
        )
        return
    submission = await find_tip(update, context, "verdict")
    if submission is None:
        return
    rest = args[2:]
    url = rest.pop(0) if rest and _is_url(rest[0]) else None
    answer = await apply_verdict(
        context,
        submission,
        verdict,
        moderator(update, services),
        is_admin=await _is_admin(update, services),
        fact_check_url=url,
        note=" ".join(rest),
    )
    await reply(update, answer(t))


async def on_note(update: Update, context: TiplineContext) -> None:
    """/note CODE text"""
    submission = await find_tip(update, context, "note")
    if submission is None:
        return
    services = context.services
    t = services.newsroom_texts
    text = " ".join((context.args or [])[1:]).strip()
    if not text:
        await reply(update, t._("Usage: /note CODE text"))
        return
    await services.storage.set_note(submission.id, text[:2000])
    await services.storage.audit(moderator(update, services), "review.note", submission.ticket)
    await reply(update, t._("Note saved on tip {ticket}.", ticket=t.ticket(submission.ticket)))


async def on_undo(update: Update, context: TiplineContext) -> None:
    """/undo CODE: revert the verdict in force (its author or an admin)."""
    submission = await find_tip(update, context, "undo")
    if submission is None:
        return
    services = context.services
    t = services.newsroom_texts
    ticket = t.ticket(submission.ticket)
    me = moderator(update, services)
    reviews = await services.storage.reviews_of(submission.id)
    current = next((r for r in reviews if r.reverted_at is None), None)
    if current is None:
        await reply(update, t._("Tip {ticket} has no verdict to undo.", ticket=ticket))
        return
    if current.moderator != me and not await _is_admin(update, services):
        await reply(
            update, t._("Only the moderator who gave this verdict, or an admin, can undo it.")
        )
        return
    undone = await services.storage.undo_last_review(submission.id)
    if undone is None:
        await reply(update, t._("Tip {ticket} has no verdict to undo.", ticket=ticket))
        return
    await services.storage.audit(
        me,
        "review.undo",
        submission.ticket,
        {
            "verdict": undone.verdict.value,
            "known_items": list(undone.known_item_ids),
            "kept": list(undone.kept_item_ids),
        },
    )
    lines = [
        t._(
            "Verdict {verdict} on tip {ticket} undone; the tip is back in review.",
            verdict=_verdict_name(undone.verdict, t),
            ticket=ticket,
        )
    ]
    kept = undone.kept_item_ids
    if kept:
        ids = t.ltr(", ".join(f"#{i}" for i in kept))
        # Two messages, not plural forms: the subject is a list, whatever its length.
        lines.append(
            t._(
                "Known item {ids} was changed after this verdict (by an import or an edit), "
                "so it keeps its current verdict.",
                ids=ids,
            )
            if len(kept) == 1
            else t._(
                "Known items {ids} were changed after this verdict (by an import or an edit), "
                "so they keep their current verdicts.",
                ids=ids,
            )
        )
    await reply(update, " ".join(lines))


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CallbackQueryHandler(on_button, pattern=REVIEW_PATTERN),
    CallbackQueryHandler(on_stale_button),
    CommandHandler("claim", on_claim),
    CommandHandler("verdict", on_verdict),
    CommandHandler("note", on_note),
    CommandHandler("undo", on_undo),
]
