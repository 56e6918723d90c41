"""Tips arriving in a private chat: photos, image files, albums and links, forwarded or not.

A tip is written to the database before anything else happens, then acknowledged with its
ticket, then processed in the background. The same update delivered twice records nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Message, MessageOriginChannel, MessageOriginChat, Update
from telegram.ext import BaseHandler, MessageHandler, filters

from handlers.context import TiplineContext
from handlers.fairuse import over_fair_use
from handlers.i18n import N_, Texts, texts_for
from handlers.linkfetch import find_urls
from handlers.services import Services
from handlers.telegram_notifier import TELEGRAM_DOWNLOAD_LIMIT, TelegramNotifier, tip_flow
from storage.errors import Conflict, StorageFull
from storage.tips import ItemOrigin, ItemSource, RecordedTip, SubmissionDraft

__all__ = ["HANDLERS", "new_ticket", "resume", "schedule_processing"]

log = logging.getLogger(__name__)

_NO_TURN = contextlib.nullcontext()

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
#: Albums remembered as already told they went over the limit, so one album gets one answer.
_REFUSED_ALBUMS_KEPT = 1024
REFUSE_STORAGE_FULL = N_(
    "Tipline cannot take new tips right now: its storage is full, so nothing of this message "
    "was kept. Please send it again later. The newsroom has been told."
)
STORAGE_FULL_NOTICE = N_(
    "The database's disk is full: new tips are refused (their senders are asked to send them "
    "again later) and tips already taken wait. Free some space; Tipline goes on by itself."
)
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
    context: TiplineContext,
    submission_id: int,
    *,
    delay: float = 0.0,
    update: object = None,
    source: str | None = None,
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
        resume(context.bot, services, submission_id, source), update=update
    )


async def resume(
    bot: Bot, services: Services, submission_id: int, source: str | None = None
) -> None:
    """Wait for the submission's deadline (an album's last part), then process it; again if
    another part arrived while it was being processed (that part moved the deadline). Tips of
    one ``source`` are processed one at a time, so a source sending many cannot fill the
    worker pool's queue ahead of everyone else."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            # A debounce, not a wait for a condition: each album part moves the deadline later.
            while (wait := services.deadlines.get(submission_id, 0.0) - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            started = loop.time()
            async with services.processing_turns.hold(source) if source else _NO_TURN:
                await tip_flow(bot, services).process(submission_id)
            if services.deadlines.get(submission_id, 0.0) < started:
                break
    finally:
        services.pending.pop(submission_id, None)
        services.deadlines.pop(submission_id, None)


async def _record(services: Services, draft: SubmissionDraft) -> RecordedTip | _Refused:
    """Record the draft unless its source is over the fair-use limits. Counting
    and recording hold the source's lock: its updates arrive concurrently."""
    source, limits = draft.tipster or "", services.fair_use
    async with services.source_locks.hold(source):
        if limits.pictures or limits.pending:
            activity = await services.storage.activity_of(source, limits.window, draft.media_group)
            pictures, album = len(draft.items), draft.media_group is not None
            refusal = over_fair_use(limits, activity, pictures, album)
            if refusal is not None:
                now = asyncio.get_running_loop().time()
                services.over_limit.remember(source, activity, limits, now)
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


def _tell_refusal(services: Services, source: str, album: str | None) -> bool:
    """Whether to answer this refusal: once per album, and for single pictures once per
    quiet period per source, so a flood of refused pictures is not a flood of replies."""
    if album is not None:
        return _first_refusal_of_album(services, album)
    return services.over_limit.tell(source, asyncio.get_running_loop().time())


def _first_refusal_of_album(services: Services, album: str) -> bool:
    """True unless this album was already told it went over (one answer per album)."""
    if album in services.refused_albums:
        return False
    services.refused_albums[album] = None
    while len(services.refused_albums) > _REFUSED_ALBUMS_KEPT:
        del services.refused_albums[next(iter(services.refused_albums))]
    return True


async def _storage_full(update: Update, services: Services, language: str) -> None:
    """The tip could not be written: say so plainly (nothing was kept, send it again later),
    and tell the moderators once until a tip is recorded again."""
    message = update.effective_message
    assert message is not None
    log.error("a tip could not be recorded: the database's disk is full")
    await message.reply_text(texts_for(language)._(REFUSE_STORAGE_FULL))
    if services.storage_full_told:
        return
    services.storage_full_told = True
    try:
        await TelegramNotifier(message.get_bot(), services).post_notice(
            services.newsroom_texts._(STORAGE_FULL_NOTICE)
        )
    except Exception:  # a warning, not the tip's work
        log.warning("could not tell the moderators the database's disk is full")
        services.storage_full_told = False
    else:
        services.review_pacer.record()


async def _refused(
    update: Update,
    services: Services,
    tipster: str,
    reply: Callable[[Texts], str],
    language: str | None = None,
) -> None:
    """A tip over its source's fair use: nothing was recorded; the source is told (once per
    album, at most once a quiet period otherwise)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    log.info("a tip over its source's fair use was not recorded")
    if _tell_refusal(services, tipster, message.media_group_id):
        if language is None:
            language = await services.language_of(user.id, user.language_code)
        await message.reply_text(reply(texts_for(language)))


async def _accept(update: Update, context: TiplineContext, sources: list[ItemSource]) -> None:
    message = update.effective_message
    user, chat = update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    services = context.services
    tipster, album = services.identities.pseudonym(user.id), message.media_group_id
    # A source known to be over a limit is refused before anything is looked up or locked: a
    # flood of its pictures then costs next to nothing and delays no one else.
    known = (
        None if album else services.over_limit.recall(tipster, asyncio.get_running_loop().time())
    )
    if known is not None and (
        refusal := over_fair_use(services.fair_use, known, len(sources), False)
    ):
        await _refused(update, services, tipster, refusal)
        return
    language = await services.language_of(user.id, user.language_code)
    draft = SubmissionDraft(
        ticket=new_ticket(),
        update_id=update.update_id,
        tipster=tipster,
        sealed_chat=services.identities.seal_chat_id(chat.id),
        items=tuple(sources),
        provenance=_provenance(message),
        media_group=album,
        bot_id=context.bot.id,
        language=language,
    )
    try:
        recorded = await _record(services, draft)
    except StorageFull:
        await _storage_full(update, services, language)
        return
    services.storage_full_told = False
    if isinstance(recorded, _Refused):
        await _refused(update, services, tipster, recorded.reply, language)
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
    schedule_processing(context, submission.id, delay=delay, update=update, source=tipster)


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
