"""Verdicts on tips, over SQL: recording one teaches the known items, undoing one puts them
back as they were.

Known items written by a review go through the same upsert as every other known item
(``_upsert_in``, provided by :class:`storage.repository.SqlStorage`), and this storage's
index follows each committed change at once; other instances follow through
``refresh_index``, because the schema bumps a changed item's ``revision``. PostgreSQL locks
the submission's row while a verdict is given or undone, and the known items it changes.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from storage.base import KnownItem, KnownItemDraft, UpsertResult
from storage.errors import Conflict, NotFound
from storage.exchange_sql import PARTNER_ITEM_AUTHOR
from storage.features import FeatureRepository
from storage.rows import (
    Executor,
    Row,
    decode_json,
    encode_json,
    item_from_row,
    known_item_state,
    normalise_draft,
    restore_parameters,
    review_from_row,
    state_fingerprint,
    submission_item_from_row,
)
from storage.sql_runner import non_empty
from storage.tips import ItemStatus, Review, ReviewDraft, Reviews, SubmissionItem

__all__ = ["ReviewRepository"]


def _with_features(item: SubmissionItem, features: dict[int, bytes]) -> SubmissionItem:
    """The item with its picture's stored local features in its fingerprint, if it has any."""
    if item.fingerprint is None or item.id not in features:
        return item
    fingerprint = dataclasses.replace(item.fingerprint, known_features=features[item.id])
    return dataclasses.replace(item, fingerprint=fingerprint)


def _known_item_title(ticket: str, position: int, several: bool) -> str:
    """A new known item's title: the tip it came from, so a moderator can find the source."""
    return f"Tip {ticket}, picture {position}" if several else f"Tip {ticket}"


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


class ReviewRepository(FeatureRepository, Reviews):
    """:class:`storage.tips.Reviews` over SQL."""

    @abstractmethod
    async def _upsert_in(self, db: Executor, draft: KnownItemDraft, now: datetime) -> UpsertResult:
        """The known-item upsert, run on ``db`` (without touching the index)."""

    async def record_review(self, submission_id: int, draft: ReviewDraft) -> Review:
        verdict = Verdict.parse(draft.verdict)
        moderator = non_empty(draft.moderator, "the moderator")
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
                    features = {
                        row[0]: bytes(row[1])
                        for row in await db.fetch(self._feature_sql.of_tip, submission_id)
                    }
                    drafts = self._review_drafts(
                        ticket,
                        [_with_features(submission_item_from_row(r), features) for r in items],
                        verdict,
                        draft,
                    )
                    for opinion in await self._opinion_drafts(db, ticket, verdict, draft):
                        drafts.setdefault(opinion.natural_key, opinion)
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
            self._learn_features(
                (result.item.id, drafts[key].fingerprint)
                for key, result in zip(sorted(drafts), results, strict=True)
            )
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

    async def _opinion_drafts(
        self, db: Executor, ticket: str, verdict: Verdict, draft: ReviewDraft
    ) -> list[KnownItemDraft]:
        """Our word on the partners' items the verdict is about: an item of ours with each
        one's hashes, so it carries the partner's key (see :mod:`storage.partners`)."""
        drafts = []
        for item_id in sorted(set(draft.about)):
            rows = await db.fetch(self._known.item, item_id)
            if not rows:
                continue  # retracted meanwhile: there is nothing left to have a word on
            item = item_from_row(rows[0])
            if item.draft.recorded_by != PARTNER_ITEM_AUTHOR:
                continue  # ours already: the verdict's own items speak for us
            drafts.append(
                normalise_draft(
                    KnownItemDraft(
                        fingerprint=item.fingerprint,
                        verdict=verdict,
                        title=_known_item_title(ticket, 0, several=False),
                        note=draft.note,
                        fact_check_url=draft.fact_check_url,
                        recorded_by=draft.moderator,
                    )
                )
            )
        return drafts

    async def _teach(
        self, db: Executor, draft: KnownItemDraft, now: datetime, ticket: str
    ) -> _Taught:
        """Create or update one known item for a review, keeping what undoing it needs."""
        rows = await db.fetch(self._known.state, draft.natural_key)
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
        left = await db.fetch(self._known.state_by_id, upsert.item.id)
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
            current = await db.fetch(self._known.state_by_id, item_id)
            # Both sides through the same JSON round trip, so types and spellings agree.
            now_state = decode_json(encode_json(known_item_state(current[0])))
            if now_state != decode_json(link["left_state"]):
                return _Untaught(kept=True)
        if link["created"]:
            await db.fetch(self._known.retire, item_id, now)
            return _Untaught(changed=True)
        state = decode_json(link["previous"])
        await db.fetch(self._known.restore, *restore_parameters(item_id, state, self._encode_time))
        alive = state["retired_at"] is None
        return _Untaught(reindex=state_fingerprint(state) if alive else None, changed=True)
