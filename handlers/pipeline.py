"""The path of one tip after it is recorded: fetch, analyse, look up, answer, queue for review.

Every step is saved before the next begins, so this can be run again for any submission at any
time (after a crash, say): finished items are not analysed twice, and the tipster's card and the
moderators' card are each sent once, recorded in the database after they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from checks.errors import InvalidInput, TiplineError
from checks.findings import Severity
from checks.matching import MatchKind, overall_verdict
from checks.verdicts import SubmissionStatus, Verdict
from handlers.callbacks import claim_data, verdict_data
from handlers.cards import (
    FindingView,
    KnownMatchView,
    PictureView,
    Provenance,
    review_caption,
    review_card,
    tipster_card,
)
from handlers.errors import TipProcessingFailed
from handlers.services import Services
from storage.tips import ItemOrigin, ItemSource, ItemStatus, Submission, SubmissionItem

__all__ = ["TELEGRAM_DOWNLOAD_LIMIT", "picture_views", "process_submission", "review_keyboard"]

log = logging.getLogger(__name__)

#: How long a tip stays an instance's after it last said it is still working on it. The lease
#: is renewed every third of this while the tip is processed, however long that takes, so it
#: only has to outlast a pause: a lease left by an instance that died expires after this, and
#: another instance resumes the tip at its next maintenance pass.
LEASE_SECONDS = 60.0
#: The Bot API refuses getFile above 20 MB.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

_REVIEW_BUTTONS = (
    (Verdict.AUTHENTIC, "✅ Authentic"),
    (Verdict.MISATTRIBUTED, "📍 Misattributed"),
    (Verdict.EDITED, "✂️ Edited"),
    (Verdict.SYNTHETIC, "🤖 Synthetic"),
    (Verdict.INCONCLUSIVE, "❔ Inconclusive"),
)


def review_keyboard(submission_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text, callback_data=verdict_data(submission_id, verdict))
        for verdict, text in _REVIEW_BUTTONS
    ]
    buttons.append(InlineKeyboardButton("🙋 Claim", callback_data=claim_data(submission_id)))
    return InlineKeyboardMarkup([buttons[:3], buttons[3:]])


async def _download(bot: Bot, services: Services, source: ItemSource) -> bytes:
    if source.origin is ItemOrigin.LINK:
        return (await services.fetch(source.ref)).data
    try:
        file = await bot.get_file(source.ref)
    except BadRequest as exc:  # e.g. "file is too big": permanent, unlike a network error
        raise InvalidInput(f"Telegram would not hand the file over ({exc.message})") from exc
    return bytes(await file.download_as_bytearray())


async def _process_item(bot: Bot, services: Services, item: SubmissionItem, ticket: str) -> None:
    storage = services.storage
    try:
        data = await _download(bot, services, item.source)
        report = await services.analyser.analyse(data)
    except InvalidInput as exc:
        log.info("tip %s picture %d refused: %s", ticket, item.position, exc.code)
        await storage.save_item_result(item.id, status=ItemStatus.FAILED, error=exc.as_dict())
        return
    matches = await storage.lookup(report.fingerprint)
    media_path = await asyncio.to_thread(services.media.put, data)
    record = report.as_dict()
    record["matches"] = [m.as_dict() for m in matches]
    record["verdict"] = overall_verdict(matches)
    await storage.save_item_result(
        item.id,
        status=ItemStatus.DONE,
        fingerprint=report.fingerprint,
        media_path=media_path,
        report=record,
    )


async def picture_views(services: Services, submission: Submission) -> list[PictureView]:
    """The cards' view of each picture, from what was saved (works after a restart too)."""
    views = []
    for item in submission.items:
        if item.status is ItemStatus.FAILED or item.report is None:
            message = (item.error or {}).get("message", "it could not be checked")
            views.append(PictureView(position=item.position, error=_plain_error(message)))
            continue
        report = item.report
        findings = tuple(
            FindingView(f["code"], Severity(f["severity"]), f["message"])
            for f in report.get("findings", [])
        )
        matches = []
        for match in report.get("matches", []):
            known = await services.storage.get_known_item(int(match["item_id"]))
            if known is None:  # retired since (an undone verdict)
                continue
            draft = known.draft
            matches.append(
                KnownMatchView(
                    item_id=known.id,
                    verdict=draft.verdict,
                    title=draft.title,
                    kind=MatchKind(match["kind"]),
                    signal=match["signal"],
                    distance=int(match["distance"]),
                    fact_check_url=draft.fact_check_url,
                    original_date=draft.original_date,
                    original_place=draft.original_place,
                )
            )
        meta = report.get("metadata", {})
        camera = " ".join(str(meta[k]) for k in ("make", "model") if meta.get(k))
        summary = f"{report.get('format', '')} {report.get('width')}x{report.get('height')}"
        views.append(
            PictureView(
                position=item.position,
                findings=findings,
                matches=tuple(matches),
                summary=f"{summary}, {camera}" if camera else summary,
            )
        )
    return views


def _plain_error(message: str) -> str:
    return f"We could not check this picture: {message}."


def _outcome(views: list[PictureView]) -> SubmissionStatus:
    analysed = [v for v in views if not v.error]
    if not analysed:
        return SubmissionStatus.FAILED
    if all(v.best and v.best.kind is MatchKind.EXACT for v in analysed):
        return SubmissionStatus.MATCHED
    return SubmissionStatus.NEW


def _provenance(submission: Submission) -> Provenance | None:
    data = submission.provenance
    if not data:
        return None
    return Provenance(
        origin_type=str(data.get("type", "message")),
        title=data.get("title"),
        username=data.get("username"),
        date=data.get("date"),
    )


async def post_review_card(
    bot: Bot, services: Services, submission: Submission, views: list[PictureView]
) -> None:
    """The picture(s) and the review card with its buttons, in the moderators' chat."""
    chat = services.moderator_chat_id
    first = next((i for i in submission.items if i.media_path), None)
    if first is not None and first.media_path:
        original = await asyncio.to_thread(services.media.get, first.media_path)
        if original:
            clean = await services.analyser.strip(original)
            await bot.send_photo(chat, clean, caption=review_caption(submission.ticket, views))
    await _post_comparisons(bot, services, submission, views)
    await bot.send_message(
        chat,
        review_card(
            submission.ticket,
            views,
            provenance=_provenance(submission),
            claimed_by=submission.claimed_by and f"mod·{submission.claimed_by[:6]}",
            note=submission.note,
            status=submission.status.value,
        ),
        reply_markup=review_keyboard(submission.id),
        disable_web_page_preview=True,
    )


async def _post_comparisons(
    bot: Bot, services: Services, submission: Submission, views: list[PictureView]
) -> None:
    """A side-by-side picture for each near (not identical) match whose picture we hold."""
    by_position = {item.position: item for item in submission.items}
    for view in views:
        best, item = view.best, by_position.get(view.position)
        if best is None or best.kind is MatchKind.EXACT or item is None or not item.media_path:
            continue
        known_path = await services.storage.media_of_known_item(best.item_id)
        if known_path is None:
            continue
        submitted = await asyncio.to_thread(services.media.get, item.media_path)
        known = await asyncio.to_thread(services.media.get, known_path)
        if not submitted or not known:
            continue
        closeness = "mirrored copy" if best.kind is MatchKind.MIRRORED else "near-identical"
        caption = f"{best.signal.upper()} distance {best.distance} - {closeness}"
        picture = await services.analyser.side_by_side(submitted, known, caption)
        await bot.send_photo(
            services.moderator_chat_id,
            picture,
            caption=f"Tip {submission.ticket}, picture {view.position}, beside known item "
            f"#{best.item_id}",
        )


async def process_submission(bot: Bot, services: Services, submission_id: int) -> None:
    """Bring one submission as far as it can go; safe to call again at any point.

    A lease in the database keeps instances that share it from processing the same tip at once
    (each would send the tipster a card)."""
    storage = services.storage
    if not await storage.take_lease(submission_id, services.instance, LEASE_SECONDS):
        log.debug("submission %d is being processed by another instance", submission_id)
        return
    heartbeat = asyncio.create_task(_keep_lease(services, submission_id))
    try:
        submission = await storage.get_submission(submission_id)
        if submission is None:
            return
        try:
            await _advance(bot, services, submission)
        except Exception as exc:
            raise TipProcessingFailed(submission.ticket) from exc
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await storage.release_lease(submission_id, services.instance)


async def _keep_lease(services: Services, submission_id: int) -> None:
    """Renew the lease while the tip is processed, so a slow download or a long album never
    lets another instance start on it too (the tipster would get two cards)."""
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            kept = await services.storage.take_lease(
                submission_id, services.instance, LEASE_SECONDS
            )
        except TiplineError as exc:  # the database is away: try again next time
            log.warning("could not renew the lease of submission %d: %s", submission_id, exc)
            continue
        if not kept:
            log.warning("submission %d was taken over by another instance", submission_id)
            return


async def _send_tipster_card(
    bot: Bot, services: Services, submission: Submission, views: list[PictureView]
) -> None:
    sealed = submission.sealed_chat
    chat_id = services.identities.open_chat_id(sealed) if sealed else None
    if chat_id is None:
        return
    try:
        await bot.send_message(
            chat_id, tipster_card(submission.ticket, views), disable_web_page_preview=True
        )
    except Forbidden:
        log.info("tip %s: the tipster has blocked the bot", submission.ticket)


async def _advance(bot: Bot, services: Services, submission: Submission) -> None:
    storage = services.storage
    submission_id = submission.id
    pending = [item for item in submission.items if item.status is ItemStatus.PENDING]
    # Parts of an album that arrive after its card was sent: the card is sent again, whole.
    late = bool(pending) and submission.replied_at is not None
    for item in pending:
        await _process_item(bot, services, item, submission.ticket)
    submission = await storage.get_submission(submission_id)
    assert submission is not None
    views = await picture_views(services, submission)
    outcome = _outcome(views)
    if submission.status is SubmissionStatus.RECEIVED or (
        late
        and submission.status is SubmissionStatus.MATCHED
        and outcome is not SubmissionStatus.MATCHED
    ):
        await storage.set_status(submission.id, outcome)
        submission = await storage.get_submission(submission_id)
        assert submission is not None

    if submission.replied_at is None or late:
        await _send_tipster_card(bot, services, submission, views)
        await storage.mark_replied(submission.id)
        log.info("tip %s answered (%s)", submission.ticket, submission.status.value)

    needs_review = submission.status in (SubmissionStatus.NEW, SubmissionStatus.IN_REVIEW)
    if needs_review and (submission.review_posted_at is None or late):
        try:
            await post_review_card(bot, services, submission, views)
        except BadRequest as exc:
            log.error("tip %s: review card refused by Telegram: %s", submission.ticket, exc)
            raise
        await storage.mark_review_posted(submission.id)
