"""The moderators' overview: /queue (tips waiting for a verdict) and /stats (today's figures).

Read-only, so no rule between moderators applies here; the gatekeeper has checked the role.
Every reply is in the newsroom's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from handlers.commands import reply
from handlers.context import TiplineContext
from handlers.i18n import Safe, Texts
from handlers.wording import QUEUE_STATUS_WORDS, moderator_label
from storage.tips import Submission

__all__ = ["HANDLERS", "QUEUE_LIMIT"]

#: How many waiting tips /queue lists.
QUEUE_LIMIT = 20


def _queue_line(submission: Submission, now: datetime, t: Texts) -> str:
    minutes = int((now - submission.created_at).total_seconds() // 60)
    claimed = submission.claimed_by
    parts = [
        t.ticket(submission.ticket),
        t._(QUEUE_STATUS_WORDS[submission.status]),
        t.ngettext("{n} min ago", "{n} min ago", minutes),
        t.ngettext("{n} picture", "{n} pictures", len(submission.items)),
        t.ltr(moderator_label(claimed)) if claimed else t._("not claimed"),
    ]
    return " · ".join(parts)


async def on_queue(update: Update, context: TiplineContext) -> None:
    """Tips waiting for a verdict, oldest first, with who claimed them."""
    t = context.services.newsroom_texts
    queue = await context.services.storage.review_queue(limit=QUEUE_LIMIT)
    if not queue:
        await reply(update, t._("The queue is empty: no tip is waiting for a verdict."))
        return
    now = datetime.now(UTC)
    if len(queue) < QUEUE_LIMIT:
        head = t.ngettext(
            "<b>Review queue</b>: {n} tip waiting, oldest first",
            "<b>Review queue</b>: {n} tips waiting, oldest first",
            len(queue),
        )
    else:
        head = t.ngettext(
            "<b>Review queue</b>: the {n} oldest tip waiting",
            "<b>Review queue</b>: the {n} oldest tips waiting",
            len(queue),
        )
    lines = [head, *(_queue_line(submission, now, t) for submission in queue)]
    await reply(update, "\n".join(lines))


async def on_stats(update: Update, context: TiplineContext) -> None:
    """Queue size, known items, today's tips and matches, median time to the first card."""
    t = context.services.newsroom_texts
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stats = await context.services.storage.stats(since=midnight)
    seconds = stats.median_seconds_to_card
    median = t._("{seconds} s", seconds=t.decimal(seconds)) if seconds is not None else Safe("—")
    await reply(
        update,
        "\n".join(
            [
                t._("<b>Tipline today</b> (since midnight UTC)"),
                t._("Queue: {count}", count=stats.queue),
                t._("Known items: {count}", count=stats.known_items),
                t._("Tips today: {count}", count=stats.submissions_today),
                t._("Matched today: {count}", count=stats.matches_today),
                t._("Median time to first verdict card: {median}", median=median),
            ]
        ),
    )


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler("queue", on_queue),
    CommandHandler("stats", on_stats),
]
