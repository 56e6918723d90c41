"""One contract, every backend: the same tests run on SQLite and on PostgreSQL.

Each PostgreSQL test gets a schema of its own (``?search_path=`` on the URL), dropped in
``finally``; each SQLite test a file in its own tmp_path. Raw SQL appears here only to play
another writer (a newer release, a review being undone) that the interface does not offer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from checks.errors import ConfigError, InvalidHash
from checks.matching import Confidence, MatchKind
from checks.signals import Fingerprint, Pdq, Phash
from checks.verdicts import Verdict
from storage import (
    KnownItemDraft,
    PostgresStorage,
    SqliteStorage,
    Storage,
    UpsertResult,
    open_storage,
)
from storage.errors import Conflict, MigrationError, StorageError, StorageUnavailable
from storage.exchange import import_manifest
from storage.migrate import Migration, load_migrations
from tests.clocks import FakeClock
from tests.storage_backends import (
    flip,
    fresh_schema,
    postgres_execute,
    rand_hex,
    sqlite_execute,
)


def _no_pictures(data: bytes) -> Fingerprint:
    raise AssertionError("these manifests name no pictures")


def fingerprint(quality: int | None = 90, *, sha: bool = True) -> Fingerprint:
    return Fingerprint(
        sha256=rand_hex(256) if sha else None,
        pdq=rand_hex(256),
        pdq_quality=quality,
        phash=rand_hex(64),
    )


def draft(fp: Fingerprint | None = None, **fields: Any) -> KnownItemDraft:
    fields.setdefault("verdict", Verdict.MISATTRIBUTED)
    fields.setdefault("title", "Flood photo is from 2011")
    return KnownItemDraft(fingerprint=fp or fingerprint(), **fields)


def future_migrations(dialect: str) -> tuple[Migration, ...]:
    """What a newer release ships: ours plus one more."""
    ours = load_migrations(dialect)
    extra = Migration(len(ours) + 1, "future_feature", "CREATE TABLE future_feature (id INTEGER)")
    return (*ours, extra)


# -- backends ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Backend:
    name: str
    url: str
    open: Callable[..., Awaitable[Storage]]
    #: Another instance that picks up changes only when asked (PostgreSQL: no listener).
    open_follower: Callable[[], Awaitable[Storage]]
    unreachable: Callable[[], Awaitable[Storage]]
    unreachable_hint: str  # what the error message must name
    execute: Callable[[str], Awaitable[None]]  # raw SQL as another writer would run it
    #: A second, empty database on the same backend (to compare two ways of writing).
    twin: Callable[[], AbstractAsyncContextManager[Storage]]
    #: SQL that makes the database refuse to insert an item titled "poison".
    refuse_poison: str
    #: The time every storage opened here reads.
    clock: FakeClock


@pytest.fixture
async def backend(backend_server: str | None, tmp_path: Path) -> AsyncIterator[Backend]:
    server = backend_server
    clock = FakeClock()
    if server is None:
        path = tmp_path / "tipline.db"

        @asynccontextmanager
        async def sqlite_twin() -> AsyncIterator[Storage]:
            storage = await SqliteStorage.open(tmp_path / "twin.db", clock=clock)
            try:
                yield storage
            finally:
                await storage.close()

        yield Backend(
            name="sqlite",
            url=str(path),
            open=lambda **kw: SqliteStorage.open(path, clock=clock, **kw),
            open_follower=lambda: SqliteStorage.open(path, clock=clock),
            unreachable=lambda: SqliteStorage.open(tmp_path / "no" / "such" / "dir.db"),
            unreachable_hint="does not exist",
            execute=lambda sql: sqlite_execute(path, sql),
            twin=sqlite_twin,
            refuse_poison="""
                CREATE TRIGGER refuse_poison BEFORE INSERT ON known_items
                WHEN NEW.title = 'poison'
                BEGIN SELECT RAISE(ABORT, 'poison refused'); END
            """,
            clock=clock,
        )
        return

    @asynccontextmanager
    async def postgres_twin() -> AsyncIterator[Storage]:
        async with fresh_schema(server) as twin_url:
            storage = await PostgresStorage.open(twin_url, clock=clock, listen=False)
            try:
                yield storage
            finally:
                await storage.close()

    async with fresh_schema(server) as url:
        yield Backend(
            name="postgres",
            url=url,
            open=lambda **kw: PostgresStorage.open(url, clock=clock, **kw),
            open_follower=lambda: PostgresStorage.open(url, clock=clock, listen=False),
            unreachable=lambda: PostgresStorage.open(
                "postgresql://postgres@127.0.0.1:1/test", connect_timeout=5
            ),
            unreachable_hint="127.0.0.1:1",
            execute=lambda sql: postgres_execute(url, sql),
            twin=postgres_twin,
            refuse_poison="""
                CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.title = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse_poison BEFORE INSERT ON known_items
                    FOR EACH ROW EXECUTE FUNCTION refuse_poison();
            """,
            clock=clock,
        )


@asynccontextmanager
async def opened(
    backend: Backend, *, follower: bool = False, **options: Any
) -> AsyncIterator[Storage]:
    storage = await (backend.open_follower() if follower else backend.open(**options))
    try:
        yield storage
    finally:
        await storage.close()


# -- the contract -----------------------------------------------------------------------------


class TestStorageContract:
    async def test_fresh_database_is_created_migrated_and_empty(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            assert await storage.count_known_items() == 0
            assert [item async for item in storage.iter_known_items()] == []
            assert await storage.lookup(fingerprint()) == []
            assert await storage.get_known_item(1) is None
            assert await storage.refresh_index() == 0

    async def test_migrating_an_up_to_date_database_does_nothing(self, backend: Backend) -> None:
        newer = future_migrations(backend.name)
        async with opened(backend, migrations=newer) as storage:
            await storage.upsert_known_item(draft())
        # Running the extra version again would fail ("table future_feature already exists").
        async with opened(backend, migrations=newer) as storage:
            assert await storage.count_known_items() == 1

    async def test_a_schema_newer_than_the_code_is_refused(self, backend: Backend) -> None:
        async with opened(backend, migrations=future_migrations(backend.name)):
            pass
        ours = len(load_migrations(backend.name))
        with pytest.raises(
            MigrationError, match=rf"version {ours + 1}.*only knows up to version {ours}"
        ):
            await backend.open()

    async def test_unreachable_database_is_unavailable_quickly(self, backend: Backend) -> None:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            await backend.unreachable()
        assert time.monotonic() - started < 5
        assert backend.unreachable_hint in caught.value.message

    async def test_a_closed_storage_says_so(self, backend: Backend) -> None:
        storage = await backend.open()
        await storage.close()
        await storage.close()  # closing twice is harmless
        with pytest.raises(StorageError, match="closed"):
            await storage.count_known_items()

    async def test_upsert_is_idempotent(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            d = draft(recorded_by="mod-a")
            first = await storage.upsert_known_item(d)
            assert (first.created, first.updated) == (True, False)
            assert first.item.created_at == first.item.updated_at
            assert first.item.created_at.utcoffset() == timedelta(0)
            again = await storage.upsert_known_item(d)
            assert (again.created, again.updated) == (False, False)
            assert again.item == first.item  # updated_at did not move
            assert await storage.count_known_items() == 1

    async def test_changed_draft_updates_in_place(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            d = draft(recorded_by="mod-a")
            first = (await storage.upsert_known_item(d)).item
            backend.clock.advance(1)
            changed = dataclasses.replace(d, verdict=Verdict.EDITED, note="crop", recorded_by="b")
            result = await storage.upsert_known_item(changed)
            assert (result.created, result.updated) == (False, True)
            item = result.item
            assert item.id == first.id
            assert item.created_at == first.created_at
            assert item.updated_at > first.updated_at
            assert item.verdict is Verdict.EDITED and item.draft.note == "crop"
            assert item.updated_by == "b" and item.draft.recorded_by == "mod-a"
            assert await storage.get_known_item(item.id) == item
            # Re-recording the same content by someone else is not a change.
            same = await storage.upsert_known_item(dataclasses.replace(changed, recorded_by="c"))
            assert (same.created, same.updated, same.item.updated_by) == (False, False, "b")

    async def test_natural_key_prefers_sha256_then_pdq_then_phash(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            full = fingerprint()
            by_sha = (await storage.upsert_known_item(draft(full))).item
            # Same SHA-256, new PDQ: the same item, and the index follows the new hash.
            moved = Fingerprint(sha256=full.sha256, pdq=rand_hex(256), pdq_quality=90)
            result = await storage.upsert_known_item(draft(moved))
            assert (result.item.id, result.updated) == (by_sha.id, True)
            assert await storage.lookup(Fingerprint(pdq=full.pdq, pdq_quality=90)) == []
            assert [m.item_id for m in await storage.lookup(moved)] == [by_sha.id]

            no_sha = Fingerprint(pdq=rand_hex(256), pdq_quality=90, phash=rand_hex(64))
            by_pdq = (await storage.upsert_known_item(draft(no_sha))).item
            other_phash = dataclasses.replace(no_sha, phash=rand_hex(64))
            assert (await storage.upsert_known_item(draft(other_phash))).item.id == by_pdq.id
            # A SHA-256 outranks the PDQ: with one, it is a different item.
            with_sha = dataclasses.replace(no_sha, sha256=rand_hex(256))
            assert (await storage.upsert_known_item(draft(with_sha))).item.id != by_pdq.id

            only_phash = Fingerprint(phash=rand_hex(64))
            by_phash = (await storage.upsert_known_item(draft(only_phash))).item
            again = await storage.upsert_known_item(draft(only_phash, title="renamed"))
            assert (again.item.id, again.updated) == (by_phash.id, True)
            assert await storage.count_known_items() == 4

    async def test_fields_round_trip_and_iterate_oldest_first(self, backend: Backend) -> None:
        drafts = [
            draft(
                fingerprint(None),
                verdict=Verdict.AUTHENTIC,
                title="",
                note="",
                recorded_by=None,
            ),
            draft(
                Fingerprint(pdq=rand_hex(256), pdq_quality=0),
                verdict=Verdict.SYNTHETIC,
                title="평양 사진 — «фото» 🛰️ صورة",
                note="line one\nline two\t'quoted' \"double\" \\ %s ?1 $1",
                fact_check_url="https://example.org/check?id=1&x=ü",
                original_date="2011-03-11",
                original_place="Sendai, Japan",
                source="AFP",
                recorded_by="a" * 64,
            ),
            draft(Fingerprint(phash=rand_hex(64)), verdict=Verdict.INCONCLUSIVE),
        ]
        async with opened(backend) as storage:
            written = [(await storage.upsert_known_item(d)).item for d in drafts]
            assert [item.draft for item in written] == drafts
            listed = [item async for item in storage.iter_known_items()]
            assert listed == written
            assert [i.created_at for i in listed] == sorted(i.created_at for i in listed)
            for item in written:
                assert await storage.get_known_item(item.id) == item
            assert await storage.count_known_items() == 3
            assert await storage.get_known_item(max(i.id for i in written) + 1) is None
        async with opened(backend) as storage:  # and after a restart
            assert [item async for item in storage.iter_known_items()] == written

    async def test_iteration_pages_through_many_items(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            ids = [
                (await storage.upsert_known_item(draft(Fingerprint(phash=f"{i:016x}")))).item.id
                for i in range(storage.ITEM_PAGE + 5)
            ]
            assert [item.id async for item in storage.iter_known_items()] == ids

    async def test_hashes_are_validated_and_normalised(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            fp = fingerprint()
            loud = Fingerprint(
                sha256=fp.sha256.upper(),
                pdq=f"  {fp.pdq.upper()} ",
                pdq_quality=90,
                phash=fp.phash.upper(),
                pdq_mirrored=rand_hex(256),
            )
            item = (await storage.upsert_known_item(draft(loud))).item
            assert item.fingerprint == fp  # lower-case, stripped, mirror not stored
            assert (await storage.upsert_known_item(draft(fp))).created is False
            with pytest.raises(InvalidHash):
                await storage.upsert_known_item(draft(Fingerprint(pdq="xyz")))
            assert await storage.count_known_items() == 1

    async def test_lookup_exact(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            fp = fingerprint()
            item = (await storage.upsert_known_item(draft(fp, verdict=Verdict.STAGED))).item
            (match,) = await storage.lookup(Fingerprint(sha256=fp.sha256))
            assert (match.item_id, match.kind, match.signal, match.distance) == (
                item.id,
                MatchKind.EXACT,
                "sha256",
                0,
            )
            assert (match.verdict, match.title) == (Verdict.STAGED, item.title)
            # The full fingerprint gives one match per item, the best one.
            assert [m.kind for m in await storage.lookup(fp)] == [MatchKind.EXACT]

    async def test_lookup_near_by_pdq(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            fp = fingerprint()
            item = (await storage.upsert_known_item(draft(fp))).item
            query = Fingerprint(pdq=flip(fp.pdq, 5), pdq_quality=80, phash=rand_hex(64))
            (match,) = await storage.lookup(query)
            assert (match.item_id, match.kind, match.signal, match.distance) == (
                item.id,
                MatchKind.NEAR,
                "pdq",
                5,
            )

    async def test_lookup_mirrored(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            fp = fingerprint()
            item = (await storage.upsert_known_item(draft(fp))).item
            query = Fingerprint(
                pdq=rand_hex(256),
                pdq_quality=80,
                phash=rand_hex(64),
                pdq_mirrored=flip(fp.pdq, 3),
            )
            (match,) = await storage.lookup(query)
            assert (match.item_id, match.kind, match.signal, match.distance) == (
                item.id,
                MatchKind.MIRRORED,
                "pdq",
                3,
            )

    async def test_a_flat_picture_mirrored_is_similar_by_its_mirror_s_phash(
        self, backend: Backend
    ) -> None:
        async with opened(backend) as storage:
            fp = fingerprint(quality=Pdq.min_quality - 20)  # too flat for PDQ to decide
            item = (await storage.upsert_known_item(draft(fp))).item
            query = Fingerprint(
                pdq=rand_hex(256),
                pdq_quality=Pdq.min_quality - 20,
                phash=rand_hex(64),
                pdq_mirrored=flip(fp.pdq, 16),
                phash_mirrored=flip(fp.phash, 2),
            )
            (match,) = await storage.lookup(query)
            assert (match.item_id, match.kind, match.signal, match.distance) == (
                item.id,
                MatchKind.MIRRORED,
                "phash",
                2,
            )
            assert match.confidence is Confidence.SIMILAR
            far = dataclasses.replace(query, phash_mirrored=flip(fp.phash, Phash.threshold + 1))
            assert await storage.lookup(far) == []

    async def test_lookup_falls_back_to_phash_when_pdq_quality_is_low(
        self, backend: Backend
    ) -> None:
        async with opened(backend) as storage:
            fp = fingerprint(quality=Pdq.min_quality - 20)
            item = (await storage.upsert_known_item(draft(fp))).item
            close_pdq = flip(fp.pdq, 10)
            (match,) = await storage.lookup(
                Fingerprint(pdq=close_pdq, pdq_quality=90, phash=flip(fp.phash, 4))
            )
            assert (match.item_id, match.kind, match.signal, match.distance) == (
                item.id,
                MatchKind.NEAR,
                "phash",
                4,
            )
            # A close PDQ of low quality decides nothing: pHash beyond its threshold, no match.
            far_phash = flip(fp.phash, Phash.threshold + 3)
            assert (
                await storage.lookup(Fingerprint(pdq=close_pdq, pdq_quality=90, phash=far_phash))
                == []
            )

    async def test_no_match_beyond_the_thresholds(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            fp = fingerprint()
            await storage.upsert_known_item(draft(fp))
            query = Fingerprint(
                sha256=rand_hex(256),
                pdq=flip(fp.pdq, Pdq.threshold + 9),
                pdq_quality=90,
                phash=flip(fp.phash, Phash.threshold + 5),
                pdq_mirrored=flip(fp.pdq, Pdq.threshold + 1),
            )
            assert await storage.lookup(query) == []

    async def test_lookup_ranks_exact_before_near(self, backend: Backend) -> None:
        async with opened(backend) as storage:
            exact_fp = fingerprint()
            near_fp = Fingerprint(pdq=flip(exact_fp.pdq, 2), pdq_quality=90)
            exact = (await storage.upsert_known_item(draft(exact_fp))).item
            near = (await storage.upsert_known_item(draft(near_fp))).item
            query = Fingerprint(sha256=exact_fp.sha256, pdq=exact_fp.pdq, pdq_quality=90)
            matches = await storage.lookup(query)
            assert [(m.item_id, m.kind) for m in matches] == [
                (exact.id, MatchKind.EXACT),
                (near.id, MatchKind.NEAR),
            ]

    async def test_a_second_instance_sees_changes_after_refresh(self, backend: Backend) -> None:
        async with opened(backend) as first, opened(backend, follower=True) as second:
            fp = fingerprint()
            item = (await first.upsert_known_item(draft(fp))).item
            near = Fingerprint(pdq=fp.pdq, pdq_quality=90)
            assert await second.lookup(near) == []
            # The identical file is the database's to find: every instance knows it at once.
            found = [(m.item_id, m.kind) for m in await second.lookup(fp)]
            assert found == [(item.id, MatchKind.EXACT)]
            assert await second.refresh_index() == 1
            assert [m.item_id for m in await second.lookup(near)] == [item.id]
            assert await second.refresh_index() == 0

            moved = dataclasses.replace(fp, pdq=rand_hex(256))
            await first.upsert_known_item(draft(moved))
            assert await second.refresh_index() == 1
            assert await second.lookup(Fingerprint(pdq=fp.pdq, pdq_quality=90)) == []
            assert [
                m.item_id for m in await second.lookup(Fingerprint(pdq=moved.pdq, pdq_quality=90))
            ] == [item.id]

    async def test_a_retired_item_vanishes_everywhere(self, backend: Backend) -> None:
        async with opened(backend) as first, opened(backend, follower=True) as second:
            fp = fingerprint()
            d = draft(fp)
            item = (await first.upsert_known_item(d)).item
            await second.refresh_index()
            await backend.execute(
                "UPDATE known_items SET retired_at = created_at WHERE id = " + str(item.id)
            )
            assert await second.refresh_index() == 1
            assert await second.lookup(fp) == []
            assert await second.get_known_item(item.id) is None
            assert await second.count_known_items() == 0
            assert [i async for i in second.iter_known_items()] == []
            # Recording it again revives the same item.
            revived = await first.upsert_known_item(d)
            assert (revived.item.id, revived.created, revived.updated) == (item.id, False, True)
            await second.refresh_index()
            assert [m.item_id for m in await second.lookup(fp)] == [item.id]

    # -- many at once: batches and imports --------------------------------------------------

    async def test_a_batch_gives_what_one_by_one_upserts_give(self, backend: Backend) -> None:
        shared = fingerprint()
        by_pdq = Fingerprint(pdq=rand_hex(256), pdq_quality=70)
        sequence = [
            draft(recorded_by="import"),
            draft(by_pdq, verdict=Verdict.EDITED, note="crop", source="AFP", recorded_by="a"),
            draft(
                Fingerprint(phash=rand_hex(64)),
                verdict=Verdict.SATIRE,
                fact_check_url="https://example.org/fc?id=1",
                original_date="2019-05-01",
                original_place="Kyiv",
            ),
            draft(shared, recorded_by="a"),
            draft(shared, recorded_by="b"),  # the same content again: unchanged
            draft(shared, verdict=Verdict.STAGED, recorded_by="c"),  # a change: updated
            # The same PDQ in capitals, with a pHash now: the same item, changed.
            draft(
                Fingerprint(pdq=by_pdq.pdq.upper(), pdq_quality=70, phash=rand_hex(64)),
                verdict=Verdict.EDITED,
                note="crop",
                source="AFP",
            ),
            draft(
                Fingerprint(phash=rand_hex(64)), title="평양 — «фото» 🛰️", note="a\nb\t'c' \\ $1 ?1"
            ),
        ]

        def outcome(result: UpsertResult) -> tuple[object, ...]:
            item = result.item
            return (item.id, result.created, result.updated, item.draft, item.updated_by)

        async with opened(backend) as one, backend.twin() as other:
            singles = [await one.upsert_known_item(d) for d in sequence]
            batched = await other.upsert_known_items(sequence)
            assert [outcome(r) for r in batched] == [outcome(r) for r in singles]
            assert [(r.created, r.updated) for r in batched] == [
                (True, False),
                (True, False),
                (True, False),
                (True, False),
                (False, False),
                (False, True),
                (False, True),
                (True, False),
            ]
            # Timestamps tell the same story: unchanged kept its time, the change moved it.
            assert batched[4].item.updated_at == batched[3].item.updated_at
            assert batched[5].item.updated_at > batched[3].item.updated_at
            listed = [(i.id, i.draft, i.updated_by) async for i in other.iter_known_items()]
            assert listed == [(i.id, i.draft, i.updated_by) async for i in one.iter_known_items()]
            assert await other.count_known_items() == 5

    async def test_reimporting_a_batch_changes_nothing(self, backend: Backend) -> None:
        drafts = [draft(recorded_by="import") for _ in range(40)]
        drafts += [draft(Fingerprint(phash=rand_hex(64)), recorded_by="import") for _ in range(10)]
        async with opened(backend) as storage, opened(backend, follower=True) as follower:
            first = await storage.upsert_known_items(drafts)
            assert [(r.created, r.updated) for r in first] == [(True, False)] * len(drafts)
            assert await follower.refresh_index() == len(drafts)
            again = await storage.upsert_known_items(drafts)
            assert [(r.created, r.updated) for r in again] == [(False, False)] * len(drafts)
            assert [r.item for r in again] == [r.item for r in first]  # updated_at stood still
            assert await storage.count_known_items() == len(drafts)
            assert await follower.refresh_index() == 0
            assert await storage.upsert_known_items([]) == []

    async def test_a_batch_is_found_at_once_here_and_after_a_refresh_elsewhere(
        self, backend: Backend
    ) -> None:
        fps = [fingerprint() for _ in range(30)]
        async with opened(backend) as storage, opened(backend, follower=True) as follower:
            results = await storage.upsert_known_items([draft(fp) for fp in fps])
            for fp, result in zip(fps, results, strict=True):
                (match,) = await storage.lookup(Fingerprint(sha256=fp.sha256))
                assert (match.item_id, match.kind) == (result.item.id, MatchKind.EXACT)
            near = Fingerprint(pdq=flip(fps[7].pdq, 4), pdq_quality=90)
            (match,) = await storage.lookup(near)
            assert (match.item_id, match.kind, match.distance) == (
                results[7].item.id,
                MatchKind.NEAR,
                4,
            )
            assert await follower.lookup(near) == []
            assert await follower.refresh_index() == len(fps)
            for fp, result in zip(fps, results, strict=True):
                by_pdq = Fingerprint(pdq=fp.pdq, pdq_quality=90)
                assert [m.item_id for m in await follower.lookup(by_pdq)] == [result.item.id]

    async def test_a_large_import_elsewhere_is_followed_on_a_fresh_index(
        self, backend: Backend
    ) -> None:
        # Enough rows for the follower to build its new index off the event loop and swap it in.
        fps = [fingerprint() for _ in range(9000)]
        async with opened(backend) as storage, opened(backend, follower=True) as follower:
            before = await storage.upsert_known_item(draft(fps[0]))
            assert await follower.refresh_index() == 1
            results = await storage.upsert_known_items([draft(fp) for fp in fps[1:]])
            index_before = follower.index
            assert await follower.refresh_index() == len(fps) - 1
            assert follower.index is not index_before and len(follower.index) == len(fps)
            for fp, item_id in ((fps[0], before.item.id), (fps[-1], results[-1].item.id)):
                assert [m.item_id for m in await follower.lookup(fp)] == [item_id]
            assert await follower.refresh_index() == 0

    async def test_a_key_twice_in_a_batch_ends_as_the_last_says(self, backend: Backend) -> None:
        fp = fingerprint()
        first = draft(fp, recorded_by="a")
        second = draft(fp, verdict=Verdict.EDITED, note="crop", recorded_by="b")
        async with opened(backend) as storage:
            results = await storage.upsert_known_items([first, draft(), second, second])
            assert [(r.created, r.updated) for r in results] == [
                (True, False),
                (True, False),
                (False, True),
                (False, False),
            ]
            item_id = results[0].item.id
            assert results[2].item.id == results[3].item.id == item_id
            stored = await storage.get_known_item(item_id)
            assert stored == results[3].item
            assert stored is not None and stored.verdict is Verdict.EDITED
            assert (stored.draft.recorded_by, stored.updated_by) == ("a", "b")
            assert stored.updated_at > stored.created_at
            assert await storage.count_known_items() == 2
            (match,) = await storage.lookup(fp)
            assert (match.item_id, match.verdict) == (item_id, Verdict.EDITED)

    async def test_a_batch_revives_a_retired_item(self, backend: Backend) -> None:
        async with opened(backend) as first, opened(backend, follower=True) as second:
            d = draft()
            item = (await first.upsert_known_item(d)).item
            await backend.execute(
                f"UPDATE known_items SET retired_at = created_at WHERE id = {item.id}"
            )
            await first.refresh_index()
            await second.refresh_index()
            assert await first.lookup(d.fingerprint) == []
            (revived, new) = await first.upsert_known_items([d, draft()])
            assert (revived.item.id, revived.created, revived.updated) == (item.id, False, True)
            assert new.created
            assert [m.item_id for m in await first.lookup(d.fingerprint)] == [item.id]
            assert await second.refresh_index() == 2
            assert [m.item_id for m in await second.lookup(d.fingerprint)] == [item.id]
            assert await second.count_known_items() == 2

    async def test_a_batch_with_a_bad_draft_saves_none_of_it(self, backend: Backend) -> None:
        good = draft()
        async with opened(backend) as storage:
            with pytest.raises(InvalidHash):
                await storage.upsert_known_items([good, draft(Fingerprint(pdq="xyz"))])
            assert await storage.count_known_items() == 0
            assert await storage.lookup(good.fingerprint) == []

    async def test_a_refused_batch_leaves_nothing_behind_and_earlier_ones_stay(
        self, backend: Backend
    ) -> None:
        async with opened(backend) as storage:
            await backend.execute(backend.refuse_poison)
            kept = await storage.upsert_known_items([draft(), draft()])
            lost = draft()
            with pytest.raises(StorageError, match="poison refused"):
                await storage.upsert_known_items([lost, draft(title="poison")])
            assert [i.id async for i in storage.iter_known_items()] == [r.item.id for r in kept]
            assert await storage.lookup(lost.fingerprint) == []  # nor in the index
            assert [m.item_id for m in await storage.lookup(kept[0].item.fingerprint)] == [
                kept[0].item.id
            ]

    async def test_importing_a_manifest_reports_refused_rows_by_line(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        rows = [
            {"sha256": rand_hex(256), "verdict": "edited"},
            {"pdq": "xyz", "verdict": "edited"},  # line 2: not a hash
            {"phash": rand_hex(64), "verdict": "staged"},
            {"sha256": rand_hex(256), "verdict": "edited", "title": "poison"},  # line 4: refused
            {"pdq": rand_hex(256), "pdq_quality": "80", "verdict": "satire"},
            {"phash": rand_hex(64), "verdict": "synthetic"},
            {"phash": rand_hex(64), "verdict": "synthetic", "title": "poison"},  # line 7
        ]
        manifest = tmp_path / "partner.jsonl"
        manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        read: list[int] = []
        async with opened(backend) as storage:
            await backend.execute(backend.refuse_poison)
            summary = await import_manifest(
                storage, manifest, _no_pictures, batch_size=2, progress=read.append
            )
            assert summary.counts() == {"created": 4, "updated": 0, "unchanged": 0, "failed": 3}
            assert [p.split(":")[0] for p in summary.problems] == ["line 2", "line 4", "line 7"]
            assert "poison refused" in summary.problems[1]
            assert sum(read) == len(rows)
            assert await storage.count_known_items() == 4
            again = await import_manifest(storage, manifest, _no_pictures, batch_size=2)
            assert again.counts() == {"created": 0, "updated": 0, "unchanged": 4, "failed": 3}

            # A batch in which every row is refused is the database's fault: the import stops,
            # and what earlier batches saved stays saved.
            manifest.write_text(
                "".join(
                    json.dumps({"phash": rand_hex(64), "verdict": "edited", "title": title}) + "\n"
                    for title in ("fine", "also fine", "poison", "poison")
                ),
                encoding="utf-8",
            )
            with pytest.raises(StorageError, match="poison refused"):
                await import_manifest(storage, manifest, _no_pictures, batch_size=2)
            assert await storage.count_known_items() == 6


# -- PostgreSQL only: notifications -----------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_instances_follow_each_other_without_refresh(postgres_url: str) -> None:
    async with fresh_schema(postgres_url) as url:
        first = await PostgresStorage.open(url)
        second = await PostgresStorage.open(url)
        try:
            fp = fingerprint()
            item = (await first.upsert_known_item(draft(fp))).item
            deadline = time.monotonic() + 3
            while not await second.lookup(fp):
                assert time.monotonic() < deadline, "no notification reached the second instance"
                await asyncio.sleep(0.02)
            assert [m.item_id for m in await second.lookup(fp)] == [item.id]
        finally:
            await first.close()
            await second.close()


@pytest.mark.postgres
async def test_postgres_listener_stops_once_closed_even_if_a_cancel_is_lost(
    postgres_url: str,
) -> None:
    """On Python 3.11 a cancellation racing a completing wait can be swallowed; the listener
    must still end once the storage is closed, or close() would wait for it forever."""
    async with fresh_schema(postgres_url) as url:
        storage = await PostgresStorage.open(url, listen=False)
        await storage.close()
        async with asyncio.timeout(5):
            await storage._follow()  # what a listener that missed its cancel goes on running


@pytest.mark.postgres
async def test_postgres_instances_follow_a_batch_without_refresh(postgres_url: str) -> None:
    async with fresh_schema(postgres_url) as url:
        first = await PostgresStorage.open(url)
        second = await PostgresStorage.open(url)
        try:
            fps = [fingerprint() for _ in range(20)]
            results = await first.upsert_known_items([draft(fp) for fp in fps])
            deadline = time.monotonic() + 3
            while len(second.index) < len(fps):
                assert time.monotonic() < deadline, "no notification reached the second instance"
                await asyncio.sleep(0.02)
            for fp, result in zip(fps, results, strict=True):
                assert [m.item_id for m in await second.lookup(fp)] == [result.item.id]
        finally:
            await first.close()
            await second.close()


async def test_an_import_batch_that_deadlocked_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock with a moderator's verdict (PostgreSQL) aborts a batch; trying again wins."""
    manifest = tmp_path / "partner.jsonl"
    rows = [{"phash": rand_hex(64), "verdict": "edited"} for _ in range(3)]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    storage = await SqliteStorage.open(tmp_path / "t.db")
    try:
        save = storage.upsert_known_items
        calls = 0

        async def deadlocked_once(drafts: Sequence[KnownItemDraft]) -> list[UpsertResult]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise Conflict("could not save known items: deadlock detected")
            return await save(drafts)

        monkeypatch.setattr(storage, "upsert_known_items", deadlocked_once)
        summary = await import_manifest(storage, manifest, _no_pictures)
        assert (summary.created, summary.failed, calls) == (3, 0, 2)
    finally:
        await storage.close()


# -- SQLite only: the file's settings ---------------------------------------------------------


async def test_sqlite_file_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    storage = await SqliteStorage.open(path)
    await storage.close()
    async with aiosqlite.connect(path) as conn:
        assert (await (await conn.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        versions = await (await conn.execute("SELECT version FROM schema_version")).fetchall()
        assert [v[0] for v in versions] == [m.version for m in load_migrations("sqlite")]


# -- open_storage -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["{path}", "sqlite:///{path}"])
async def test_open_storage_picks_sqlite_for_paths(tmp_path: Path, form: str) -> None:
    storage = await open_storage(form.format(path=tmp_path / "t.db"))
    try:
        assert isinstance(storage, SqliteStorage)
        assert (tmp_path / "t.db").exists()
    finally:
        await storage.close()


@pytest.mark.postgres
async def test_open_storage_picks_postgres(postgres_url: str) -> None:
    async with fresh_schema(postgres_url) as url:
        for scheme in ("postgresql://", "postgres://"):
            storage = await open_storage(scheme + url.split("://", 1)[1])
            try:
                assert isinstance(storage, PostgresStorage)
            finally:
                await storage.close()


@pytest.mark.parametrize("url", ["", "   ", "mysql://db/tipline", "sqlite://relative.db"])
async def test_open_storage_refuses_unknown_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        await open_storage(url)


async def test_unreachable_postgres_message_hides_the_password() -> None:
    with pytest.raises(StorageUnavailable) as caught:
        await open_storage("postgresql://tipline:s3cret@127.0.0.1:1/tipline")
    assert "s3cret" not in caught.value.message
    assert "127.0.0.1:1" in caught.value.message
