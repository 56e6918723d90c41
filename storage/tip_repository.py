"""The tip flow both SQL backends share: submissions, reviews, roles, the audit log, stats.

Written once against :class:`TipStatements`, the SQL each dialect supplies with its own
placeholders, casts and locks (``storage.tips_sqlite``, ``storage.tips_postgres``). Whatever
touches more than one row runs in one transaction of the dialect's making, and the dialect's
statements carry the locking it needs:

- SQLite takes the database's write lock when the transaction begins (``BEGIN IMMEDIATE``),
  so writers queue and a read inside the transaction is already under the lock;
- PostgreSQL runs at READ COMMITTED and locks what a decision depends on: an advisory lock
  per album (or per update) while a tip is recorded, the submission's row (``FOR UPDATE``)
  while a verdict is given or undone, and the known items a verdict changes.

Known items written by a review go through the same upsert as every other known item
(:meth:`storage.repository.SqlStorage._upsert_in`), and this storage's index follows each
committed change at once; other instances follow through ``refresh_index``, because the
schema bumps a changed item's ``revision``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from checks.errors import Conflict, InvalidInput, NotFound, StorageError
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from storage.base import KnownItem, KnownItemDraft, UpsertResult
from storage.index import NearDuplicateIndex
from storage.rows import (
    Executor,
    Row,
    as_utc,
    audit_entry_from_row,
    decode_json,
    encode_json,
    known_item_state,
    moderator_from_row,
    normalise_draft,
    normalise_fingerprint,
    require_utc,
    restore_parameters,
    review_from_row,
    state_fingerprint,
    submission_from_row,
    submission_item_from_row,
    utc_now,
)
from storage.tips import (
    AuditEntry,
    ItemOrigin,
    ItemStatus,
    Moderator,
    PurgeResult,
    RecordedTip,
    Review,
    ReviewDraft,
    Role,
    Stats,
    Submission,
    SubmissionDraft,
    SubmissionItem,
    TipStorage,
    normalise_ticket,
)

__all__ = ["TipRepository", "TipStatements"]

_Word = TypeVar("_Word", bound=StrEnum)

#: Statuses of a submission that waits for a verdict.
_WAITING = (SubmissionStatus.NEW.value, SubmissionStatus.IN_REVIEW.value)


#: What :func:`storage.rows.submission_from_row` reads, the same in both dialects; each
#: dialect adds its own WHERE.
SUBMISSION_SELECT = """
SELECT s.id, s.ticket, s.status, s.tipster, s.sealed_chat, s.notify, s.provenance,
    s.media_group, s.claimed_by, s.note, s.created_at, s.updated_at, s.first_reply_at,
    s.review_posted_at,
    (SELECT r.verdict FROM reviews r WHERE r.submission_id = s.id AND r.reverted_at IS NULL
     ORDER BY r.id DESC LIMIT 1) AS verdict
FROM submissions s
"""


@dataclass(frozen=True, slots=True)
class TipStatements:
    """Every statement of the tip flow, in one dialect. Parameters are numbered in the order
    given here; statements that name a submission's columns select what
    :func:`storage.rows.submission_from_row` reads (``verdict``: the review in force)."""

    # -- submissions --------------------------------------------------------------------------
    # ``bot`` parameters: the bot whose tips to see, or NULL for every bot's.
    #: (id, bot) -> submission
    submission_by_id: str
    #: (ticket, bot) -> submission
    submission_by_ticket: str
    #: (tipster, limit, bot) -> submissions, newest first
    submissions_of: str
    #: (bot) -> submissions without a first reply, oldest first
    unfinished: str
    #: (status, status, limit, bot) -> submissions in those statuses with no verdict, oldest
    #: first
    review_queue: str
    #: (status, status, bot) -> ``n``, the size of that queue
    queue_size: str
    #: (ids as :meth:`TipRepository._encode_list` gives) -> items, by submission and position
    items_of: str

    # -- recording a tip ----------------------------------------------------------------------
    #: (key): serialise recorders of one album or update; None if transactions already are.
    lock_tip: str | None
    #: (update key) -> ``id`` of the submission that update already made or joined
    submission_of_update: str
    #: (media_group, tipster, bot) -> ``id`` of that tipster's submission for that album
    album: str
    #: (ticket) -> a row if the ticket is taken (by any bot: codes are unique in the database)
    ticket_taken: str
    #: (bot) -> ``id`` per tip from before bots were told apart, now that bot's
    adopt_tips: str
    #: (ticket, update key, status, tipster, sealed_chat, notify, provenance json, media_group,
    #: now, bot) -> ``id``
    insert_submission: str
    #: (submission_id) -> ``last``, the highest position so far (0 for none)
    last_position: str
    #: (submission_id, position, update key, origin, ref, file_size, mime_type, status)
    insert_item: str

    # -- changing a submission ----------------------------------------------------------------
    #: (item_id, status, sha256, pdq, pdq_quality, phash, media_path, report, error) -> ``id``
    save_item_result: str
    #: (id, status, now) -> ``id``
    set_status: str
    #: (id, now) -> ``first_reply_at``, set to now only if it was NULL
    #: (id, worker, now, until) -> id when the lease was free, expired or already theirs
    take_lease: str
    #: (id, worker) -> id when that worker held it
    release_lease: str
    mark_replied: str
    #: (id, now) -> ``review_posted_at``, set to now only if it was NULL
    mark_review_posted: str
    #: (id, moderator, now) -> ``claimed_by``, set only if it was NULL
    claim: str
    #: (id, note, now) -> ``id``
    set_note: str
    #: (id, now) -> ``id``
    drop_sealed_chat: str
    #: (tipster, now) -> ``id`` per submission unlinked
    forget_tipster: str

    # -- reviews ------------------------------------------------------------------------------
    #: (id) -> ``id, ticket`` of the submission, locked against other reviewers
    lock_submission: str
    #: (submission_id) -> the review in force, if any
    review_in_force: str
    #: (submission_id, verdict, note, fact_check_url, moderator, now) -> the review
    insert_review: str
    #: (natural_key) -> ``id`` and :data:`storage.rows.KNOWN_ITEM_STATE`, retired or not,
    #: locked until the transaction ends
    known_item_state: str
    #: (id) -> ``id`` and :data:`storage.rows.KNOWN_ITEM_STATE`
    known_item_state_by_id: str
    #: (review_id, known_item_id, created, previous json, left_state json)
    insert_review_link: str
    #: (review_id) -> ``known_item_id, created, previous, left_state`` with those items locked
    review_links: str
    #: (known_item_id, review_id) -> ``review_id`` of the next later review in force with it
    later_link: str
    #: (review_id, known_item_id, created, previous json)
    splice_link: str
    #: (id, now)
    retire_known_item: str
    #: :data:`storage.rows.RESTORE_PARAMETERS`
    restore_known_item: str
    #: (review_id, now) -> the review
    revert_review: str
    #: (submission_id) -> reviews, newest first
    reviews_of: str
    #: (review ids as a list) -> ``review_id, known_item_id``
    review_item_ids: str

    # -- roles and the audit log --------------------------------------------------------------
    # ``bot``: roles are given per bot; 0 is the bot of roles from before bots were told apart.
    #: (pseudonym, role, added_by, now, bot)
    set_role: str
    #: (pseudonym, bot) -> a row if one was deleted
    remove_role: str
    #: (pseudonym, bot) -> ``role``
    role_of: str
    #: (bot) -> moderators in the order they were added
    list_roles: str
    #: (bot) -> ``pseudonym`` per role from bot 0 that is now this bot's
    adopt_roles: str
    #: (now, actor, action, subject, detail json)
    insert_audit: str
    #: (limit) -> entries, newest first
    audit_log: str

    # -- stats, retention, media --------------------------------------------------------------
    #: (since, matched status, bot) -> ``submissions, matches``
    submissions_since: str
    #: (since, bot) -> ``created_at, first_reply_at`` of those that had a card
    reply_times: str
    #: (before) -> ``id`` per sealed chat dropped
    purge_chats: str
    #: (before) -> the distinct ``media_path`` of those submissions' items
    expiring_media: str
    #: (before): drop those references
    purge_media: str
    #: (paths as a list) -> ``media_path`` of those still referred to
    media_in_use: str
    #: (known_item_id) -> ``media_path`` of a stored copy of that picture
    media_of_known_item: str


def update_key(draft: SubmissionDraft) -> str | None:
    """``<bot id>:<update id>``: Telegram numbers updates per bot, and bots may share a
    database. (Rows recorded before bots were told apart carry bot id 0.)"""
    if draft.update_id is None:
        return None
    return f"{draft.bot_id or 0}:{draft.update_id}"


def _tip_lock_key(draft: SubmissionDraft) -> str | None:
    """What concurrent recorders of this draft must queue on: its album, else its update."""
    if draft.media_group is not None:
        return f"album:{draft.media_group}"
    key = update_key(draft)
    return None if key is None else f"update:{key}"


def _known_item_title(ticket: str, position: int, several: bool) -> str:
    return f"Tip {ticket}, picture {position}" if several else f"Tip {ticket}"


def _limit(value: int) -> int:
    if not isinstance(value, int) or value < 0:
        raise InvalidInput(f"a limit must be a whole number of at least 0, got {value!r}")
    return value


def _word(kind: type[_Word], value: object) -> _Word:
    """A vocabulary word (status, origin, role) from the caller, or InvalidInput."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidInput(f"unknown {kind.__name__} {value!r}; use one of: {known}") from None


def _text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class _Untaught:
    """What undoing a review did to one known item."""

    #: The index change it needs: the item's hashes now, or None to remove it from the index.
    reindex: Fingerprint | None = None
    #: Whether the index must change at all.
    changed: bool = False
    #: An import or an edit changed the item after the review, so it was left as it is.
    kept: bool = False


@dataclass(frozen=True, slots=True)
class _Taught:
    """What a review did to one known item, and what undoing it needs."""

    upsert: UpsertResult
    #: The item's state before the review (JSON text); None if the review created it.
    previous: str | None
    #: The item's state as the review left it (JSON text).
    left_state: str

    @property
    def item(self) -> KnownItem:
        return self.upsert.item

    @property
    def created(self) -> bool:
        return self.upsert.created


class TipRepository(TipStorage):
    """:class:`storage.tips.TipStorage` over SQL, mixed into
    :class:`storage.repository.SqlStorage`."""

    # -- what the host provides: SqlStorage, and the dialect below it -------------------------

    #: The dialect's statements.
    _tips: ClassVar[TipStatements]
    _index: NearDuplicateIndex
    _index_lock: asyncio.Lock
    #: The bot whose tips this storage lists and finds (see :meth:`serve_bot`); None: all.
    _bot_scope: int | None = None

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Executor]:
        """One transaction, committed when the block ends and rolled back if it raises.

        It must serialise what the statements' own locks do not: SQLite begins it with the
        write lock held (``BEGIN IMMEDIATE``); PostgreSQL relies on the statements' locks.
        """

    @abstractmethod
    def _connection(self) -> AbstractAsyncContextManager[Executor]:
        """Statements run one by one, each committed on its own, with nothing else of this
        storage's in between when the dialect shares one connection (SQLite)."""

    @abstractmethod
    def _encode_time(self, moment: datetime) -> object:
        """A UTC timestamp as the driver's parameter."""

    @abstractmethod
    def _encode_list(self, values: Sequence[int] | Sequence[str]) -> object:
        """A list of ids or paths as the one parameter the dialect's ``IN``/``ANY`` takes."""

    @abstractmethod
    def _boundary(
        self, action: str, error: type[StorageError] = StorageError
    ) -> AbstractContextManager[None]:
        """Translate driver exceptions into :mod:`checks.errors`."""

    @abstractmethod
    async def _upsert_in(self, db: Executor, draft: KnownItemDraft, now: datetime) -> UpsertResult:
        """The known-item upsert, run on ``db`` (without touching the index)."""

    # -- helpers --------------------------------------------------------------------------

    async def _run(self, action: str, query: str, *args: object) -> Sequence[Row]:
        """One statement on its own."""
        with self._boundary(action):
            async with self._connection() as db:
                return await db.fetch(query, *args)

    async def _submissions(self, db: Executor, rows: Sequence[Row]) -> list[Submission]:
        """Submission rows with their items, in one more query however many there are."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        items: dict[int, list[SubmissionItem]] = {}
        for item_row in await db.fetch(self._tips.items_of, self._encode_list(ids)):
            item = submission_item_from_row(item_row)
            items.setdefault(item.submission_id, []).append(item)
        return [submission_from_row(row, items.get(row["id"], ())) for row in rows]

    async def _submission(self, db: Executor, submission_id: int) -> Submission | None:
        """One submission by id, whichever bot it came to (callers hold its id already)."""
        found = await self._submissions(
            db, await db.fetch(self._tips.submission_by_id, submission_id, None)
        )
        return found[0] if found else None

    async def _read_submissions(self, action: str, query: str, *args: object) -> list[Submission]:
        with self._boundary(action):
            async with self._connection() as db:
                return await self._submissions(db, await db.fetch(query, *args))

    async def _change(self, action: str, query: str, submission_id: int, *args: object) -> Row:
        """Run an update of one submission; its returned row, or NotFound."""
        rows = await self._run(action, query, submission_id, *args)
        if not rows:
            raise NotFound(f"could not {action}: there is no submission {submission_id}")
        return rows[0]

    def _now(self) -> tuple[datetime, object]:
        now = utc_now()
        return now, self._encode_time(now)

    # -- submissions ----------------------------------------------------------------------

    async def record_tip(self, draft: SubmissionDraft) -> RecordedTip:
        ticket = normalise_ticket(draft.ticket)
        if ticket is None:
            raise InvalidInput(f"{draft.ticket!r} is not a ticket code (like K7QM-2XTD)")
        if not draft.items:
            raise InvalidInput("a tip needs at least one picture or link")
        origins = [_word(ItemOrigin, source.origin).value for source in draft.items]
        sql = self._tips
        _, now = self._now()
        with self._boundary(f"record tip {ticket}"):
            async with self._transaction() as db:
                key = _tip_lock_key(draft)
                if sql.lock_tip is not None and key is not None:
                    await db.fetch(sql.lock_tip, key)
                update = update_key(draft)
                if update is not None:
                    seen = await db.fetch(sql.submission_of_update, update)
                    if seen:
                        submission = await self._submission(db, seen[0]["id"])
                        assert submission is not None
                        return RecordedTip(submission, created=False, added_items=0)
                album = []
                if draft.media_group is not None:
                    album = await db.fetch(
                        sql.album, draft.media_group, draft.tipster, draft.bot_id
                    )
                if album:
                    submission_id = album[0]["id"]
                    last = (await db.fetch(sql.last_position, submission_id))[0]["last"]
                else:
                    if await db.fetch(sql.ticket_taken, ticket):
                        raise Conflict(f"ticket {ticket} is already taken; make another")
                    inserted = await db.fetch(
                        sql.insert_submission,
                        ticket,
                        update,
                        SubmissionStatus.RECEIVED.value,
                        draft.tipster,
                        draft.sealed_chat,
                        draft.notify,
                        encode_json(draft.provenance),
                        draft.media_group,
                        now,
                        draft.bot_id,
                    )
                    submission_id, last = inserted[0]["id"], 0
                for offset, (source, origin) in enumerate(
                    zip(draft.items, origins, strict=True), start=1
                ):
                    await db.fetch(
                        sql.insert_item,
                        submission_id,
                        last + offset,
                        update if offset == 1 else None,  # the column is unique
                        origin,
                        source.ref,
                        source.file_size,
                        source.mime_type,
                        ItemStatus.PENDING.value,
                    )
                submission = await self._submission(db, submission_id)
        assert submission is not None
        return RecordedTip(submission, created=not album, added_items=len(draft.items))

    async def serve_bot(self, bot_id: int) -> int:
        if self._bot_scope is not None and self._bot_scope != bot_id:
            raise Conflict(f"this storage already serves bot {self._bot_scope}, not {bot_id}")
        rows = await self._run("adopt earlier tips", self._tips.adopt_tips, bot_id)
        await self._run("adopt earlier roles", self._tips.adopt_roles, bot_id)
        self._bot_scope = bot_id
        return len(rows)

    async def get_submission(self, submission_id: int) -> Submission | None:
        found = await self._read_submissions(
            "read a tip", self._tips.submission_by_id, submission_id, self._bot_scope
        )
        return found[0] if found else None

    async def get_submission_by_ticket(self, ticket: str) -> Submission | None:
        code = normalise_ticket(ticket)
        if code is None:
            return None
        found = await self._read_submissions(
            "read a tip", self._tips.submission_by_ticket, code, self._bot_scope
        )
        return found[0] if found else None

    async def submissions_of(self, tipster: str, limit: int = 10) -> list[Submission]:
        return await self._read_submissions(
            "read a tipster's tips",
            self._tips.submissions_of,
            tipster,
            _limit(limit),
            self._bot_scope,
        )

    async def unfinished_submissions(self) -> list[Submission]:
        return await self._read_submissions(
            "find unfinished tips", self._tips.unfinished, self._bot_scope
        )

    async def save_item_result(
        self,
        item_id: int,
        *,
        status: ItemStatus,
        fingerprint: Fingerprint | None = None,
        media_path: str | None = None,
        report: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        fp = None if fingerprint is None else normalise_fingerprint(fingerprint)
        rows = await self._run(
            "save a picture's result",
            self._tips.save_item_result,
            item_id,
            _word(ItemStatus, status).value,
            fp and fp.sha256,
            fp and fp.pdq,
            fp and fp.pdq_quality,
            fp and fp.phash,
            media_path,
            encode_json(report),
            encode_json(error),
        )
        if not rows:
            raise NotFound(f"could not save a picture's result: there is no item {item_id}")

    async def set_status(self, submission_id: int, status: SubmissionStatus) -> None:
        _, now = self._now()
        value = _word(SubmissionStatus, status).value
        await self._change("set a tip's status", self._tips.set_status, submission_id, value, now)

    async def take_lease(self, submission_id: int, worker: str, seconds: float) -> bool:
        moment, now = self._now()
        until = self._encode_time(moment + timedelta(seconds=seconds))
        rows = await self._run(
            "lease a tip",
            self._tips.take_lease,
            submission_id,
            _text(worker, "worker"),
            now,
            until,
        )
        return bool(rows)

    async def release_lease(self, submission_id: int, worker: str) -> None:
        await self._run("release a tip", self._tips.release_lease, submission_id, worker)

    async def mark_replied(self, submission_id: int) -> bool:
        moment, now = self._now()
        row = await self._change("record a card", self._tips.mark_replied, submission_id, now)
        return as_utc(row["first_reply_at"]) == moment

    async def mark_review_posted(self, submission_id: int) -> bool:
        moment, now = self._now()
        row = await self._change(
            "record a review card", self._tips.mark_review_posted, submission_id, now
        )
        return as_utc(row["review_posted_at"]) == moment

    async def claim(self, submission_id: int, moderator: str) -> str | None:
        _, now = self._now()
        row = await self._change(
            "claim a tip", self._tips.claim, submission_id, _text(moderator, "moderator"), now
        )
        return row["claimed_by"]

    async def set_note(self, submission_id: int, note: str) -> None:
        _, now = self._now()
        await self._change("save a note", self._tips.set_note, submission_id, note, now)

    async def review_queue(self, limit: int = 20) -> list[Submission]:
        return await self._read_submissions(
            "read the review queue",
            self._tips.review_queue,
            *_WAITING,
            _limit(limit),
            self._bot_scope,
        )

    async def forget_tipster(self, tipster: str) -> int:
        _, now = self._now()
        return len(await self._run("forget a tipster", self._tips.forget_tipster, tipster, now))

    async def drop_sealed_chat(self, submission_id: int) -> None:
        _, now = self._now()
        await self._change("drop a chat link", self._tips.drop_sealed_chat, submission_id, now)

    # -- reviews --------------------------------------------------------------------------

    async def record_review(self, submission_id: int, draft: ReviewDraft) -> Review:
        verdict = Verdict.parse(draft.verdict)
        moderator = _text(draft.moderator, "the moderator")
        sql = self._tips
        moment, now = self._now()
        results: list[_Taught] = []
        async with self._index_lock:
            with self._boundary("record a verdict"):
                async with self._transaction() as db:
                    ticket = await self._lock_submission(db, submission_id, "record a verdict")
                    in_force = await db.fetch(sql.review_in_force, submission_id)
                    if in_force:
                        given = in_force[0]["verdict"]
                        raise Conflict(
                            f"tip {ticket} already has a verdict in force ({given}); "
                            "undo it first to change it"
                        )
                    review = (
                        await db.fetch(
                            sql.insert_review,
                            submission_id,
                            verdict.value,
                            draft.note,
                            draft.fact_check_url,
                            moderator,
                            now,
                        )
                    )[0]
                    items = await db.fetch(sql.items_of, self._encode_list([submission_id]))
                    drafts = self._review_drafts(
                        ticket, [submission_item_from_row(row) for row in items], verdict, draft
                    )
                    # In key order, so that two reviews lock shared items in the same order.
                    for key in sorted(drafts):
                        result = await self._teach(db, drafts[key], moment, ticket)
                        results.append(result)
                        await db.fetch(
                            sql.insert_review_link,
                            review["id"],
                            result.item.id,
                            result.created,
                            result.previous,
                            result.left_state,
                        )
                    await db.fetch(
                        sql.set_status, submission_id, SubmissionStatus.REVIEWED.value, now
                    )
            for result in results:
                if result.upsert.created or result.upsert.updated:
                    self._index.add(result.item.id, result.item.fingerprint)
        return review_from_row(review, [result.item.id for result in results])

    async def _lock_submission(self, db: Executor, submission_id: int, action: str) -> str:
        """Lock the submission against other reviewers for the transaction; its ticket."""
        rows = await db.fetch(self._tips.lock_submission, submission_id)
        if not rows:
            raise NotFound(f"could not {action}: there is no submission {submission_id}")
        return rows[0]["ticket"]

    @staticmethod
    def _review_drafts(
        ticket: str, items: Sequence[SubmissionItem], verdict: Verdict, draft: ReviewDraft
    ) -> dict[str, KnownItemDraft]:
        """A known-item draft per analysed picture, by natural key: the same picture twice in
        one album is one known item (the first position names it)."""
        several = len(items) > 1
        drafts: dict[str, KnownItemDraft] = {}
        for item in sorted(items, key=lambda i: i.position):
            if item.status is not ItemStatus.DONE or item.fingerprint is None:
                continue
            known = normalise_draft(
                KnownItemDraft(
                    fingerprint=item.fingerprint,
                    verdict=verdict,
                    title=_known_item_title(ticket, item.position, several),
                    note=draft.note,
                    fact_check_url=draft.fact_check_url,
                    recorded_by=draft.moderator,
                )
            )
            drafts.setdefault(known.natural_key, known)
        return drafts

    async def _teach(
        self, db: Executor, draft: KnownItemDraft, now: datetime, ticket: str
    ) -> _Taught:
        """Create or update one known item for a review, keeping what undoing it needs."""
        rows = await db.fetch(self._tips.known_item_state, draft.natural_key)
        before = rows[0] if rows else None
        if before is not None and before["retired_at"] is None:
            # A verdict changes the verdict and its reasons; what the newsroom knew of the
            # picture itself (its title, where and when it first appeared) stays.
            draft = dataclasses.replace(
                draft,
                title=before["title"] or draft.title,
                original_date=before["original_date"],
                original_place=before["original_place"],
                source=before["source"],
            )
        upsert = await self._upsert_in(db, draft, now)
        left = await db.fetch(self._tips.known_item_state_by_id, upsert.item.id)
        left_state = encode_json(known_item_state(left[0]))
        if upsert.created:
            return _Taught(upsert, previous=None, left_state=left_state)
        if before is None:
            # Another transaction created the item between our read and our upsert, so what
            # it was before is unknown: undoing this review could not restore it.
            raise Conflict(
                f"tip {ticket}: another verdict recorded the same picture at the same moment; "
                "try again"
            )
        return _Taught(
            upsert, previous=encode_json(known_item_state(before)), left_state=left_state
        )

    async def reviews_of(self, submission_id: int) -> list[Review]:
        sql = self._tips
        with self._boundary("read a tip's verdicts"):
            async with self._connection() as db:
                rows = await db.fetch(sql.reviews_of, submission_id)
                if not rows:
                    return []
                ids = [row["id"] for row in rows]
                links = await db.fetch(sql.review_item_ids, self._encode_list(ids))
        items: dict[int, list[int]] = {}
        for link in links:
            items.setdefault(link["review_id"], []).append(link["known_item_id"])
        return [review_from_row(row, items.get(row["id"], ())) for row in rows]

    async def undo_last_review(self, submission_id: int) -> Review | None:
        sql = self._tips
        _, now = self._now()
        index_changes: list[tuple[int, Fingerprint | None]] = []
        kept: list[int] = []
        async with self._index_lock:
            with self._boundary("undo a verdict"):
                async with self._transaction() as db:
                    await self._lock_submission(db, submission_id, "undo a verdict")
                    in_force = await db.fetch(sql.review_in_force, submission_id)
                    if not in_force:
                        return None
                    review_id = in_force[0]["id"]
                    links = await db.fetch(sql.review_links, review_id)
                    for link in links:
                        untaught = await self._unteach(db, review_id, link, now)
                        if untaught.kept:
                            kept.append(link["known_item_id"])
                        if untaught.changed:
                            index_changes.append((link["known_item_id"], untaught.reindex))
                    reverted = (await db.fetch(sql.revert_review, review_id, now))[0]
                    await db.fetch(
                        sql.set_status, submission_id, SubmissionStatus.IN_REVIEW.value, now
                    )
            for item_id, fingerprint in index_changes:
                if fingerprint is None:
                    self._index.remove(item_id)
                else:
                    self._index.add(item_id, fingerprint)
        return review_from_row(
            reverted, [link["known_item_id"] for link in links], kept_item_ids=kept
        )

    async def _unteach(self, db: Executor, review_id: int, link: Row, now: object) -> _Untaught:
        """Put one known item back as it was before the review.

        If a later review still in force changed the item since, that verdict stands: this
        review is spliced out of the item's history instead, by handing its "before" to the
        later review, so undoing that one goes back to what was there before both. If an
        import or an edit changed it since, that is newer knowledge than the review's, so the
        item stays as it is.
        """
        sql = self._tips
        item_id = link["known_item_id"]
        later = await db.fetch(sql.later_link, item_id, review_id)
        if later:
            previous = encode_json(decode_json(link["previous"]))
            await db.fetch(
                sql.splice_link, later[0]["review_id"], item_id, bool(link["created"]), previous
            )
            return _Untaught()
        if link["left_state"] is not None:
            current = await db.fetch(sql.known_item_state_by_id, item_id)
            # Both sides through the same JSON round trip, so types and spellings agree.
            now_state = decode_json(encode_json(known_item_state(current[0])))
            if now_state != decode_json(link["left_state"]):
                return _Untaught(kept=True)
        if link["created"]:
            await db.fetch(sql.retire_known_item, item_id, now)
            return _Untaught(changed=True)
        state = decode_json(link["previous"])
        await db.fetch(
            sql.restore_known_item, *restore_parameters(item_id, state, self._encode_time)
        )
        alive = state["retired_at"] is None
        return _Untaught(reindex=state_fingerprint(state) if alive else None, changed=True)

    # -- roles and the audit log --------------------------------------------------------------

    async def set_role(self, pseudonym: str, role: Role, added_by: str | None) -> None:
        _, now = self._now()
        await self._run(
            "give a role",
            self._tips.set_role,
            _text(pseudonym, "a pseudonym"),
            _word(Role, role).value,
            added_by,
            now,
            self._role_scope,
        )

    async def remove_role(self, pseudonym: str) -> bool:
        rows = await self._run("remove a role", self._tips.remove_role, pseudonym, self._role_scope)
        return bool(rows)

    async def role_of(self, pseudonym: str) -> Role | None:
        rows = await self._run("read a role", self._tips.role_of, pseudonym, self._role_scope)
        return Role(rows[0]["role"]) if rows else None

    async def list_roles(self) -> list[Moderator]:
        rows = await self._run("list roles", self._tips.list_roles, self._role_scope)
        return [moderator_from_row(r) for r in rows]

    @property
    def _role_scope(self) -> int:
        return self._bot_scope if self._bot_scope is not None else 0

    async def audit(
        self,
        actor: str | None,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        _, now = self._now()
        await self._run(
            "write the audit log",
            self._tips.insert_audit,
            now,
            actor,
            _text(action, "an audit action"),
            subject,
            encode_json(detail),
        )

    async def audit_log(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self._run("read the audit log", self._tips.audit_log, _limit(limit))
        return [audit_entry_from_row(row) for row in rows]

    # -- stats, retention, media --------------------------------------------------------------

    async def stats(self, since: datetime) -> Stats:
        sql = self._tips
        start = self._encode_time(require_utc(since, "since"))
        with self._boundary("count for the stats"):
            async with self._connection() as db:
                queue = (await db.fetch(sql.queue_size, *_WAITING, self._bot_scope))[0]["n"]
                matched = SubmissionStatus.MATCHED.value
                counts = (await db.fetch(sql.submissions_since, start, matched, self._bot_scope))[0]
                times = await db.fetch(sql.reply_times, start, self._bot_scope)
        seconds = [
            (as_utc(row["first_reply_at"]) - as_utc(row["created_at"])).total_seconds()
            for row in times
        ]
        return Stats(
            queue=queue,
            known_items=await self.count_known_items(),
            submissions_today=counts["submissions"],
            matches_today=counts["matches"],
            median_seconds_to_card=statistics.median(seconds) if seconds else None,
        )

    async def purge_expired(self, before: datetime) -> PurgeResult:
        sql = self._tips
        cutoff = self._encode_time(require_utc(before, "before"))
        in_use: set[str] = set()
        with self._boundary("drop expired tips' links and media"):
            async with self._transaction() as db:
                chats = await db.fetch(sql.purge_chats, cutoff)
                # Read before they are dropped (RETURNING gives the new value, NULL). A path
                # set between the two by a concurrent writer keeps its file: the safe side.
                expiring = await db.fetch(sql.expiring_media, cutoff)
                released = sorted(row["media_path"] for row in expiring)
                await db.fetch(sql.purge_media, cutoff)
                if released:
                    rows = await db.fetch(sql.media_in_use, self._encode_list(released))
                    in_use = {row["media_path"] for row in rows}
        return PurgeResult(
            chats_dropped=len(chats),
            media_paths=tuple(path for path in released if path not in in_use),
        )

    async def media_in_use(self, paths: Sequence[str]) -> set[str]:
        if not paths:
            return set()
        rows = await self._run(
            "check which media is in use", self._tips.media_in_use, self._encode_list(paths)
        )
        return {row["media_path"] for row in rows}

    async def media_of_known_item(self, item_id: int) -> str | None:
        rows = await self._run(
            "find a known item's picture", self._tips.media_of_known_item, item_id
        )
        return rows[0]["media_path"] if rows else None
