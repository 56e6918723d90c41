"""Tips arriving in a private chat: photos, image files, albums and links, forwarded or not.

A tip is written to the database before anything else happens, then acknowledged with its
ticket, then processed in the background. The same update delivered twice records nothing new.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Message, MessageOriginChannel, MessageOriginChat, Update
from telegram.ext import BaseHandler, MessageHandler, filters

from handlers.context import TiplineContext
from handlers.i18n import N_, Texts, texts_for
from handlers.linkfetch import find_urls
from handlers.services import FairUse, Services
from handlers.telegram_notifier import TELEGRAM_DOWNLOAD_LIMIT, tip_flow
from storage.errors import Conflict
from storage.tips import ItemOrigin, ItemSource, RecordedTip, SourceActivity, SubmissionDraft

__all__ = ["HANDLERS", "new_ticket", "resume", "schedule_processing"]

log = logging.getLogger(__name__)

#: Crockford-style alphabet: no 0/O, 1/I/L or U, so a ticket read aloud is not misheard.
_TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_TICKET_ATTEMPTS = 3
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif")

REFUSE_NOT_IMAGE = N_(
    "This file is not a picture, so Tipline cannot check it. Please send a photo, or an image "
    "file (JPEG, PNG, WebP, GIF, TIFF or HEIC)."
)
REFUSE_TOO_BIG = N_(
    "This file is larger than 20 MB, the most Telegram lets a bot download. Please send a "
    "smaller copy, or a link to where it is published."
)
REFUSE_NO_PICTURE = N_(
    "Please send a picture (as a photo or, to keep its metadata, as a file), an album, or a "
    "link to a picture. /help explains more."
)
REFUSE_OVER_PICTURES = N_(
    "Thank you. To keep the tip line open for everyone, it takes a limited number of pictures "
    "from one person in {window} (up to {limit}), so this was not recorded. Please send it "
    "again {when}."
)
REFUSE_ALBUM_OVER_PICTURES = N_(
    "Thank you. To keep the tip line open for everyone, it takes a limited number of pictures "
    "from one person in {window} (up to {limit}), so the pictures of this album over that "
    "limit were not recorded; those before it were. Please send the rest again {when}."
)
REFUSE_OVER_PENDING = N_(
    "Thank you. Tips of yours waiting for the moderators: {count}, the most the tip line holds "
    "from one person at a time, so this was not recorded. Please send it again once some of "
    "them have been checked; /status shows where they stand."
)
#: Albums remembered as already told they went over the limit, so one album gets one answer.
_REFUSED_ALBUMS_KEPT = 1024
REFUSE_UNSUPPORTED = N_(
    "Tipline checks pictures only, not videos, voice messages or stickers. Please send a photo "
    "or an image file."
)


async def _refuse(update: Update, context: TiplineContext, refusal: str) -> None:
    """Say, in the tipster's language, why this cannot be checked and what to send instead."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    t = await context.services.texts_of(user.id, user.language_code)
    await message.reply_text(t._(refusal))


def new_ticket() -> str:
    """A random ticket such as ``K7QM-2XTD`` (30^8, about 6.6e11 codes)."""
    code = "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def _provenance(message: Message) -> dict[str, Any] | None:
    """The forward origin, as moderators need it. A forwarding *person* is not recorded by
    name: only channels and public chats are."""
    origin = message.forward_origin
    if origin is None:
        return None
    record: dict[str, Any] = {"type": origin.type, "date": origin.date.isoformat()}
    if isinstance(origin, MessageOriginChannel):
        record["title"] = origin.chat.title
        record["username"] = origin.chat.username
        record["message_id"] = origin.message_id
    elif isinstance(origin, MessageOriginChat):
        record["title"] = origin.sender_chat.title
        record["username"] = origin.sender_chat.username
    return record


def schedule_processing(
    context: TiplineContext, submission_id: int, *, delay: float = 0.0, update: object = None
) -> None:
    """Process a submission in the background; an album waits for its last part first."""
    services = context.services
    loop = asyncio.get_running_loop()
    deadlines = services.deadlines
    deadlines[submission_id] = max(deadlines.get(submission_id, 0.0), loop.time() + delay)
    running = services.pending.get(submission_id)
    if running is not None and not running.done():
        return  # the running task waits until the (new) deadline, then processes everything
    services.pending[submission_id] = context.application.create_task(
        resume(context.bot, services, submission_id), update=update
    )


async def resume(bot: Bot, services: Services, submission_id: int) -> None:
    """Wait for the submission's deadline (an album's last part), then process it; again if
    another part arrived while it was being processed (that part moved the deadline)."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            # A debounce, not a wait for a condition: each album part moves the deadline later.
            while (wait := services.deadlines.get(submission_id, 0.0) - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            started = loop.time()
            await tip_flow(bot, services).process(submission_id)
            if services.deadlines.get(submission_id, 0.0) < started:
                break
    finally:
        services.pending.pop(submission_id, None)
        services.deadlines.pop(submission_id, None)


def _over_fair_use(
    limits: FairUse, activity: SourceActivity, draft: SubmissionDraft
) -> Callable[[Texts], str] | None:
    """Why this draft is over its source's fair use, as a reply in the reader's language;
    None if it may be recorded."""
    if limits.pending and activity.pending >= limits.pending:
        return lambda t: t._(REFUSE_OVER_PENDING, count=activity.pending)
    if limits.pictures and activity.pictures + len(draft.items) > limits.pictures:
        # The window frees up as its oldest tip leaves it.
        oldest = activity.oldest or activity.as_of
        wait = oldest + limits.window - activity.as_of
        refusal = REFUSE_ALBUM_OVER_PICTURES if draft.media_group else REFUSE_OVER_PICTURES
        return lambda t: t._(
            refusal,
            window=t.duration(limits.window),
            limit=limits.pictures,
            when=t.duration(wait, ahead=True),
        )
    return None


async def _record(services: Services, draft: SubmissionDraft) -> RecordedTip | _Refused:
    """Record the draft unless its source is over the fair-use limits. Counting
    and recording hold the source's lock: its updates arrive concurrently."""
    async with services.source_locks.hold(draft.tipster or ""):
        if services.fair_use.pictures or services.fair_use.pending:
            activity = await services.storage.activity_of(
                draft.tipster or "", services.fair_use.window, draft.media_group
            )
            refusal = _over_fair_use(services.fair_use, activity, draft)
            if refusal is not None:
                return _Refused(refusal)
        for attempt in range(_TICKET_ATTEMPTS):
            try:
                return await services.storage.record_tip(draft)
            except Conflict:  # the random ticket was taken (about 1 in 10^11): draw another
                if attempt == _TICKET_ATTEMPTS - 1:
                    raise
                draft = replace(draft, ticket=new_ticket())
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class _Refused:
    """A draft over the fair-use limits: nothing was recorded."""

    reply: Callable[[Texts], str]


def _first_refusal_of_album(services: Services, album: str | None) -> bool:
    """True unless this album was already told it went over (one answer per album)."""
    if album is None:
        return True
    if album in services.refused_albums:
        return False
    services.refused_albums[album] = None
    while len(services.refused_albums) > _REFUSED_ALBUMS_KEPT:
        del services.refused_albums[next(iter(services.refused_albums))]
    return True


async def _accept(update: Update, context: TiplineContext, sources: list[ItemSource]) -> None:
    message = update.effective_message
    user, chat = update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    services = context.services
    language = await services.language_of(user.id, user.language_code)
    draft = SubmissionDraft(
        ticket=new_ticket(),
        update_id=update.update_id,
        tipster=services.identities.pseudonym(user.id),
        sealed_chat=services.identities.seal_chat_id(chat.id),
        items=tuple(sources),
        provenance=_provenance(message),
        media_group=message.media_group_id,
        bot_id=context.bot.id,
        language=language,
    )
    recorded = await _record(services, draft)
    if isinstance(recorded, _Refused):
        log.info("a tip over its source's fair use was not recorded")
        if _first_refusal_of_album(services, draft.media_group):
            await message.reply_text(recorded.reply(texts_for(language)))
        return
    submission = recorded.submission
    if not recorded.created and not recorded.added_items:
        log.info("tip %s: update delivered again, nothing new", submission.ticket)
        return
    if recorded.created:
        log.info("tip %s received", submission.ticket)
        ticket = submission.ticket
        t = texts_for(language)
        await message.reply_text(
            t._("Received. Your ticket is {ticket}. Checking it now…", ticket=t.ticket(ticket)),
            do_quote=False,
        )
    delay = services.album_wait if submission.media_group else 0.0
    schedule_processing(context, submission.id, delay=delay, update=update)


async def on_photo(update: Update, context: TiplineContext) -> None:
    """A compressed photo: Telegram has already removed its metadata."""
    message = update.effective_message
    assert message is not None and message.photo
    largest = message.photo[-1]
    source = ItemSource(ItemOrigin.PHOTO, largest.file_id, largest.file_size, "image/jpeg")
    await _accept(update, context, [source])


def _looks_like_image(mime: str | None, name: str | None) -> bool:
    if mime and mime.startswith("image/"):
        return True
    return bool(name and name.lower().endswith(_IMAGE_EXTENSIONS))


async def on_document(update: Update, context: TiplineContext) -> None:
    """A file: the original bytes, metadata and all."""
    message = update.effective_message
    assert message is not None and message.document is not None
    document = message.document
    if not _looks_like_image(document.mime_type, document.file_name):
        await _refuse(update, context, REFUSE_NOT_IMAGE)
        return
    if document.file_size and document.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        await _refuse(update, context, REFUSE_TOO_BIG)
        return
    source = ItemSource(
        ItemOrigin.DOCUMENT, document.file_id, document.file_size, document.mime_type
    )
    await _accept(update, context, [source])


async def on_text(update: Update, context: TiplineContext) -> None:
    """Text: links to pictures are tips; anything else gets a pointer to what to send."""
    message = update.effective_message
    assert message is not None
    urls = find_urls(message.text or message.caption or "")
    if not urls:
        await _refuse(update, context, REFUSE_NO_PICTURE)
        return
    await _accept(update, context, [ItemSource(ItemOrigin.LINK, url) for url in urls])


async def on_unsupported(update: Update, context: TiplineContext) -> None:
    """Videos, voice, stickers and the like."""
    await _refuse(update, context, REFUSE_UNSUPPORTED)


_PRIVATE = filters.ChatType.PRIVATE
HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    MessageHandler(_PRIVATE & filters.PHOTO, on_photo),
    # A GIF arrives as an animation that is a document too: it is answered as a video is.
    MessageHandler(_PRIVATE & filters.Document.ALL & ~filters.ANIMATION, on_document),
    MessageHandler(_PRIVATE & filters.TEXT & ~filters.COMMAND, on_text),
    MessageHandler(
        _PRIVATE
        & (
            filters.VIDEO
            | filters.VOICE
            | filters.AUDIO
            | filters.Sticker.ALL
            | filters.VIDEO_NOTE
            | filters.ANIMATION
            | filters.LOCATION
            | filters.CONTACT
        ),
        on_unsupported,
    ),
]
