"""The exchange's storage contract, on SQLite and PostgreSQL alike: what is published and
when, the feed's cursor, partners, their entries (replays refused, never half-applied) and
who said what."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from checks.errors import InvalidInput
from checks.matching import Confidence, Match, MatchKind
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage import KnownItemDraft, PostgresStorage, SqliteStorage, Storage
from storage.errors import NotFound, StorageError
from storage.exchange_base import PartnerDraft, PartnerEntry, Trust, entry_key_of, is_disputed
from tests.clocks import FakeClock
from tests.storage_backends import fresh_schema, postgres_execute, rand_hex, sqlite_execute

KEY = "UCIoXj+rjwhkTIMWOCofNIb7UJ9oeLIUCastw5afMyc="


@dataclass
class Opened:
    storage: Storage
    execute: Callable[[str], Awaitable[None]]
    clock: FakeClock
    refuse_poison: str


@pytest.fixture
async def db(backend_server: str | None, tmp_path: Path) -> AsyncIterator[Opened]:
    clock = FakeClock()
    if backend_server is None:
        path = tmp_path / "tipline.db"
        storage: Storage = await SqliteStorage.open(path, clock=clock)
        poison = """CREATE TRIGGER refuse_poison BEFORE INSERT ON known_items
            WHEN NEW.title = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END"""
        try:
            yield Opened(storage, lambda sql: sqlite_execute(path, sql), clock, poison)
        finally:
            await storage.close()
        return
    async with fresh_schema(backend_server) as url:
        storage = await PostgresStorage.open(url, clock=clock, listen=False)
        poison = """
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.title = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON known_items
                FOR EACH ROW EXECUTE FUNCTION refuse_poison();"""
        try:
            yield Opened(storage, lambda sql: postgres_execute(url, sql), clock, poison)
        finally:
            await storage.close()


def fingerprint() -> Fingerprint:
    return Fingerprint(sha256=rand_hex(256), pdq=rand_hex(256), pdq_quality=90, phash=rand_hex(64))


async def item(storage: Storage, by: str = "moderator-pseudonym", **fields: object) -> int:
    fields.setdefault("verdict", Verdict.MISATTRIBUTED)
    fp = fields.pop("fingerprint", None) or fingerprint()
    draft = KnownItemDraft(fingerprint=fp, recorded_by=by, **fields)  # type: ignore[arg-type]
    return (await storage.upsert_known_item(draft)).item.id


def entry(
    fp: Fingerprint, sequence: int, verdict: Verdict | None = Verdict.STAGED, **fields: object
) -> PartnerEntry:
    from datetime import UTC, datetime

    return PartnerEntry(
        key=entry_key_of(fp),
        sequence=sequence,
        updated_at=datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=sequence),
        newsroom="Partner News",
        fingerprint=fp if verdict is not None else None,
        verdict=verdict,
        title=str(fields.get("title", "partner's title")),
    )


async def partner(storage: Storage, name: str = "partner") -> int:
    draft = PartnerDraft(name, "http://127.0.0.1:9/feed", KEY, Trust.CERTAIN)
    return (await storage.add_partner(draft)).id


class TestPublishing:
    async def test_an_item_from_a_tip_is_in_no_feed_until_published(self, db: Opened) -> None:
        storage = db.storage
        tip_item = await item(storage)
        assert await storage.publish_imported() == 0
        assert await storage.feed_page(0, 100) == []
        assert not await storage.is_published(tip_item)

        assert await storage.publish(tip_item, "moderator-pseudonym")
        [row] = await storage.feed_page(0, 100)
        assert row.live and row.verdict is Verdict.MISATTRIBUTED
        assert await storage.is_published(tip_item)
        assert not await storage.publish(tip_item, "moderator-pseudonym")  # already

    async def test_imported_items_are_published_by_the_rule_and_stay_withdrawn(
        self, db: Opened
    ) -> None:
        storage = db.storage
        imported = [await item(storage, by="import") for _ in range(3)]
        await item(storage)  # from a tip: not published by the rule
        assert await storage.publish_imported() == 3
        assert [r.key for r in await storage.feed_page(0, 100)] == [
            (await storage.get_known_item(i)).draft.natural_key  # type: ignore[union-attr]
            for i in imported
        ]
        assert await storage.unpublish(imported[0], "moderator-pseudonym")
        assert await storage.publish_imported() == 0  # a withdrawn item stays withdrawn
        assert not await storage.is_published(imported[0])

    async def test_the_cursor_returns_only_what_changed(self, db: Opened) -> None:
        storage = db.storage
        first, second = await item(storage), await item(storage)
        await storage.publish(first, "m")
        await storage.publish(second, "m")
        page = await storage.feed_page(0, 100)
        cursor = page[-1].sequence
        assert await storage.feed_page(cursor, 100) == []

        # A published item's new verdict is news; an unpublished one's is not.
        fp = (await storage.get_known_item(first)).fingerprint  # type: ignore[union-attr]
        await storage.upsert_known_item(
            KnownItemDraft(fingerprint=fp, verdict=Verdict.EDITED, recorded_by="m")
        )
        await item(storage)
        [changed] = await storage.feed_page(cursor, 100)
        assert changed.verdict is Verdict.EDITED and changed.sequence > cursor
        cursor = changed.sequence

        await storage.unpublish(second, "m")
        [gone] = await storage.feed_page(cursor, 100)
        assert not gone.live
        cursor = gone.sequence
        # Retired by an undo: a tombstone too.
        await db.execute(f"UPDATE known_items SET retired_at = updated_at WHERE id = {first}")
        [retired] = await storage.feed_page(cursor, 100)
        assert not retired.live and retired.key == changed.key
        # Paging: the limit holds and the order is the sequence's.
        assert [r.sequence for r in await storage.feed_page(0, 1)] == [gone.sequence]

    async def test_partners_items_and_missing_items_cannot_be_published(self, db: Opened) -> None:
        storage = db.storage
        pid = await partner(storage)
        fp = fingerprint()
        await storage.apply_partner_page(pid, [entry(fp, 1)], "s1")
        [match] = await storage.lookup(fp)
        with pytest.raises(InvalidInput, match="partner"):
            await storage.publish(match.item_id, "m")
        with pytest.raises(NotFound):
            await storage.publish(10_000, "m")
        assert await storage.publish_imported() == 0
        assert await storage.feed_page(0, 10) == []


class TestPartners:
    async def test_add_list_and_remove(self, db: Opened) -> None:
        storage = db.storage
        await partner(storage, "Beta")
        await partner(storage, "Alpha")
        assert [p.name for p in await storage.partners()] == ["Alpha", "Beta"]
        with pytest.raises(InvalidInput, match="already"):
            await partner(storage, "Alpha")
        for bad in (
            PartnerDraft("x", "ftp://example.org/feed", KEY),
            PartnerDraft("", "https://example.org/feed", KEY),
            PartnerDraft("x", "https://example.org/feed", KEY, trust="total"),  # type: ignore[arg-type]
        ):
            with pytest.raises(InvalidInput):
                await storage.add_partner(bad)
        assert "secret" not in repr(
            await storage.add_partner(PartnerDraft("t", "https://e.org/f", KEY, token="secret"))
        )
        assert await storage.remove_partner("Alpha")
        assert not await storage.remove_partner("Alpha")
        assert [p.name for p in await storage.partners()] == ["Beta", "t"]

    async def test_entries_become_lookups_and_removal_takes_them_away(self, db: Opened) -> None:
        storage = db.storage
        pid = await partner(storage)
        fp = fingerprint()
        result = await storage.apply_partner_page(pid, [entry(fp, 3, title="Staged")], "s3")
        assert result.applied == 1 and result.replayed == ()
        [match] = await storage.lookup(fp)
        assert match.verdict is Verdict.STAGED and match.title == "Staged"
        # Theirs to export, not ours: an export (then imported anywhere) would launder them.
        assert [i async for i in storage.iter_known_items()] == []
        stored = await storage.partner("partner")
        assert stored is not None and stored.cursor == "s3" and stored.failures == 0
        assert await storage.remove_partner("partner")
        assert await storage.lookup(fp) == []

    async def test_replays_are_refused_and_newer_entries_apply(self, db: Opened) -> None:
        storage = db.storage
        pid = await partner(storage)
        fp, other = fingerprint(), fingerprint()
        await storage.apply_partner_page(pid, [entry(fp, 5, Verdict.STAGED)], "s5")
        result = await storage.apply_partner_page(
            pid,
            [entry(fp, 4, Verdict.AUTHENTIC), entry(fp, 5, Verdict.AUTHENTIC), entry(other, 6)],
            "s6",
        )
        assert result.applied == 1 and result.replayed == (entry_key_of(fp),) * 2
        [match] = await storage.lookup(fp)
        assert match.verdict is Verdict.STAGED
        # A newer entry applies; a tombstone retires the item; an older update stays refused.
        await storage.apply_partner_page(pid, [entry(fp, 7, Verdict.EDITED)], "s7")
        assert (await storage.lookup(fp))[0].verdict is Verdict.EDITED
        await storage.apply_partner_page(pid, [entry(fp, 8, None)], "s8")
        assert await storage.lookup(fp) == []
        result = await storage.apply_partner_page(pid, [entry(fp, 7, Verdict.EDITED)], "s8")
        assert result.applied == 0 and await storage.lookup(fp) == []
        # Brought back by a newer entry.
        await storage.apply_partner_page(pid, [entry(fp, 9, Verdict.SATIRE)], "s9")
        assert (await storage.lookup(fp))[0].verdict is Verdict.SATIRE

    async def test_a_page_is_never_half_applied(self, db: Opened) -> None:
        storage = db.storage
        pid = await partner(storage)
        fine, poisoned = fingerprint(), fingerprint()
        await storage.apply_partner_page(pid, [entry(fingerprint(), 1)], "s1")
        await db.execute(db.refuse_poison)
        with pytest.raises(StorageError):
            await storage.apply_partner_page(
                pid, [entry(fine, 2), entry(poisoned, 3, title="poison")], "s3"
            )
        assert await storage.lookup(fine) == []
        stored = await storage.partner("partner")
        assert stored is not None and stored.cursor == "s1"

    async def test_sync_results_keep_the_backoff(self, db: Opened) -> None:
        storage = db.storage
        pid = await partner(storage)
        later = db.clock() + timedelta(minutes=2)
        await storage.record_partner_sync(pid, "failed: timeout", failed=True, retry_at=later)
        await storage.record_partner_sync(pid, "failed: timeout", failed=True, retry_at=later)
        stored = await storage.partner("partner")
        assert stored is not None and stored.failures == 2 and stored.retry_at == later
        await storage.record_partner_sync(pid, "0 applied", failed=False, retry_at=None)
        stored = await storage.partner("partner")
        assert stored is not None and stored.failures == 0 and stored.retry_at is None
        assert stored.last_result == "0 applied"


class TestOpinions:
    async def test_who_said_what_and_disputes(self, db: Opened) -> None:
        storage = db.storage
        fp = fingerprint()
        ours = await item(storage, fingerprint=fp, verdict=Verdict.MISATTRIBUTED)
        alpha = await partner(storage, "Alpha")
        beta = await partner(storage, "Beta")
        await storage.apply_partner_page(alpha, [entry(fp, 1, Verdict.MISATTRIBUTED)], "s1")
        opinions = await storage.opinions_on([ours])
        assert [(o.newsroom, o.verdict) for o in opinions] == [
            (None, Verdict.MISATTRIBUTED),
            ("Alpha", Verdict.MISATTRIBUTED),
        ]
        assert not is_disputed(opinions)

        await storage.apply_partner_page(beta, [entry(fp, 1, Verdict.AUTHENTIC)], "s1")
        matched = [m.item_id for m in await storage.lookup(fp)]
        opinions = await storage.opinions_on(matched)
        assert {(o.newsroom, o.trust) for o in opinions} == {
            (None, None),
            ("Alpha", Trust.CERTAIN),
            ("Beta", Trust.CERTAIN),
        }
        assert is_disputed(opinions)

        # A retraction is no opinion: the dispute ends.
        await storage.apply_partner_page(beta, [entry(fp, 2, None)], "s2")
        opinions = await storage.opinions_on([ours])
        assert [o.verdict for o in opinions if o.newsroom == "Beta"] == [None]
        assert not is_disputed(opinions)
        assert await storage.opinions_on([]) == []


class TestPartnersWordInLookups:
    async def test_a_partner_trusted_for_review_never_makes_a_match_certain(
        self, db: Opened
    ) -> None:
        storage = db.storage
        trusted = await partner(storage, "Trusted News")
        reviewed = (
            await storage.add_partner(
                PartnerDraft("Careful News", "http://127.0.0.1:9/feed", KEY, Trust.REVIEW)
            )
        ).id
        ours, theirs, careful = fingerprint(), fingerprint(), fingerprint()
        await item(storage, fingerprint=ours)
        await storage.apply_partner_page(trusted, [entry(theirs, 1)], "s1")
        await storage.apply_partner_page(reviewed, [entry(careful, 1)], "s1")
        [own] = await storage.lookup(ours)
        [trusted_match] = await storage.lookup(theirs)
        [careful_match] = await storage.lookup(careful)
        assert (own.newsroom, own.confidence) == (None, Confidence.CERTAIN)
        assert (trusted_match.newsroom, trusted_match.confidence) == (
            "Trusted News",
            Confidence.CERTAIN,
        )
        # The identical file, but only the moderators may take this partner's word for it.
        assert careful_match.kind is MatchKind.EXACT
        assert (careful_match.newsroom, careful_match.confidence) == (
            "Careful News",
            Confidence.SIMILAR,
        )
        assert Match.from_dict(careful_match.as_dict()).confidence is Confidence.SIMILAR
