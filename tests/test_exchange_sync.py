"""Pulling a partner's feed over real HTTP on 127.0.0.1: tampered entries are refused and named
in the log while the rest applies; hostile partners (garbage, an endless body, a redirect to a
private address, silence) change nothing, in bounded time; the feed server's own answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.signals import Fingerprint
from checks.verdicts import Verdict
from handlers.exchange import (
    FeedPublisher,
    FeedServer,
    SyncLimits,
    feed_server,
    sync_partner,
    sync_partners,
)
from storage import KnownItemDraft, SqliteStorage, Storage
from storage.exchange.feed_format import encode_cursor, entry_of, page_bytes
from storage.exchange.signing import public_key_text, sign
from storage.exchange_base import FeedRow, Partner, PartnerDraft, Trust, entry_key_of
from tests.clocks import FakeClock
from tests.storage_backends import rand_hex

KEY = Ed25519PrivateKey.generate()
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMITS = SyncLimits(timeout=1.0, page_deadline=2.0, max_body=256 * 1024)


def fingerprint() -> Fingerprint:
    return Fingerprint(sha256=rand_hex(256), pdq=rand_hex(256), pdq_quality=90, phash=rand_hex(64))


def feed_row(fp: Fingerprint, sequence: int, verdict: Verdict = Verdict.STAGED) -> FeedRow:
    return FeedRow(
        sequence=sequence,
        key=entry_key_of(fp),
        live=True,
        updated_at=datetime(2024, 6, 1, tzinfo=UTC),
        fingerprint=fp,
        verdict=verdict,
        title=f"item {sequence}",
    )


def page(entries: list[dict[str, Any]], last: int, more: bool = False) -> bytes:
    return page_bytes(
        entries,
        newsroom="Alpha News",
        public_key=public_key_text(KEY),
        next_cursor=encode_cursor(last),
        more=more,
    )


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 that does whatever ``handler`` does; yields its feed URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/feed"
    finally:
        server.close()
        for task in tasks:
            task.cancel()


def answering(bodies: list[bytes], status: str = "200 OK", headers: str = "") -> Handler:
    """Answers each request with the next body (the last one again when they run out)."""

    async def handler(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = bodies.pop(0) if len(bodies) > 1 else bodies[0]
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        writer.write(head.encode() + body)
        await writer.drain()

    return handler


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await SqliteStorage.open(tmp_path / "b.db", clock=FakeClock())
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        yield client


async def subscribe(storage: Storage, url: str, token: str | None = None) -> Partner:
    draft = PartnerDraft("Alpha", url, public_key_text(KEY), Trust.CERTAIN, token)
    return await storage.add_partner(draft)


async def nothing_changed(storage: Storage) -> None:
    partner = await storage.partner("Alpha")
    assert partner is not None
    assert partner.cursor is None and partner.failures == 1 and partner.retry_at is not None
    assert await storage.count_known_items() == 0


class TestTamperedEntries:
    async def test_each_is_refused_by_name_and_the_rest_applies(
        self, storage: Storage, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        good, changed_verdict, changed_hash, wrong_key, replayed = (fingerprint() for _ in "12345")
        first = [entry_of(feed_row(replayed, 1), "Alpha News", KEY)]
        newer_replayed = entry_of(feed_row(replayed, 2, Verdict.EDITED), "Alpha News", KEY)
        tampered_verdict = entry_of(feed_row(changed_verdict, 4), "Alpha News", KEY)
        tampered_verdict["verdict"] = "authentic"
        tampered_verdict["review"]["mediaAuthenticityCategory"] = "OriginalMediaContent"
        tampered_hash = entry_of(feed_row(changed_hash, 5), "Alpha News", KEY)
        tampered_hash["hashes"]["pdq"] = rand_hex(256)
        other_key = entry_of(feed_row(wrong_key, 6), "Alpha News", Ed25519PrivateKey.generate())
        second = [
            entry_of(feed_row(good, 3), "Alpha News", KEY),
            tampered_verdict,
            tampered_hash,
            other_key,
            first[0],  # the older entry, replayed after the newer one
        ]
        bodies = [page(first, 1), page([newer_replayed], 2), page(second, 7)]
        async with raw_server(answering(bodies)) as url:
            partner = await subscribe(storage, url)
            await sync_partner(storage, partner, http, limits=LIMITS)
            partner = await storage.partner("Alpha")
            await sync_partner(storage, partner, http, limits=LIMITS)  # type: ignore[arg-type]
            caplog.set_level(logging.WARNING)
            partner = await storage.partner("Alpha")
            report = await sync_partner(storage, partner, http, limits=LIMITS)  # type: ignore[arg-type]

        assert report.error is None and report.applied == 1
        refused = {key for key, _ in report.rejected}
        names = {entry_key_of(fp) for fp in (changed_verdict, changed_hash, wrong_key)}
        assert refused == names and report.replayed == [entry_key_of(replayed)]
        log = caplog.text
        for key in (*names, entry_key_of(replayed)):
            assert f"partner Alpha: entry {key} rejected" in log
        assert [m.verdict for m in await storage.lookup(good)] == [Verdict.STAGED]
        assert [m.verdict for m in await storage.lookup(replayed)] == [Verdict.EDITED]
        for fp in (changed_verdict, changed_hash, wrong_key):
            assert await storage.lookup(fp) == []
        stored = await storage.partner("Alpha")
        assert stored is not None and stored.cursor == "s7"


class TestHostilePartners:
    async def test_garbage_changes_nothing(self, storage: Storage, http: httpx.AsyncClient) -> None:
        async with raw_server(answering([b"\x00\x01 not a feed"])) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error is not None and "not JSON" in report.error
        await nothing_changed(storage)

    async def test_an_error_status_changes_nothing(
        self, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        async with raw_server(answering([b"{}"], status="503 Busy")) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error == "the feed answered HTTP 503"
        await nothing_changed(storage)

    async def test_an_endless_body_is_cut_at_the_limit(
        self, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        sent = 0

        async def endless(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal sent
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
            chunk = b"[" * 65536
            while True:  # no length, no end: as much as the client will read
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)

        started = time.monotonic()
        async with raw_server(endless) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error is not None and "larger than" in report.error
        assert time.monotonic() - started < 5
        assert sent < 64 * LIMITS.max_body  # stopped reading soon after the limit
        await nothing_changed(storage)

    async def test_a_declared_huge_body_is_not_read(
        self, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        async def huge(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(10)

        async with raw_server(huge) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error is not None and "larger than" in report.error
        await nothing_changed(storage)

    @pytest.mark.parametrize(
        "location", ["http://10.0.0.8/feed", "http://169.254.169.254/latest", "file:///etc/passwd"]
    )
    async def test_a_redirect_to_a_private_address_is_refused(
        self, storage: Storage, http: httpx.AsyncClient, location: str
    ) -> None:
        redirect = answering([b""], status="302 Found", headers=f"Location: {location}\r\n")
        async with raw_server(redirect) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error is not None and "refused" in report.error
        await nothing_changed(storage)

    async def test_a_partner_that_never_answers_costs_one_deadline(
        self, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        async def silent(_reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(60)

        started = time.monotonic()
        async with raw_server(silent) as url:
            report = await sync_partner(storage, await subscribe(storage, url), http, limits=LIMITS)
        assert report.error is not None
        assert time.monotonic() - started < LIMITS.page_deadline + 1
        await nothing_changed(storage)

    async def test_a_partner_in_backoff_waits_unless_forced(
        self, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        async with raw_server(answering([b"garbage"])) as url:
            await subscribe(storage, url)
            assert len(await sync_partners(storage, http, limits=LIMITS)) == 1
            assert await sync_partners(storage, http, limits=LIMITS) == []  # backing off
            [forced] = await sync_partners(storage, http, limits=LIMITS, force=True)
        assert forced.error is not None
        partner = await storage.partner("Alpha")
        assert partner is not None and partner.failures == 2


class TestFeedServer:
    async def test_pages_follow_the_cursor_and_tokens_guard_a_private_feed(
        self, tmp_path: Path, storage: Storage, http: httpx.AsyncClient
    ) -> None:
        publisher_db = await SqliteStorage.open(tmp_path / "a.db", clock=FakeClock())
        server = FeedServer(FeedPublisher(publisher_db, KEY, "Alpha News"), tokens=["t0ken"])
        try:
            ids = []
            for _ in range(3):
                draft = KnownItemDraft(fingerprint(), Verdict.EDITED, recorded_by="m")
                ids.append((await publisher_db.upsert_known_item(draft)).item.id)
            for item_id in ids[:2]:
                await publisher_db.publish(item_id, "m")
            host, port = await server.start("127.0.0.1", 0)
            url = f"http://{host}:{port}/feed"
            assert (await http.get(url)).status_code == 401
            wrong = await http.get(url, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert (await http.get(url.replace("/feed", "/admin"))).status_code == 404
            assert (
                await http.post(url, headers={"Authorization": "Bearer t0ken"})
            ).status_code == 405
            bad = await http.get(url + "?after=zzz", headers={"Authorization": "Bearer t0ken"})
            assert bad.status_code == 400

            partner = await subscribe(storage, url, token="t0ken")
            small = SyncLimits(page_size=1)
            report = await sync_partner(storage, partner, http, limits=small)
            assert (report.error, report.applied, report.pages) == (None, 2, 2)
            await publisher_db.unpublish(ids[0], "m")
            partner = await storage.partner("Alpha")  # type: ignore[assignment]
            report = await sync_partner(storage, partner, http, limits=small)
            assert (report.applied, report.pages) == (1, 1)  # only the tombstone
            fp0 = (await publisher_db.get_known_item(ids[0])).fingerprint  # type: ignore[union-attr]
            fp1 = (await publisher_db.get_known_item(ids[1])).fingerprint  # type: ignore[union-attr]
            fp2 = (await publisher_db.get_known_item(ids[2])).fingerprint  # type: ignore[union-attr]
            assert await storage.lookup(fp0) == []
            assert [m.verdict for m in await storage.lookup(fp1)] == [Verdict.EDITED]
            assert await storage.lookup(fp2) == []  # never published
        finally:
            await server.close()
            await publisher_db.close()

    async def test_a_slow_request_head_is_dropped(self, tmp_path: Path) -> None:
        publisher_db = await SqliteStorage.open(tmp_path / "a.db", clock=FakeClock())
        server = FeedServer(FeedPublisher(publisher_db, KEY, "Alpha News"))
        try:
            host, port = await server.start("127.0.0.1", 0)
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /feed HTTP/1.1\r\n" + b"X: " + b"a" * 9000 + b"\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith(b"HTTP/1.1 400")
            writer.close()
        finally:
            await server.close()
            await publisher_db.close()

    async def test_a_flood_of_silent_clients_is_turned_away(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(feed_server, "MAX_CONCURRENT", 2)
        publisher_db = await SqliteStorage.open(tmp_path / "a.db", clock=FakeClock())
        server = FeedServer(FeedPublisher(publisher_db, KEY, "Alpha News"))
        silent = []
        try:
            host, port = await server.start("127.0.0.1", 0)
            for _ in range(2):  # say nothing: each holds a place until its head times out
                silent.append(await asyncio.open_connection(host, port))
            await asyncio.sleep(0.1)
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /feed HTTP/1.1\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith(b"HTTP/1.1 503")
            writer.close()
        finally:
            for _, quiet in silent:
                quiet.close()
            await server.close()
            await publisher_db.close()


def test_signing_is_what_verification_expects() -> None:
    """The helper the tests above use to forge entries signs as the publisher does."""
    entry = entry_of(feed_row(fingerprint(), 1), "Alpha News", KEY)
    unsigned = {k: v for k, v in entry.items() if k != "signature"}
    assert sign(KEY, unsigned) == entry["signature"]
