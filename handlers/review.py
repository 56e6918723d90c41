"""The moderators' side: buttons on review cards, /queue, /claim, /verdict, /note, /undo, /stats.

Roles are checked by the gatekeeper before these run. Here the rules between moderators hold:
a tip claimed by someone else is theirs to decide, a verdict in force is changed only by
undoing it first, and only its author or an admin may undo it. Every change is audited.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from checks.errors import InvalidInput
from checks.verdicts import SubmissionStatus, Verdict
from handlers.callbacks import REVIEW_PATTERN, parse_review_action
from handlers.cards import review_card, verdict_notice
from handlers.context import TiplineContext
from handlers.i18n import supported_language, texts_for
from handlers.services import Services
from handlers.telegram_notifier import review_keyboard
from handlers.tipflow import picture_views
from handlers.wording import moderator_label
from storage.errors import Conflict
from storage.tips import ReviewDraft, Role, Submission

__all__ = ["HANDLERS", "apply_verdict"]

log = logging.getLogger(__name__)


def _me(update: Update, services: Services) -> str:
    assert update.effective_user is not None
    return services.identities.pseudonym(update.effective_user.id)


async def _is_admin(update: Update, services: Services) -> bool:
    assert update.effective_user is not None
    return await services.role_of(update.effective_user.id) is Role.ADMIN


async def _reply(update: Update, text: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, disable_web_page_preview=True)


async def _find(update: Update, context: TiplineContext) -> Submission | None:
    if not context.args:
        await _reply(update, "Which tip? Give its ticket code, e.g. /claim K7QM-2XTD")
        return None
    submission = await context.services.storage.get_submission_by_ticket(context.args[0])
    if submission is None:
        await _reply(update, f"No tip has the code {escape(context.args[0])}.")
    return submission


async def _claim(services: Services, submission: Submission, me: str) -> str:
    holder = await services.storage.claim(submission.id, me)
    if holder != me:
        return f"Tip {submission.ticket} is already claimed by {moderator_label(holder)}."
    if submission.status is SubmissionStatus.NEW:
        await services.storage.set_status(submission.id, SubmissionStatus.IN_REVIEW)
    await services.storage.audit(me, "review.claim", submission.ticket)
    return f"You have claimed tip {submission.ticket}."


async def apply_verdict(
    context: TiplineContext,
    submission: Submission,
    verdict: Verdict,
    me: str,
    *,
    is_admin: bool = False,
    fact_check_url: str | None = None,
    note: str = "",
) -> str:
    """Record a verdict, teach the known-items database, tell the tipster; returns the reply."""
    services = context.services
    if submission.claimed_by and submission.claimed_by != me and not is_admin:
        return (
            f"Tip {submission.ticket} is claimed by {moderator_label(submission.claimed_by)}; "
            "only they (or an admin) can give its verdict."
        )
    if submission.verdict is not None:
        return (
            f"Tip {submission.ticket} already has a verdict ({submission.verdict.value}). "
            f"Use /undo {submission.ticket} first to change it."
        )
    try:
        review = await services.storage.record_review(
            submission.id, ReviewDraft(verdict, me, note, fact_check_url)
        )
    except Conflict as exc:
        return f"Not recorded: {exc.message}"
    await services.storage.audit(
        me,
        "review.verdict",
        submission.ticket,
        {"verdict": verdict.value, "known_items": list(review.known_item_ids)},
    )
    log.info("tip %s: verdict %s", submission.ticket, verdict.value)
    await _notify_tipster(context, submission, verdict, fact_check_url, note)
    return (
        f"Tip {submission.ticket}: <b>{verdict.value}</b>. "
        f"{len(review.known_item_ids)} known item(s) recorded; the next copy will match."
    )


async def _notify_tipster(
    context: TiplineContext,
    submission: Submission,
    verdict: Verdict,
    fact_check_url: str | None,
    note: str,
) -> None:
    services = context.services
    if not (submission.notify and submission.sealed_chat and submission.tipster):
        return
    chat_id = services.identities.open_chat_id(submission.sealed_chat)
    if chat_id is not None:
        # Their choice since the tip, else the language the tip came in.
        chosen = await services.storage.language_of(submission.tipster)
        t = texts_for(supported_language(chosen or submission.language, services.language))
        try:
            await context.bot.send_message(
                chat_id, verdict_notice(submission.ticket, verdict, fact_check_url, note, t=t)
            )
        except Forbidden:
            log.info("tip %s: the tipster has blocked the bot", submission.ticket)
    # The tip is closed: the only reason to keep the chat id is gone.
    await services.storage.drop_sealed_chat(submission.id)


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
    action = parse_review_action(query.data)
    submission = await services.storage.get_submission(action.submission_id) if action else None
    if action is None or submission is None:
        log.warning("refused a malformed or stale review button")
        await services.storage.audit(_me(update, services), "refused", "malformed button")
        await query.answer("This button is no longer valid.")
        return
    me = _me(update, services)
    if action.verdict is None:
        reply = await _claim(services, submission, me)
    else:
        admin = await _is_admin(update, services)
        reply = await apply_verdict(context, submission, action.verdict, me, is_admin=admin)
    await query.answer(_plain(reply)[:190])
    await _refresh_card(update, context, submission.id)
    if action.verdict is not None:
        await context.bot.send_message(services.moderator_chat_id, reply)


def _plain(html_text: str) -> str:
    return html_text.replace("<b>", "").replace("</b>", "")


async def on_stale_button(update: Update, context: TiplineContext) -> None:
    """Any other button: answer so the client stops waiting."""
    if update.callback_query is not None:
        await update.callback_query.answer("This button is no longer valid.")


async def on_queue(update: Update, context: TiplineContext) -> None:
    """Tips waiting for a verdict, oldest first, with who claimed them."""
    queue = await context.services.storage.review_queue(limit=20)
    if not queue:
        await _reply(update, "The queue is empty.")
        return
    now = datetime.now(UTC)
    lines = [f"<b>Review queue</b> ({len(queue)} shown, oldest first)"]
    for submission in queue:
        age = int((now - submission.created_at).total_seconds() // 60)
        lines.append(
            f"<code>{submission.ticket}</code> · {submission.status.value} · {age} min · "
            f"{len(submission.items)} picture(s) · {moderator_label(submission.claimed_by)}"
        )
    await _reply(update, "\n".join(lines))


async def on_claim(update: Update, context: TiplineContext) -> None:
    """/claim CODE"""
    submission = await _find(update, context)
    if submission is not None:
        await _reply(
            update, await _claim(context.services, submission, _me(update, context.services))
        )


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def on_verdict(update: Update, context: TiplineContext) -> None:
    """/verdict CODE VERDICT [URL] [note]"""
    args = context.args or []
    if len(args) < 2:
        await _reply(update, "Usage: /verdict CODE VERDICT [URL] [note]")
        return
    try:
        verdict = Verdict.parse(args[1])
    except InvalidInput as exc:
        await _reply(update, escape(exc.message))
        return
    submission = await _find(update, context)
    if submission is None:
        return
    rest = args[2:]
    url = rest.pop(0) if rest and _is_url(rest[0]) else None
    reply = await apply_verdict(
        context,
        submission,
        verdict,
        _me(update, context.services),
        is_admin=await _is_admin(update, context.services),
        fact_check_url=url,
        note=" ".join(rest),
    )
    await _reply(update, reply)


async def on_note(update: Update, context: TiplineContext) -> None:
    """/note CODE text"""
    submission = await _find(update, context)
    if submission is None:
        return
    text = " ".join((context.args or [])[1:]).strip()
    if not text:
        await _reply(update, "Usage: /note CODE text")
        return
    services = context.services
    await services.storage.set_note(submission.id, text[:2000])
    await services.storage.audit(_me(update, services), "review.note", submission.ticket)
    await _reply(update, f"Note saved on tip {submission.ticket}.")


async def on_undo(update: Update, context: TiplineContext) -> None:
    """/undo CODE: revert the verdict in force (its author or an admin)."""
    submission = await _find(update, context)
    if submission is None:
        return
    services = context.services
    me = _me(update, services)
    reviews = await services.storage.reviews_of(submission.id)
    current = next((r for r in reviews if r.reverted_at is None), None)
    if current is None:
        await _reply(update, f"Tip {submission.ticket} has no verdict to undo.")
        return
    if current.moderator != me and not await _is_admin(update, services):
        await _reply(update, "Only the moderator who gave this verdict, or an admin, can undo it.")
        return
    undone = await services.storage.undo_last_review(submission.id)
    if undone is None:
        await _reply(update, f"Tip {submission.ticket} has no verdict to undo.")
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
    text = f"Verdict {undone.verdict.value} on tip {submission.ticket} undone; back in review."
    if undone.kept_item_ids:
        ids = ", ".join(f"#{i}" for i in undone.kept_item_ids)
        text += (
            f" Known item {ids} was changed after this verdict (by an import or an edit), so it"
            " keeps its current verdict."
            if len(undone.kept_item_ids) == 1
            else f" Known items {ids} were changed after this verdict (by an import or an"
            " edit), so they keep their current verdicts."
        )
    await _reply(update, text)


async def on_stats(update: Update, context: TiplineContext) -> None:
    """Queue size, known items, today's tips and matches, median time to the first card."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stats = await context.services.storage.stats(since=midnight)
    median = (
        f"{stats.median_seconds_to_card:.1f} s" if stats.median_seconds_to_card is not None else "—"
    )
    await _reply(
        update,
        "\n".join(
            [
                "<b>Tipline today</b>",
                f"Queue: {stats.queue}",
                f"Known items: {stats.known_items}",
                f"Tips today: {stats.submissions_today}",
                f"Matched today: {stats.matches_today}",
                f"Median time to first verdict card: {median}",
            ]
        ),
    )


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CallbackQueryHandler(on_button, pattern=REVIEW_PATTERN),
    CallbackQueryHandler(on_stale_button),
    CommandHandler("queue", on_queue),
    CommandHandler("claim", on_claim),
    CommandHandler("verdict", on_verdict),
    CommandHandler("note", on_note),
    CommandHandler("undo", on_undo),
    CommandHandler("stats", on_stats),
]
