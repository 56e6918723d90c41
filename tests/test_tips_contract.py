"""The bot's half of the storage contract (tips, reviews, roles, audit, stats, retention), run
on SQLite and on PostgreSQL alike.

As in ``test_storage_contract``, each PostgreSQL test gets a schema of its own
(``?search_path=``), dropped in ``finally``, and each SQLite test a file in its own tmp_path.
Raw SQL appears only to play the clock (a tip from years ago) where the interface has no say.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from checks.errors import InvalidInput
from checks.matching import MatchKind
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from storage import KnownItemDraft, PostgresStorage, SqliteStorage, Storage
from storage.errors import Conflict, NotFound, StorageError
from storage.tips import (
    ItemOrigin,
    ItemSource,
    ItemStatus,
    ReviewDraft,
    Role,
    Submission,
    SubmissionDraft,
    normalise_ticket,
)
from tests.clocks import FakeClock
from tests.storage_backends import (
    RNG,
    flip,
    fresh_schema,
    postgres_execute,
    rand_hex,
    sqlite_execute,
)

_TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_UPDATES = itertools.count(1_000)


def fingerprint() -> Fingerprint:
    return Fingerprint(sha256=rand_hex(256), pdq=rand_hex(256), pdq_quality=90, phash=rand_hex(64))


def ticket() -> str:
    code = "".join(RNG.choice(_TICKET_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def photo(ref: str | None = None) -> ItemSource:
    return ItemSource(ItemOrigin.PHOTO, ref or f"file-{rand_hex(32)}", 123_456, "image/jpeg")


def tip(
    *,
    tipster: str = "a" * 64,
    items: int = 1,
    update_id: int | None = None,
    media_group: str | None = None,
    code: str | None = None,
    **fields: Any,
) -> SubmissionDraft:
    return SubmissionDraft(
        ticket=code or ticket(),
        update_id=next(_UPDATES) if update_id is None else update_id,
        tipster=tipster,
        sealed_chat=b"\x00sealed\xff" + secrets.token_bytes(8),
        items=tuple(photo() for _ in range(items)),
        media_group=media_group,
        **fields,
    )


async def analysed(
    storage: Storage, submission: Submission, *fps: Fingerprint, media: str | None = None
) -> Submission:
    """Save each item as analysed (one fingerprint per item, in position order)."""
    for item, fp in zip(submission.items, fps, strict=True):
        await storage.save_item_result(
            item.id,
            status=ItemStatus.DONE,
            fingerprint=fp,
            media_path=media or f"{fp.sha256[:2]}/{fp.sha256[2:4]}/{fp.sha256}.orig",
            report={"format": "JPEG", "matches": []},
        )
    found = await storage.get_submission(submission.id)
    assert found is not None
    return found


async def new_analysed_tip(storage: Storage, *fps: Fingerprint, **fields: Any) -> Submission:
    recorded = await storage.record_tip(tip(items=len(fps), **fields))
    submission = await analysed(storage, recorded.submission, *fps)
    await storage.set_status(submission.id, SubmissionStatus.NEW)
    return submission


def review(verdict: Verdict = Verdict.MISATTRIBUTED, moderator: str = "m" * 64) -> ReviewDraft:
    return ReviewDraft(verdict, moderator, "Same scene as 2019", "https://fc.example/1")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- backends ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Backend:
    name: str
    open: Callable[[], Awaitable[Storage]]
    #: Another instance on the same database that picks up changes only when asked.
    open_second: Callable[[], Awaitable[Storage]]
    #: Raw SQL as another writer would run it (here: to move the clock).
    execute: Callable[[str], Awaitable[None]]
    #: The time every storage opened here reads.
    clock: FakeClock


@pytest.fixture
async def backend(backend_server: str | None, tmp_path: Path) -> AsyncIterator[Backend]:
    clock = FakeClock()
    if backend_server is None:
        path = tmp_path / "tipline.db"
        yield Backend(
            name="sqlite",
            open=lambda: SqliteStorage.open(path, clock=clock),
            open_second=lambda: SqliteStorage.open(path, clock=clock),
            execute=lambda sql: sqlite_execute(path, sql),
            clock=clock,
        )
        return
    async with fresh_schema(backend_server) as url:
        yield Backend(
            name="postgres",
            open=lambda: PostgresStorage.open(url, clock=clock),
            open_second=lambda: PostgresStorage.open(url, clock=clock, listen=False),
            execute=lambda sql: postgres_execute(url, sql),
            clock=clock,
        )


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()


@asynccontextmanager
async def second(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open_second()
    try:
        yield opened
    finally:
        await opened.close()


# -- the contract -----------------------------------------------------------------------------


class TestRecordingTips:
    async def test_a_new_tip_is_received_with_its_pictures_from_position_1(
        self, storage: Storage
    ) -> None:
        draft = tip(items=3, provenance={"type": "channel", "title": "평양 «Daily»", "n": 1.5})
        recorded = await storage.record_tip(draft)
        assert (recorded.created, recorded.added_items) == (True, 3)
        s = recorded.submission
        assert s.ticket == draft.ticket and s.status is SubmissionStatus.RECEIVED
        assert (s.tipster, s.sealed_chat, s.notify) == (draft.tipster, draft.sealed_chat, True)
        assert s.provenance == draft.provenance
        assert s.created_at.utcoffset() == timedelta(0) and s.updated_at == s.created_at
        assert (s.replied_at, s.review_posted_at, s.claimed_by, s.note, s.verdict) == (
            None,
            None,
            None,
            None,
            None,
        )
        assert [i.position for i in s.items] == [1, 2, 3]
        assert [i.source for i in s.items] == list(draft.items)
        assert {i.status for i in s.items} == {ItemStatus.PENDING}
        assert [i.update_id for i in s.items] == [draft.update_id, None, None]
        assert all(i.fingerprint is None and i.report is None for i in s.items)
        assert await storage.get_submission(s.id) == s
        assert await storage.get_submission(s.id + 1000) is None

    async def test_two_bots_sharing_a_database_never_collide(self, storage: Storage) -> None:
        """Each bot numbers its updates from its own counter: the same number from two bots
        is two tips, while a repeat from the same bot is still recognised."""
        a = await storage.record_tip(tip(update_id=424242, bot_id=111))
        b = await storage.record_tip(tip(update_id=424242, bot_id=222))
        assert a.created and b.created and a.submission.id != b.submission.id
        again = await storage.record_tip(tip(update_id=424242, bot_id=222))
        assert (again.created, again.added_items) == (False, 0)
        assert again.submission.id == b.submission.id
        assert b.submission.items[0].update_id == 424242

    async def test_a_repeated_update_changes_nothing(self, storage: Storage) -> None:
        draft = tip()
        first = await storage.record_tip(draft)
        again = await storage.record_tip(dataclasses.replace(draft, ticket=ticket()))
        assert (again.created, again.added_items) == (False, 0)
        assert again.submission == first.submission
        # An album part delivered twice is recognised by the item that carries its update.
        part = tip(media_group="album-1")
        await storage.record_tip(part)
        later = tip(media_group="album-1")
        joined = await storage.record_tip(later)
        repeat = await storage.record_tip(dataclasses.replace(later, ticket=ticket()))
        assert (repeat.created, repeat.added_items) == (False, 0)
        assert repeat.submission == joined.submission
        assert len(repeat.submission.items) == 2
        assert len(await storage.submissions_of(draft.tipster)) == 2

    async def test_album_parts_join_their_tipsters_submission(self, storage: Storage) -> None:
        first = await storage.record_tip(tip(media_group="g1", items=1))
        second_part = tip(media_group="g1", items=2)
        joined = await storage.record_tip(second_part)
        assert (joined.created, joined.added_items) == (False, 2)
        s = joined.submission
        assert s.id == first.submission.id and s.ticket == first.submission.ticket
        assert [i.position for i in s.items] == [1, 2, 3]
        assert [i.update_id for i in s.items][1:] == [second_part.update_id, None]
        # The same album id from someone else is not theirs to join.
        other = await storage.record_tip(tip(media_group="g1", tipster="b" * 64))
        assert other.created and other.submission.id != s.id
        assert [i.position for i in other.submission.items] == [1]

    async def test_album_parts_arriving_at_once_make_one_submission(
        self, backend: Backend, storage: Storage
    ) -> None:
        async with second(backend) as other:
            parts = [tip(media_group="burst", items=1) for _ in range(6)]
            stores = [storage, other] * 3
            results = await asyncio.gather(
                *(s.record_tip(p) for s, p in zip(stores, parts, strict=True))
            )
        assert sum(r.created for r in results) == 1
        assert len({r.submission.id for r in results}) == 1
        final = await storage.get_submission(results[0].submission.id)
        assert final is not None
        assert [i.position for i in final.items] == [1, 2, 3, 4, 5, 6]
        assert sorted(i.update_id for i in final.items) == sorted(p.update_id for p in parts)

    async def test_one_update_delivered_twice_at_once_is_one_tip(
        self, backend: Backend, storage: Storage
    ) -> None:
        draft = tip()
        async with second(backend) as other:
            results = await asyncio.gather(
                storage.record_tip(draft),
                other.record_tip(dataclasses.replace(draft, ticket=ticket())),
                storage.record_tip(dataclasses.replace(draft, ticket=ticket())),
            )
        assert sorted(r.created for r in results) == [False, False, True]
        assert len({r.submission.id for r in results}) == 1

    async def test_tickets_are_checked(self, storage: Storage) -> None:
        code = ticket()
        await storage.record_tip(tip(code=code))
        with pytest.raises(Conflict, match="already taken"):
            await storage.record_tip(tip(code=code.lower()))
        with pytest.raises(InvalidInput):
            await storage.record_tip(tip(code="not a ticket"))
        with pytest.raises(InvalidInput):
            await storage.record_tip(dataclasses.replace(tip(), items=()))
        stored = await storage.record_tip(tip(code=" k7qm2xtd "))
        assert stored.submission.ticket == "K7QM-2XTD"

    async def test_a_ticket_is_found_however_it_is_typed(self, storage: Storage) -> None:
        s = (await storage.record_tip(tip(code="K7QM-2XTD"))).submission
        for typed in ("K7QM-2XTD", "k7qm-2xtd", "k7qm2xtd", " K7QM 2XTD ", "k7qm–2xtd"):
            found = await storage.get_submission_by_ticket(typed)
            assert found is not None and found.id == s.id, typed
        for garbage in ("", "   ", "K7QM-2XT", "K7QM-2XTDD", "'; DROP TABLE x; --", "K7QM_2XTD"):
            assert await storage.get_submission_by_ticket(garbage) is None, garbage
        assert await storage.get_submission_by_ticket("ZZZZ-ZZZZ") is None
        assert normalise_ticket("ab cd-ef gh") == "ABCD-EFGH"

    async def test_a_tipsters_submissions_newest_first(self, storage: Storage) -> None:
        mine = [(await storage.record_tip(tip(tipster="c" * 64))).submission for _ in range(4)]
        await storage.record_tip(tip(tipster="d" * 64))
        listed = await storage.submissions_of("c" * 64, limit=3)
        assert [s.id for s in listed] == [s.id for s in reversed(mine)][:3]
        assert await storage.submissions_of("e" * 64) == []


class TestSourceActivity:
    """What the fair-use limits count: a tipster's recent pictures and waiting tips."""

    async def test_pictures_in_the_window_and_tips_waiting(
        self, backend: Backend, storage: Storage
    ) -> None:
        me, window = "f" * 64, timedelta(minutes=10)
        nothing = await storage.activity_of(me, window)
        assert (nothing.pictures, nothing.pending, nothing.oldest) == (0, 0, None)
        first = (await storage.record_tip(tip(tipster=me, items=3))).submission
        backend.clock.advance(300)
        album = (await storage.record_tip(tip(tipster=me, media_group="al", items=1))).submission
        await storage.record_tip(tip(tipster=me, media_group="al", items=1))  # a later part
        await storage.record_tip(tip(tipster="9" * 64, items=5))  # someone else's
        now = await storage.activity_of(me, window)
        assert (now.pictures, now.pending, now.oldest) == (5, 2, first.created_at)
        assert now.as_of > album.created_at
        # The album being received is not a tip waiting besides itself.
        assert (await storage.activity_of(me, window, album="al")).pending == 1
        assert (await storage.activity_of(me, window, album="other")).pending == 2
        backend.clock.advance(301)  # the first tip leaves the window, and still waits
        later = await storage.activity_of(me, window)
        assert (later.pictures, later.pending, later.oldest) == (2, 2, album.created_at)

    async def test_tips_no_longer_waiting_are_not_pending(self, storage: Storage) -> None:
        me = "f" * 64
        tips = [(await storage.record_tip(tip(tipster=me))).submission for _ in range(4)]
        await storage.set_status(tips[0].id, SubmissionStatus.MATCHED)
        await storage.set_status(tips[1].id, SubmissionStatus.FAILED)
        await storage.set_status(tips[2].id, SubmissionStatus.IN_REVIEW)
        await storage.record_review(tips[2].id, review())
        activity = await storage.activity_of(me, timedelta(hours=1))
        assert (activity.pictures, activity.pending) == (4, 1)

    async def test_a_bot_counts_only_its_own_tips(self, storage: Storage) -> None:
        me = "f" * 64
        await storage.record_tip(tip(tipster=me, bot_id=1))
        await storage.record_tip(tip(tipster=me, bot_id=2, items=2))
        await storage.serve_bot(2)
        activity = await storage.activity_of(me, timedelta(hours=1))
        assert (activity.pictures, activity.pending) == (2, 1)


class TestNewsroomsSharingADatabase:
    """Several newsrooms' bots on one database share known items, not tips."""

    async def test_a_bot_sees_only_its_own_tips(self, backend: Backend, storage: Storage) -> None:
        async with second(backend) as other_bot:
            await storage.serve_bot(111)
            await other_bot.serve_bot(222)
            # Telegram numbers updates per bot: the same update id at two bots is two tips.
            mine = await new_analysed_tip(storage, fingerprint(), bot_id=111, update_id=7)
            theirs = await new_analysed_tip(other_bot, fingerprint(), bot_id=222, update_id=7)
            assert mine.id != theirs.id
            assert (await storage.get_submission_by_ticket(theirs.ticket)) is None
            assert (await storage.get_submission(theirs.id)) is None
            assert [s.id for s in await storage.review_queue()] == [mine.id]
            assert [s.id for s in await other_bot.review_queue()] == [theirs.id]
            assert [s.id for s in await storage.unfinished_submissions()] == [mine.id]
            stats = await storage.stats(since=utc("2000-01-01T00:00:00"))
            assert (stats.queue, stats.submissions_today) == (1, 1)
            # Known items are shared: a verdict here is known there.
            given = await storage.record_review(mine.id, review(Verdict.STAGED))
            await other_bot.refresh_index()
            (match,) = await other_bot.lookup(mine.items[0].fingerprint)  # type: ignore[arg-type]
            assert match.item_id in given.known_item_ids

    async def test_a_bot_has_its_own_moderators(self, backend: Backend, storage: Storage) -> None:
        person = "p" * 64  # the same pseudonym at both (newsrooms that share a key)
        async with second(backend) as other_bot:
            await storage.serve_bot(111)
            await other_bot.serve_bot(222)
            await storage.set_role(person, Role.MODERATOR, added_by=None)
            assert await storage.role_of(person) is Role.MODERATOR
            assert await other_bot.role_of(person) is None
            assert await other_bot.list_roles() == []
            await other_bot.set_role(person, Role.ADMIN, added_by=None)
            assert await storage.remove_role(person)
            assert await other_bot.role_of(person) is Role.ADMIN
            assert [m.pseudonym for m in await other_bot.list_roles()] == [person]

    async def test_tips_from_before_bots_were_told_apart_are_adopted_once(
        self, backend: Backend, storage: Storage
    ) -> None:
        legacy = await new_analysed_tip(storage, fingerprint())  # recorded with no bot
        await storage.set_role("m" * 64, Role.MODERATOR, added_by=None)
        async with second(backend) as first_bot, second(backend) as later_bot:
            assert await first_bot.serve_bot(111) == 1
            assert await later_bot.serve_bot(222) == 0
            assert (await first_bot.get_submission(legacy.id)) is not None
            assert (await later_bot.get_submission(legacy.id)) is None
            assert await first_bot.role_of("m" * 64) is Role.MODERATOR
            assert await later_bot.role_of("m" * 64) is None
            with pytest.raises(Conflict):
                await first_bot.serve_bot(222)


class TestProcessing:
    async def test_item_results_round_trip(self, storage: Storage) -> None:
        s = (await storage.record_tip(tip(items=2))).submission
        fp = fingerprint()
        loud = dataclasses.replace(fp, sha256=fp.sha256.upper(), pdq_mirrored=rand_hex(256))
        report = {
            "format": "JPEG",
            "metadata": {"make": "Canon", "gps": [38.99, 125.75], "nested": {"x": None}},
            "findings": [{"code": "GPS_PRESENT", "severity": "warning", "message": "ü ✓"}],
            "odd": [math.nan, "nul\x00byte"],
        }
        await storage.save_item_result(
            s.items[0].id,
            status=ItemStatus.DONE,
            fingerprint=loud,
            media_path="ab/cd/x.orig",
            report=report,
        )
        error = {"code": "corrupt_image", "message": "it does not decode"}
        await storage.save_item_result(s.items[1].id, status=ItemStatus.FAILED, error=error)
        done, failed = (await storage.get_submission(s.id)).items  # type: ignore[union-attr]
        assert done.status is ItemStatus.DONE and done.fingerprint == fp
        assert done.media_path == "ab/cd/x.orig" and done.error is None
        assert done.report == {**report, "odd": [None, "nulbyte"]}
        assert failed.status is ItemStatus.FAILED and failed.error == error
        assert failed.fingerprint is None and failed.report is None
        with pytest.raises(NotFound):
            await storage.save_item_result(10**9, status=ItemStatus.FAILED)
        with pytest.raises(InvalidInput):
            await storage.save_item_result(
                s.items[0].id, status=ItemStatus.DONE, fingerprint=Fingerprint(pdq="xyz")
            )

    async def test_unfinished_until_the_card_is_recorded(self, storage: Storage) -> None:
        first = (await storage.record_tip(tip())).submission
        done = await new_analysed_tip(storage, fingerprint())  # analysed, card never sent
        third = (await storage.record_tip(tip())).submission
        assert [s.id for s in await storage.unfinished_submissions()] == [
            first.id,
            done.id,
            third.id,
        ]
        assert await storage.mark_replied(done.id) is True
        assert await storage.mark_replied(done.id) is False
        replied = await storage.get_submission(done.id)
        assert replied is not None and replied.replied_at is not None
        assert replied.replied_at.utcoffset() == timedelta(0)
        assert await storage.mark_replied(done.id) is False
        assert (await storage.get_submission(done.id)).replied_at == replied.replied_at  # type: ignore[union-attr]
        # Answered, but its review card has not reached the moderators: still work left.
        assert [s.id for s in await storage.unfinished_submissions()] == [
            first.id,
            done.id,
            third.id,
        ]

        assert await storage.mark_review_posted(done.id) is True
        assert [s.id for s in await storage.unfinished_submissions()] == [first.id, third.id]
        assert await storage.mark_review_posted(done.id) is False
        posted = await storage.get_submission(done.id)
        assert posted is not None and posted.review_posted_at is not None
        with pytest.raises(NotFound):
            await storage.mark_replied(10**9)
        with pytest.raises(NotFound):
            await storage.mark_review_posted(10**9)

    async def test_a_processing_lease_keeps_other_instances_out(
        self, backend: Backend, storage: Storage
    ) -> None:
        s = (await storage.record_tip(tip())).submission
        assert await storage.take_lease(s.id, "host-a", 60) is True
        assert await storage.take_lease(s.id, "host-b", 60) is False
        assert await storage.take_lease(s.id, "host-a", 60) is True  # a restart renews its own
        await storage.release_lease(s.id, "host-b")  # not theirs: changes nothing
        assert await storage.take_lease(s.id, "host-b", 60) is False
        await storage.release_lease(s.id, "host-a")
        assert await storage.take_lease(s.id, "host-b", 0.05) is True
        backend.clock.advance(0.1)  # host-b died: its lease runs out
        assert await storage.take_lease(s.id, "host-a", 60) is True

    async def test_marks_are_set_once_under_a_race(
        self, backend: Backend, storage: Storage
    ) -> None:
        s = (await storage.record_tip(tip())).submission
        async with second(backend) as other:
            results = await asyncio.gather(
                *(x.mark_replied(s.id) for x in (storage, other, storage, other))
            )
        assert sorted(results) == [False, False, False, True]

    async def test_status_note_and_chat_move_updated_at(
        self, backend: Backend, storage: Storage
    ) -> None:
        s = (await storage.record_tip(tip())).submission
        moments = [s.updated_at]
        for change in (
            storage.set_status(s.id, SubmissionStatus.NEW),
            storage.set_note(s.id, "Same scene as 2019 <b>"),
            storage.drop_sealed_chat(s.id),
        ):
            backend.clock.advance(1)
            await change
            now = await storage.get_submission(s.id)
            assert now is not None
            moments.append(now.updated_at)
        assert moments == sorted(set(moments))
        assert now.status is SubmissionStatus.NEW and now.note == "Same scene as 2019 <b>"
        assert now.sealed_chat is None and now.tipster == s.tipster
        with pytest.raises(InvalidInput, match="unknown SubmissionStatus"):
            await storage.set_status(s.id, "bogus")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="unknown Role"):
            await storage.set_role("p", "owner", None)  # type: ignore[arg-type]
        assert await storage.reviews_of(10**9) == []
        for missing in (
            storage.undo_last_review(10**9),
            storage.set_status(10**9, SubmissionStatus.NEW),
            storage.set_note(10**9, "x"),
            storage.drop_sealed_chat(10**9),
            storage.claim(10**9, "m"),
        ):
            with pytest.raises(NotFound):
                await missing


class TestModeration:
    async def test_of_two_claims_at_once_one_holds(
        self, backend: Backend, storage: Storage
    ) -> None:
        s = (await storage.record_tip(tip())).submission
        async with second(backend) as other:
            holders = await asyncio.gather(
                storage.claim(s.id, "mod-a"),
                other.claim(s.id, "mod-b"),
                storage.claim(s.id, "mod-c"),
            )
        assert len(set(holders)) == 1 and holders[0] in ("mod-a", "mod-b", "mod-c")
        assert await storage.claim(s.id, "mod-d") == holders[0]
        claimed = await storage.get_submission(s.id)
        assert claimed is not None and claimed.claimed_by == holders[0]

    async def test_the_review_queue(self, storage: Storage) -> None:
        waiting = [await new_analysed_tip(storage, fingerprint()) for _ in range(3)]
        await storage.set_status(waiting[1].id, SubmissionStatus.IN_REVIEW)
        matched = await new_analysed_tip(storage, fingerprint())
        await storage.set_status(matched.id, SubmissionStatus.MATCHED)
        await storage.record_tip(tip())  # still being received
        reviewed = await new_analysed_tip(storage, fingerprint())
        await storage.record_review(reviewed.id, review())
        queue = await storage.review_queue()
        assert [s.id for s in queue] == [s.id for s in waiting]
        assert [s.id for s in await storage.review_queue(limit=2)] == [s.id for s in waiting[:2]]
        assert queue[0].items[0].fingerprint is not None
        assert (await storage.stats(datetime.now(UTC) - timedelta(hours=1))).queue == 3

    async def test_a_verdict_teaches_the_index(self, storage: Storage) -> None:
        fp = fingerprint()
        s = await new_analysed_tip(storage, fp)
        given = await storage.record_review(s.id, review(Verdict.EDITED))
        assert given.submission_id == s.id and given.verdict is Verdict.EDITED
        assert given.reverted_at is None and given.created_at.utcoffset() == timedelta(0)
        assert (given.note, given.fact_check_url) == ("Same scene as 2019", "https://fc.example/1")
        (item_id,) = given.known_item_ids
        item = await storage.get_known_item(item_id)
        assert item is not None and item.fingerprint == fp
        assert (item.verdict, item.title) == (Verdict.EDITED, f"Tip {s.ticket}")
        assert (item.draft.note, item.draft.fact_check_url) == (given.note, given.fact_check_url)
        assert item.draft.recorded_by == "m" * 64
        (exact,) = await storage.lookup(Fingerprint(sha256=fp.sha256))
        assert (exact.item_id, exact.kind, exact.verdict) == (item_id, MatchKind.EXACT, "edited")
        (near,) = await storage.lookup(Fingerprint(pdq=flip(fp.pdq, 6), pdq_quality=80))
        assert (near.item_id, near.kind, near.distance) == (item_id, MatchKind.NEAR, 6)
        after = await storage.get_submission(s.id)
        assert after is not None
        assert (after.status, after.verdict) == (SubmissionStatus.REVIEWED, Verdict.EDITED)
        assert await storage.reviews_of(s.id) == [given]
        assert await storage.review_queue() == []

    async def test_a_second_verdict_is_a_conflict(self, backend: Backend, storage: Storage) -> None:
        s = await new_analysed_tip(storage, fingerprint())
        await storage.record_review(s.id, review(Verdict.AUTHENTIC))
        with pytest.raises(Conflict, match="already has a verdict"):
            await storage.record_review(s.id, review(Verdict.STAGED, "x" * 64))
        with pytest.raises(NotFound):
            await storage.record_review(10**9, review())
        # Two moderators at once, on two instances: one verdict, one Conflict.
        racing = await new_analysed_tip(storage, fingerprint(), fingerprint())
        async with second(backend) as other:
            results = await asyncio.gather(
                storage.record_review(racing.id, review(Verdict.EDITED, "1" * 64)),
                other.record_review(racing.id, review(Verdict.SYNTHETIC, "2" * 64)),
                return_exceptions=True,
            )
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "Review"]
        (winner,) = [r for r in results if not isinstance(r, BaseException)]
        assert len(await storage.reviews_of(racing.id)) == 1
        assert (await storage.get_submission(racing.id)).verdict is winner.verdict  # type: ignore[union-attr]
        assert await storage.count_known_items() == 3

    async def test_undo_retires_what_it_created_and_restores_what_it_changed(
        self, backend: Backend, storage: Storage
    ) -> None:
        known_fp, new_fp = fingerprint(), fingerprint()
        imported = (
            await storage.upsert_known_item(
                KnownItemDraft(
                    known_fp,
                    Verdict.AUTHENTIC,
                    title="Flood in Sinuiju, 2010",
                    note="from the archive",
                    original_date="2010-08-21",
                    original_place="Sinuiju",
                    source="AFP",
                    recorded_by="import",
                )
            )
        ).item
        s = await new_analysed_tip(storage, known_fp, new_fp)
        backend.clock.advance(1)
        given = await storage.record_review(s.id, review(Verdict.MISATTRIBUTED))
        assert len(given.known_item_ids) == 2
        changed = await storage.get_known_item(imported.id)
        assert changed is not None and changed.verdict is Verdict.MISATTRIBUTED
        # What the newsroom knew of the picture stays; the verdict and its reasons change.
        assert (changed.title, changed.draft.source, changed.draft.original_place) == (
            "Flood in Sinuiju, 2010",
            "AFP",
            "Sinuiju",
        )
        assert (changed.draft.note, changed.updated_by) == ("Same scene as 2019", "m" * 64)
        (created_id,) = set(given.known_item_ids) - {imported.id}
        created = await storage.get_known_item(created_id)
        assert created is not None and created.title == f"Tip {s.ticket}, picture 2"
        assert await storage.count_known_items() == 2

        undone = await storage.undo_last_review(s.id)
        assert undone is not None and undone.id == given.id
        assert undone.reverted_at is not None and undone.known_item_ids == given.known_item_ids
        assert await storage.get_known_item(imported.id) == imported  # restored exactly
        assert await storage.get_known_item(created_id) is None
        assert await storage.lookup(new_fp) == []
        assert await storage.lookup(Fingerprint(pdq=flip(new_fp.pdq, 3), pdq_quality=90)) == []
        (match,) = await storage.lookup(known_fp)
        assert (match.item_id, match.verdict) == (imported.id, Verdict.AUTHENTIC)
        assert await storage.count_known_items() == 1
        back = await storage.get_submission(s.id)
        assert back is not None
        assert (back.status, back.verdict) == (SubmissionStatus.IN_REVIEW, None)
        assert [r.id for r in await storage.review_queue()] == [s.id]
        assert await storage.undo_last_review(s.id) is None

        # A new verdict on the same tip revives the retired item.
        again = await storage.record_review(s.id, review(Verdict.SYNTHETIC, "n" * 64))
        assert set(again.known_item_ids) == {imported.id, created_id}
        (match,) = await storage.lookup(new_fp)
        assert (match.item_id, match.verdict) == (created_id, Verdict.SYNTHETIC)
        history = await storage.reviews_of(s.id)
        assert [(r.id, r.reverted_at is None) for r in history] == [
            (again.id, True),
            (given.id, False),
        ]
        # Undoing that one retires the item again: before it, the item was retired.
        await storage.undo_last_review(s.id)
        assert await storage.lookup(new_fp) == []
        assert await storage.get_known_item(imported.id) == imported

    async def test_undo_leaves_a_later_verdict_on_the_same_picture(self, storage: Storage) -> None:
        fp = fingerprint()
        first = await new_analysed_tip(storage, fp)
        later = await new_analysed_tip(storage, fp, tipster="b" * 64)
        a = await storage.record_review(first.id, review(Verdict.EDITED))
        b = await storage.record_review(later.id, review(Verdict.STAGED))
        assert a.known_item_ids == b.known_item_ids
        (item_id,) = a.known_item_ids
        await storage.undo_last_review(first.id)
        (match,) = await storage.lookup(fp)
        assert (match.item_id, match.verdict) == (item_id, Verdict.STAGED)
        # With both undone, the picture is unknown again, as it was before either.
        await storage.undo_last_review(later.id)
        assert await storage.lookup(fp) == []
        assert await storage.count_known_items() == 0

    async def test_undo_keeps_what_an_import_changed_after_the_verdict(
        self, backend: Backend, storage: Storage
    ) -> None:
        fp, untouched_fp = fingerprint(), fingerprint()
        s = await new_analysed_tip(storage, fp, untouched_fp)
        given = await storage.record_review(s.id, review(Verdict.EDITED))
        ((match,), untouched) = await storage.lookup(fp), await storage.lookup(untouched_fp)
        item_id = match.item_id
        assert set(given.known_item_ids) == {item_id, untouched[0].item_id}
        # A partner's fact-check arrives by import after the moderator's verdict.
        backend.clock.advance(1)
        await storage.upsert_known_item(
            KnownItemDraft(fp, Verdict.STAGED, note="partner fact-check", recorded_by="import")
        )
        undone = await storage.undo_last_review(s.id)
        assert undone is not None and undone.kept_item_ids == (item_id,)
        kept = await storage.get_known_item(item_id)
        assert kept is not None and kept.verdict is Verdict.STAGED
        assert kept.draft.note == "partner fact-check"
        (match,) = await storage.lookup(fp)
        assert (match.item_id, match.verdict) == (item_id, Verdict.STAGED)
        # The other picture of the tip, unchanged since, is undone as usual.
        assert await storage.lookup(untouched_fp) == []

    async def test_undo_restores_when_an_import_changed_nothing(self, storage: Storage) -> None:
        fp = fingerprint()
        s = await new_analysed_tip(storage, fp)
        given = await storage.record_review(s.id, review(Verdict.EDITED))
        (item_id,) = given.known_item_ids
        item = await storage.get_known_item(item_id)
        assert item is not None
        # Re-importing an export of the database repeats what the verdict wrote.
        await storage.upsert_known_item(item.draft)
        undone = await storage.undo_last_review(s.id)
        assert undone is not None and undone.kept_item_ids == ()
        assert await storage.lookup(fp) == []

    async def test_an_album_verdict_is_one_known_item_per_distinct_picture(
        self, storage: Storage
    ) -> None:
        fp, other = fingerprint(), fingerprint()
        s = await new_analysed_tip(storage, fp, fp, other)
        failed = (await storage.record_tip(tip(items=1))).submission
        await storage.save_item_result(failed.items[0].id, status=ItemStatus.FAILED)
        given = await storage.record_review(s.id, review())
        titles = sorted([(await storage.get_known_item(i)).title for i in given.known_item_ids])  # type: ignore[union-attr]
        assert titles == [f"Tip {s.ticket}, picture 1", f"Tip {s.ticket}, picture 3"]
        nothing = await storage.record_review(failed.id, review(Verdict.INCONCLUSIVE))
        assert nothing.known_item_ids == ()
        assert (await storage.get_submission(failed.id)).verdict is Verdict.INCONCLUSIVE  # type: ignore[union-attr]

    async def test_another_instance_follows_verdicts_after_refresh(
        self, backend: Backend, storage: Storage
    ) -> None:
        fp = fingerprint()
        async with second(backend) as other:
            s = await new_analysed_tip(storage, fp)
            await other.refresh_index()
            given = await storage.record_review(s.id, review(Verdict.SATIRE))
            near = Fingerprint(pdq=fp.pdq, pdq_quality=90)
            assert await other.lookup(near) == []
            # The identical file is the database's to find, at once.
            (match,) = await other.lookup(fp)
            assert (match.item_id, match.verdict) == (given.known_item_ids[0], Verdict.SATIRE)
            assert await other.refresh_index() >= 1
            (match,) = await other.lookup(near)
            assert (match.item_id, match.verdict) == (given.known_item_ids[0], Verdict.SATIRE)
            # And the other way round: undone there, gone here after a refresh.
            assert await other.undo_last_review(s.id) is not None
            assert await other.lookup(fp) == []
            await storage.refresh_index()  # (PostgreSQL's listener may have done it already)
            assert await storage.lookup(fp) == []

    async def test_media_of_a_known_item(self, storage: Storage) -> None:
        fp = fingerprint()
        s = await new_analysed_tip(storage, fp)
        given = await storage.record_review(s.id, review())
        (item_id,) = given.known_item_ids
        assert await storage.media_of_known_item(item_id) == s.items[0].media_path
        imported = (await storage.upsert_known_item(KnownItemDraft(fingerprint(), "edited"))).item
        assert await storage.media_of_known_item(imported.id) is None
        assert await storage.media_of_known_item(10**9) is None
        await storage.undo_last_review(s.id)
        assert await storage.media_of_known_item(item_id) is None


class TestPeopleAndRecords:
    async def test_forgetting_a_tipster(self, storage: Storage) -> None:
        mine = [(await storage.record_tip(tip(tipster="f" * 64))).submission for _ in range(3)]
        theirs = (await storage.record_tip(tip(tipster="g" * 64))).submission
        assert await storage.forget_tipster("f" * 64) == 3
        assert await storage.submissions_of("f" * 64) == []
        for s in mine:
            gone = await storage.get_submission(s.id)
            assert gone is not None and (gone.tipster, gone.sealed_chat) == (None, None)
        kept = await storage.get_submission(theirs.id)
        assert kept is not None and kept.sealed_chat == theirs.sealed_chat
        assert await storage.forget_tipster("f" * 64) == 0

    async def test_a_tipsters_language(self, storage: Storage) -> None:
        assert await storage.language_of("h" * 64) is None
        await storage.set_language("h" * 64, "ko")
        await storage.set_language("i" * 64, "ar")
        await storage.set_language("h" * 64, "zh_Hans")  # a later choice replaces the first
        assert await storage.language_of("h" * 64) == "zh_Hans"
        recorded = (await storage.record_tip(tip(tipster="h" * 64, language="zh_Hans"))).submission
        assert recorded.language == "zh_Hans"
        assert await storage.forget_tipster("h" * 64) == 1  # the language goes with the links
        assert await storage.language_of("h" * 64) is None
        assert await storage.language_of("i" * 64) == "ar"
        with pytest.raises(InvalidInput):
            await storage.set_language("", "ko")

    async def test_roles(self, backend: Backend, storage: Storage) -> None:
        assert await storage.role_of("p1") is None
        await storage.set_role("p1", Role.MODERATOR, "admin-1")
        backend.clock.advance(1)
        await storage.set_role("p2", Role.ADMIN, None)
        await storage.set_role("p1", Role.ADMIN, "admin-2")  # upsert: changes the role
        assert await storage.role_of("p1") is Role.ADMIN
        listed = await storage.list_roles()
        assert [(m.pseudonym, m.role, m.added_by) for m in listed] == [
            ("p1", Role.ADMIN, "admin-2"),
            ("p2", Role.ADMIN, None),
        ]
        assert listed[0].added_at.utcoffset() == timedelta(0)
        assert await storage.remove_role("p1") is True
        assert await storage.remove_role("p1") is False
        assert await storage.role_of("p1") is None
        assert [m.pseudonym for m in await storage.list_roles()] == ["p2"]

    async def test_the_audit_log(self, storage: Storage) -> None:
        detail = {"verdict": "edited", "known_items": [1, 2], "note": "«ü»", "deep": {"a": None}}
        await storage.audit("mod-a", "review.verdict", "K7QM-2XTD", detail)
        await storage.audit(None, "tipster.forget", None, {"tickets": 3})
        await storage.audit("mod-b", "refused")
        log = await storage.audit_log()
        assert [(e.actor, e.action, e.subject, e.detail) for e in log] == [
            ("mod-b", "refused", None, None),
            (None, "tipster.forget", None, {"tickets": 3}),
            ("mod-a", "review.verdict", "K7QM-2XTD", detail),
        ]
        assert log[0].at >= log[1].at >= log[2].at and log[0].at.utcoffset() == timedelta(0)
        assert [e.action for e in await storage.audit_log(limit=1)] == ["refused"]

    async def test_stats(self, backend: Backend, storage: Storage) -> None:
        since = datetime.now(UTC) - timedelta(minutes=5)
        empty = await storage.stats(since)
        assert (empty.queue, empty.known_items, empty.submissions_today) == (0, 0, 0)
        assert (empty.matches_today, empty.median_seconds_to_card) == (0, None)

        old = await new_analysed_tip(storage, fingerprint())  # yesterday's, still queued
        matched = await new_analysed_tip(storage, fingerprint())
        await storage.set_status(matched.id, SubmissionStatus.MATCHED)
        queued = await new_analysed_tip(storage, fingerprint())
        reviewed = await new_analysed_tip(storage, fingerprint(), fingerprint())
        await storage.record_review(reviewed.id, review())
        unanswered = (await storage.record_tip(tip())).submission
        day = "2030-01-02T00:00:"
        timing = {old.id: (0, 1), matched.id: (2, 4), queued.id: (3, 13), reviewed.id: (5, 8)}
        for submission_id, (created, replied) in timing.items():
            await backend.execute(
                f"UPDATE submissions SET created_at = '{day}{created:02d}.000000+00:00', "
                f"first_reply_at = '{day}{replied:02d}.000000+00:00' WHERE id = {submission_id}"
            )
        await backend.execute(
            "UPDATE submissions SET created_at = '2030-01-01T23:59:59.000000+00:00' "
            f"WHERE id = {old.id}"
        )
        await backend.execute(
            f"UPDATE submissions SET created_at = '{day}09.000000+00:00' WHERE id = {unanswered.id}"
        )
        stats = await storage.stats(utc("2030-01-02T00:00:00"))
        assert stats.queue == 2  # old and queued; reviewed has a verdict, matched is done
        assert stats.known_items == 2
        assert stats.submissions_today == 4
        assert stats.matches_today == 1
        assert stats.median_seconds_to_card == 3.0  # of 2, 10 and 3 seconds
        with pytest.raises(InvalidInput):
            await storage.stats(datetime(2030, 1, 2))  # naive: its zone would be a guess

    async def test_purging_expired_tips(self, backend: Backend, storage: Storage) -> None:
        old_fp, shared_fp = fingerprint(), fingerprint()
        old = (await storage.record_tip(tip(items=2))).submission
        await analysed(storage, old, old_fp, shared_fp)
        await storage.drop_sealed_chat(old.id)  # no chat left to drop on this one
        old_with_chat = (await storage.record_tip(tip())).submission
        await analysed(storage, old_with_chat, old_fp)
        recent = (await storage.record_tip(tip())).submission
        recent = await analysed(storage, recent, shared_fp)
        for s in (old, old_with_chat):
            await backend.execute(
                "UPDATE submissions SET created_at = '2001-01-01T00:00:00.000000+00:00' "
                f"WHERE id = {s.id}"
            )
        result = await storage.purge_expired(utc("2002-01-01T00:00:00"))
        assert result.chats_dropped == 1
        # The old-only picture's file can go; the one a recent tip still uses stays.
        old_only = f"{old_fp.sha256[:2]}/{old_fp.sha256[2:4]}/{old_fp.sha256}.orig"
        assert result.media_paths == (old_only,)
        for s in (old, old_with_chat):
            purged = await storage.get_submission(s.id)
            assert purged is not None and purged.sealed_chat is None
            assert all(i.media_path is None for i in purged.items)
            assert all(i.fingerprint is not None for i in purged.items)  # hashes stay
        kept = await storage.get_submission(recent.id)
        assert kept == recent
        again = await storage.purge_expired(utc("2002-01-01T00:00:00"))
        assert (again.chats_dropped, again.media_paths) == (0, ())

    async def test_media_in_use_names_the_files_tips_refer_to(self, storage: Storage) -> None:
        fp = fingerprint()
        await new_analysed_tip(storage, fp)
        used = f"{fp.sha256[:2]}/{fp.sha256[2:4]}/{fp.sha256}.orig"
        assert await storage.media_in_use([used, "00/00/gone.orig"]) == {used}
        assert await storage.media_in_use([]) == set()

    async def test_media_needed_names_only_open_recent_tips_files(self, storage: Storage) -> None:
        """A full media folder may give up closed tips' pictures and expired ones, never those
        of a tip still waiting."""
        open_fp, closed_fp = fingerprint(), fingerprint()
        await new_analysed_tip(storage, open_fp)
        closed = await new_analysed_tip(storage, closed_fp)
        await storage.set_status(closed.id, SubmissionStatus.MATCHED)
        paths = [f"{f.sha256[:2]}/{f.sha256[2:4]}/{f.sha256}.orig" for f in (open_fp, closed_fp)]
        assert await storage.media_needed(paths, utc("2000-01-01T00:00:00")) == {paths[0]}
        assert await storage.media_needed(paths, utc("2999-01-01T00:00:00")) == set()
        assert await storage.media_needed([], utc("2000-01-01T00:00:00")) == set()

    async def test_a_closed_storage_says_so(self, backend: Backend) -> None:
        storage = await backend.open()
        await storage.close()
        with pytest.raises(StorageError, match="closed"):
            await storage.record_tip(tip())
        with pytest.raises(StorageError, match="closed"):
            await storage.review_queue()


# -- SQLite only: upgrading a database --------------------------------------------------------


async def test_an_upgraded_database_knows_which_bot_each_tip_came_to(tmp_path: Path) -> None:
    path = tmp_path / "upgraded.db"
    storage = await SqliteStorage.open(path)
    from_bot = (await storage.record_tip(tip(bot_id=111))).submission
    from_before = (await storage.record_tip(tip())).submission  # keyed "0:...": bot unknown
    await storage.close()
    # Back to the schema before migration 0005, which knew bots only inside the update key
    # (and, from 0007, the languages go too).
    async with aiosqlite.connect(path) as conn:
        await conn.executescript(
            # 0008 (the exchange), 0009 (local features), 0010 (what tipsters were told) and
            # 0011 (known items by SHA-256) go too: they are made again on the way up.
            "DROP INDEX known_items_sha256; DROP TABLE tipster_answers; "
            "DROP TABLE submission_item_features; DROP TABLE known_item_features; "
            "DROP TABLE partner_entries; DROP TABLE partners; DROP TRIGGER feed_items_follow; "
            "DROP TABLE feed_items; DROP INDEX known_items_created_by; "
            "DROP TABLE tipster_languages; ALTER TABLE submissions DROP COLUMN language; "
            "DROP INDEX submissions_bot; ALTER TABLE submissions DROP COLUMN bot_id; "
            "DELETE FROM schema_version WHERE version >= 5;"
        )
    upgraded = await SqliteStorage.open(path)
    try:
        assert await upgraded.serve_bot(222) == 1
        assert await upgraded.get_submission(from_bot.id) is None  # bot 111's, from its key
        assert await upgraded.get_submission(from_before.id) is not None  # adopted
    finally:
        await upgraded.close()
