"""/publish and /unpublish: a moderator decides what of a tip enters the newsroom's feed.

A hash in a feed tells anyone holding the picture that this newsroom has it, and for a
smuggled photo that can point at its source: so the known items a verdict made from a tip are
published only by this command, never as a side effect. /unpublish takes them out again and
partners receive a tombstone. Roles are checked by the gatekeeper; both are audited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from checks.errors import InvalidInput
from handlers.commands import find_tip, moderator, reply
from handlers.context import TiplineContext
from storage.errors import NotFound

__all__ = ["HANDLERS"]

log = logging.getLogger(__name__)


async def _decide(
    decide: Callable[[int, str], Awaitable[bool]],
    item_ids: Iterable[int],
    me: str,
    ticket: str,
    done: str,
) -> list[int]:
    """The items that ``decide`` (publish or unpublish) changed; one that cannot be (a
    partner's, or gone) is logged and skipped."""
    changed = []
    for item_id in item_ids:
        try:
            if await decide(item_id, me):
                changed.append(item_id)
        except (NotFound, InvalidInput):
            log.info("tip %s: known item %d cannot be %s", ticket, item_id, done)
    return changed


async def on_publish(update: Update, context: TiplineContext) -> None:
    """/publish CODE: the known items of the tip's verdict in force enter the feed."""
    submission = await find_tip(update, context, "publish")
    if submission is None:
        return
    services = context.services
    t = services.newsroom_texts
    ticket = t.ticket(submission.ticket)
    reviews = await services.storage.reviews_of(submission.id)
    current = next((r for r in reviews if r.reverted_at is None), None)
    if current is None or not current.known_item_ids:
        await reply(update, t._("Tip {ticket} has no verdict in force to publish.", ticket=ticket))
        return
    me = moderator(update, services)
    published = await _decide(
        services.storage.publish, current.known_item_ids, me, submission.ticket, "published"
    )
    await services.storage.audit(
        me, "exchange.publish", submission.ticket, {"known_items": published}
    )
    await reply(
        update,
        t.ngettext(
            "Tip {ticket}: {n} known item is now in the newsroom's feed for partner newsrooms "
            "(its hashes and verdict, never the picture).",
            "Tip {ticket}: {n} known items are now in the newsroom's feed for partner "
            "newsrooms (their hashes and verdicts, never the pictures).",
            len(published),
            ticket=ticket,
        ),
    )


async def on_unpublish(update: Update, context: TiplineContext) -> None:
    """/unpublish CODE: the tip's known items leave the feed; partners get tombstones."""
    submission = await find_tip(update, context, "unpublish")
    if submission is None:
        return
    services = context.services
    t = services.newsroom_texts
    me = moderator(update, services)
    item_ids = sorted(
        {
            i
            for review in await services.storage.reviews_of(submission.id)
            for i in review.known_item_ids
        }
    )
    withdrawn = await _decide(
        services.storage.unpublish, item_ids, me, submission.ticket, "withdrawn"
    )
    await services.storage.audit(
        me, "exchange.unpublish", submission.ticket, {"known_items": withdrawn}
    )
    await reply(
        update,
        t.ngettext(
            "Tip {ticket}: {n} known item taken out of the newsroom's feed; partner newsrooms "
            "are told to drop it.",
            "Tip {ticket}: {n} known items taken out of the newsroom's feed; partner newsrooms "
            "are told to drop them.",
            len(withdrawn),
            ticket=t.ticket(submission.ticket),
        ),
    )


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler("publish", on_publish),
    CommandHandler("unpublish", on_unpublish),
]
