"""The path of one tip after it is recorded, with no Telegram in it.

Lease, download, analyse, look up, decide, answer the tipster, post the review, release: every
step is saved before the next begins, so :meth:`TipFlow.process` can run again for any
submission at any time (after a crash, say). Finished pictures are not analysed twice, and the
tipster's card and the moderators' card are each sent once, recorded after they are sent. What
cannot be made exactly-once: a card Telegram accepted whose record the crash prevented is sent
again on resume (the tipster may see it twice; nothing is lost).

Telegram lives behind :class:`Notifier`; ``handlers.telegram_notifier`` is the real one and the
unit tests use a fake, so every state of this machine is tested without a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from checks.assessment import Assessment, tip_status
from checks.errors import InvalidInput, TiplineError
from checks.matching import MatchKind
from checks.verdicts import SubmissionStatus
from handlers.cards import (
    PictureView,
    Provenance,
    review_caption,
    review_card,
    tipster_card,
)
from handlers.corrections import told_of
from handlers.i18n import DEFAULT_LANGUAGE, N_, supported_language, texts_for
from handlers.pacing import ReviewPacer
from handlers.services import Analyser
from handlers.wording import CLOSENESS, moderator_label
from storage.base import KnownItems
from storage.identities import IdentityProtector
from storage.media import MediaFull, MediaStore
from storage.tips import (
    Answers,
    ItemSource,
    ItemStatus,
    Retention,
    Submission,
    SubmissionItem,
    Submissions,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Notifier",
    "TipFlow",
    "TipFlowStorage",
    "TipProcessingFailed",
    "picture_views",
]

log = logging.getLogger(__name__)

#: A disk that is full, or a user's quota that is: the picture is not kept, the tip goes on.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_MEDIA_FULL_NOTICE = N_(
    "The media folder is full: new pictures are still checked and answered, but not kept, so "
    "their review cards come without them. Free some space or raise the media budget."
)

#: How long a tip stays an instance's after it last said it is still working on it. The lease
#: is renewed every third of this while the tip is processed, however long that takes, so it
#: only has to outlast a pause: a lease left by an instance that died expires after this, and
#: another instance resumes the tip at its next maintenance pass.
DEFAULT_LEASE_SECONDS = 60.0


class TipFlowStorage(KnownItems, Submissions, Retention, Answers, Protocol):
    """What the flow needs of the database: tips, lookups, known items' pictures, and what
    each tipster was told (for corrections)."""


class TipProcessingFailed(TiplineError):
    """A tip's processing stopped for a reason that is not its pictures' fault (the network,
    the database, a bug); the cause is chained. The tip is safe: it is in the database, and
    the next maintenance pass takes it up again."""

    code = "tip_processing_failed"

    def __init__(self, ticket: str) -> None:
        super().__init__(f"processing tip {ticket} failed; it is saved and will be retried")
        self.ticket = ticket


class Notifier(Protocol):
    """What the flow asks of the messenger. Each call either does its job or raises; a
    recipient who cannot be reached for good (the tipster blocked the bot) is the notifier's
    to log and swallow, since retrying cannot help."""

    async def download(self, source: ItemSource) -> bytes:
        """The picture's bytes; :class:`checks.errors.InvalidInput` if it can never be had."""

    async def tell_tipster(self, chat_id: int, card: str) -> None: ...

    async def post_picture(self, picture: bytes, caption: str) -> None:
        """A picture in the moderators' chat."""

    async def post_review_card(self, submission_id: int, card: str) -> None:
        """The review card, with its verdict buttons, in the moderators' chat."""

    async def post_notice(self, text: str) -> None:
        """A message to the moderators' chat with no buttons (a digest, a warning)."""


def picture_views(submission: Submission) -> list[PictureView]:
    """The cards' view of each picture, from what was saved (works after a restart too)."""
    views = []
    for item in submission.items:
        if item.status is ItemStatus.DONE and item.report is not None:
            views.append(PictureView(item.position, Assessment.from_dict(item.report)))
            continue
        views.append(PictureView(item.position, error=item.error or {}))
    return views


def _assessments(submission: Submission) -> list[Assessment | None]:
    return [view.assessment for view in picture_views(submission)]


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


@dataclass
class TipFlow:
    """Brings one submission as far as it can go; safe to call again at any point."""

    storage: TipFlowStorage
    media: MediaStore
    analyser: Analyser
    notifier: Notifier
    identities: IdentityProtector
    #: This instance's name for processing leases; stable across its restarts.
    instance: str = "tipline"
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    #: The newsroom's language: the moderators' cards, and a tipster's whose is unknown.
    language: str = DEFAULT_LANGUAGE
    #: How the flow waits between lease renewals (tests pass one that never waits).
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: Keeps the moderators' chat within its messages a minute (shared by every tip of this
    #: instance); None posts every review card.
    pacer: ReviewPacer | None = None

    async def process(self, submission_id: int) -> None:
        """Lease the tip, advance it, release it. Instances sharing a database never work on
        one tip at once (each would send the tipster a card)."""
        storage = self.storage
        if not await storage.take_lease(submission_id, self.instance, self.lease_seconds):
            log.debug("submission %d is being processed by another instance", submission_id)
            return
        heartbeat = asyncio.create_task(self._keep_lease(submission_id))
        ticket = f"#{submission_id}"  # until the submission is read
        try:
            submission = await storage.get_submission(submission_id)
            if submission is None:
                return
            ticket = submission.ticket
            await self._advance(submission)
        except Exception as exc:
            raise TipProcessingFailed(ticket) from exc
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await storage.release_lease(submission_id, self.instance)

    async def _keep_lease(self, submission_id: int) -> None:
        """Renew the lease while the tip is processed, so a slow download or a long album
        never lets another instance start on it too."""
        while True:
            await self.pause(self.lease_seconds / 3)
            try:
                kept = await self.storage.take_lease(
                    submission_id, self.instance, self.lease_seconds
                )
            except TiplineError as exc:  # the database is away: try again next time
                log.warning("could not renew the lease of submission %d: %s", submission_id, exc)
                continue
            if not kept:
                log.warning("submission %d was taken over by another instance", submission_id)
                return

    async def _advance(self, submission: Submission) -> None:
        storage = self.storage
        pending = [item for item in submission.items if item.status is ItemStatus.PENDING]
        # Parts of an album that arrive after its card was sent: the card is sent again, whole.
        late = bool(pending) and submission.replied_at is not None
        if pending:
            for item in pending:
                await self._analyse_item(item, submission.ticket)
            submission = await self._reload(submission.id)
        outcome = tip_status(_assessments(submission))
        if submission.status is SubmissionStatus.RECEIVED or (
            late
            and submission.status is SubmissionStatus.MATCHED
            and outcome is not SubmissionStatus.MATCHED
        ):
            await storage.set_status(submission.id, outcome)
            submission = await self._reload(submission.id)

        views = picture_views(submission)
        if submission.replied_at is None or late:
            await self._tell_tipster(submission, views)
            told = told_of(views)
            if told or late:
                await storage.record_answer(submission.id, told)
            await storage.mark_replied(submission.id)
            log.info("tip %s answered (%s)", submission.ticket, submission.status.value)

        needs_review = submission.status in (SubmissionStatus.NEW, SubmissionStatus.IN_REVIEW)
        if needs_review and (submission.review_posted_at is None or late):
            # A card held back by the pacer counts as posted: the tip is in /queue and a digest
            # names it, so retrying it would only add to the flood.
            await self.post_review(submission, views)
            await storage.mark_review_posted(submission.id)
        await self.post_digest()

    async def _reload(self, submission_id: int) -> Submission:
        submission = await self.storage.get_submission(submission_id)
        if submission is None:  # deleted under us: nothing in Tipline deletes a submission
            raise RuntimeError(f"submission {submission_id} disappeared while processed")
        return submission

    async def _analyse_item(self, item: SubmissionItem, ticket: str) -> None:
        try:
            data = await self.notifier.download(item.source)
            report = await self.analyser.analyse(data)
        except InvalidInput as exc:
            log.info("tip %s picture %d refused: %s", ticket, item.position, exc.code)
            await self.storage.save_item_result(
                item.id, status=ItemStatus.FAILED, error=exc.as_dict()
            )
            return
        assessment = Assessment.of(report, await self.storage.lookup(report.fingerprint))
        media_path = await self._keep(data, ticket, item.position)
        await self.storage.save_item_result(
            item.id,
            status=ItemStatus.DONE,
            fingerprint=report.fingerprint,
            media_path=media_path,
            report=assessment.as_dict(),
        )

    async def _keep(self, data: bytes, ticket: str, position: int) -> str | None:
        """Store the picture; when the media folder is at its budget or the disk is full, the
        tip goes on without it (checked and answered, the card without the picture) and the
        moderators are told, once until there is room again."""
        try:
            return await asyncio.to_thread(self.media.put, data)
        except MediaFull as exc:
            reason = str(exc)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            reason = f"the disk is full ({exc.strerror or exc})"
        log.warning("tip %s picture %d analysed but not kept: %s", ticket, position, reason)
        if self.media.claim_full_notice():
            t = texts_for(supported_language(self.language))
            try:
                await self.notifier.post_notice(t._(_MEDIA_FULL_NOTICE))
            except Exception:  # a warning, not the tip's work: the tip must go on
                log.warning("could not tell the moderators the media folder is full")
                self.media.rearm_full_notice()
            else:
                if self.pacer is not None:
                    self.pacer.record()
        return None

    async def _tell_tipster(self, submission: Submission, views: Sequence[PictureView]) -> None:
        sealed = submission.sealed_chat
        chat_id = self.identities.open_chat_id(sealed) if sealed else None
        if chat_id is not None:
            t = texts_for(supported_language(submission.language, self.language))
            await self.notifier.tell_tipster(chat_id, tipster_card(submission.ticket, views, t=t))

    async def post_review(self, submission: Submission, views: Sequence[PictureView]) -> None:
        """The picture (metadata stripped), side-by-side comparisons, and the review card, in
        the newsroom's language, naming the tipster's; or nothing, when the moderators' chat
        has had its messages for the minute (the tip is in /queue, and a digest names it)."""
        t = texts_for(supported_language(self.language))
        first = next((i for i in submission.items if i.media_path), None)
        if self.pacer is not None and not self.pacer.admit_review(_messages_of(submission, views)):
            log.info(
                "tip %s: review card held back, the moderators' chat is busy", submission.ticket
            )
            return
        if first is not None and first.media_path:
            original = await asyncio.to_thread(self.media.get, first.media_path)
            if original:
                clean = await self.analyser.strip(original)
                caption = review_caption(submission.ticket, views, t=t)
                await self.notifier.post_picture(clean, caption)
        await self._post_comparisons(submission, views)
        card = review_card(
            submission.ticket,
            views,
            t=t,
            tipster_language=submission.language,
            provenance=_provenance(submission),
            claimed_by=submission.claimed_by and moderator_label(submission.claimed_by),
            note=submission.note,
            status=submission.status.value,
        )
        await self.notifier.post_review_card(submission.id, card)

    async def _post_comparisons(self, submission: Submission, views: Sequence[PictureView]) -> None:
        """A side-by-side picture for each near (not identical) match whose picture we hold."""
        by_position = {item.position: item for item in submission.items}
        for view in views:
            best, item = view.best, by_position.get(view.position)
            if best is None or best.kind is MatchKind.EXACT or item is None or not item.media_path:
                continue
            known_path = await self.storage.media_of_known_item(best.item_id)
            if known_path is None:
                continue
            submitted = await asyncio.to_thread(self.media.get, item.media_path)
            known = await asyncio.to_thread(self.media.get, known_path)
            if not submitted or not known:
                continue
            # Drawn into the picture, whose font has Latin letters only: kept in English.
            drawn = f"{best.signal.upper()} distance {best.distance} - {CLOSENESS[best.kind]}"
            # The outline shows where the known picture sits in a framed or captioned copy.
            picture = await self.analyser.side_by_side(submitted, known, drawn, best.region)
            t = texts_for(supported_language(self.language))
            caption = t._(
                "Tip {ticket}, picture {position}, beside known item #{number}",
                ticket=t.ltr(submission.ticket),
                position=view.position,
                number=best.item_id,
            )
            await self.notifier.post_picture(picture, caption)

    async def post_digest(self) -> None:
        """Name the tips whose cards were held back, once they have gathered and the chat has
        room; a digest that cannot be posted leaves them for the next."""
        pacer = self.pacer
        count = pacer.take_digest() if pacer is not None else 0
        if pacer is None or not count:
            return
        t = texts_for(supported_language(self.language))
        text = t.ngettext("{n} new tip waiting — /queue", "{n} new tips waiting — /queue", count)
        try:
            await self.notifier.post_notice(text)
        except Exception:  # the tips are safe in /queue; only the digest waits
            log.warning("could not post a digest of %d waiting tip(s); trying again later", count)
            pacer.give_back(count)
        else:
            log.info("digest posted: %d tip(s) waiting without a card", count)


def _messages_of(submission: Submission, views: Sequence[PictureView]) -> int:
    """The most messages a review can take: the picture, a comparison per near match, the
    card (a comparison whose known picture is missing is counted all the same)."""
    picture = 1 if any(item.media_path for item in submission.items) else 0
    near = sum(1 for v in views if v.best is not None and v.best.kind is not MatchKind.EXACT)
    return picture + near + 1
