"""Tips as they arrive and are worked on, over SQL: recording, finding, leasing, marking.

Recording runs in one transaction of the dialect's making, and PostgreSQL's takes an
advisory lock per album (or update) first, so two parts of one album arriving at once make
one submission.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from checks.errors import InvalidInput
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus
from storage.errors import Conflict, NotFound
from storage.rows import (
    Executor,
    Row,
    as_utc,
    encode_json,
    normalise_fingerprint,
    submission_from_row,
    submission_item_from_row,
)
from storage.sql_runner import SqlRunner, checked_limit, non_empty, vocabulary_word
from storage.tips import (
    ItemOrigin,
    ItemStatus,
    RecordedTip,
    SourceActivity,
    Submission,
    SubmissionDraft,
    SubmissionItem,
    Submissions,
    normalise_ticket,
)

__all__ = ["WAITING", "SubmissionRepository", "update_key"]

#: Statuses of a submission that waits for a verdict.
WAITING = (SubmissionStatus.NEW.value, SubmissionStatus.IN_REVIEW.value)


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


class SubmissionRepository(SqlRunner, Submissions):
    """:class:`storage.tips.Submissions` over SQL."""

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

    # -- submissions ----------------------------------------------------------------------

    async def record_tip(self, draft: SubmissionDraft) -> RecordedTip:
        ticket = normalise_ticket(draft.ticket)
        if ticket is None:
            raise InvalidInput(f"{draft.ticket!r} is not a ticket code (like K7QM-2XTD)")
        if not draft.items:
            raise InvalidInput("a tip needs at least one picture or link")
        origins = [vocabulary_word(ItemOrigin, source.origin).value for source in draft.items]
        sql = self._tips
        _, now = self._now()
        with self._boundary(f"record tip {ticket}"):
            async with self._transaction() as db:
                key = _tip_lock_key(draft)
                if sql.lock_tip and key is not None:
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
                        draft.language,
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

    async def activity_of(
        self, tipster: str, window: timedelta, album: str | None = None
    ) -> SourceActivity:
        moment, _ = self._now()
        since = self._encode_time(moment - window)
        rows = await self._run(
            "count a tipster's recent tips",
            self._tips.activity_of,
            tipster,
            since,
            album,
            SubmissionStatus.RECEIVED.value,
            SubmissionStatus.NEW.value,
            SubmissionStatus.IN_REVIEW.value,
            self._bot_scope,
        )
        row = rows[0]
        oldest = row["oldest"]
        return SourceActivity(
            pictures=int(row["pictures"]),
            pending=int(row["pending"]),
            oldest=None if oldest is None else as_utc(oldest),
            as_of=moment,
        )

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
            checked_limit(limit),
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
            vocabulary_word(ItemStatus, status).value,
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
        if fingerprint is not None and fingerprint.known_features:
            # Kept for a verdict to make the picture a known item findable by local features.
            await self._run(
                "save a picture's features",
                self._feature_sql.save_for_tip,
                item_id,
                fingerprint.known_features,
            )

    async def set_status(self, submission_id: int, status: SubmissionStatus) -> None:
        _, now = self._now()
        value = vocabulary_word(SubmissionStatus, status).value
        await self._change("set a tip's status", self._tips.set_status, submission_id, value, now)

    async def take_lease(self, submission_id: int, worker: str, seconds: float) -> bool:
        moment, now = self._now()
        until = self._encode_time(moment + timedelta(seconds=seconds))
        rows = await self._run(
            "lease a tip",
            self._tips.take_lease,
            submission_id,
            non_empty(worker, "worker"),
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
            "claim a tip", self._tips.claim, submission_id, non_empty(moderator, "moderator"), now
        )
        return row["claimed_by"]

    async def set_note(self, submission_id: int, note: str) -> None:
        _, now = self._now()
        await self._change("save a note", self._tips.set_note, submission_id, note, now)

    async def review_queue(self, limit: int = 20) -> list[Submission]:
        return await self._read_submissions(
            "read the review queue",
            self._tips.review_queue,
            *WAITING,
            checked_limit(limit),
            self._bot_scope,
        )

    async def forget_tipster(self, tipster: str) -> int:
        _, now = self._now()
        with self._boundary("forget a tipster"):
            async with self._transaction() as db:
                await db.fetch(self._tips.forget_language, tipster)
                return len(await db.fetch(self._tips.forget_tipster, tipster, now))

    async def drop_sealed_chat(self, submission_id: int) -> None:
        _, now = self._now()
        await self._change("drop a chat link", self._tips.drop_sealed_chat, submission_id, now)
