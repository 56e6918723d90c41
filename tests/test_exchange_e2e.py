"""Two newsrooms, two SQLite databases, real processes on 127.0.0.1: A publishes and serves its
feed (``tipline feed serve``), B subscribes and syncs (``tipline partners``), and B's lookup
of A's picture finds A's verdict under A's name; A's item from a tip that it never published
stays A's alone."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage import KnownItemDraft, SqliteStorage
from storage.exchange_base import Trust
from tests.conftest import ROOT
from tests.storage_backends import rand_hex


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tipline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fingerprint() -> Fingerprint:
    return Fingerprint(sha256=rand_hex(256), pdq=rand_hex(256), pdq_quality=95, phash=rand_hex(64))


async def prepare_newsroom_a(path: Path, published: Fingerprint, kept: Fingerprint) -> None:
    storage = await SqliteStorage.open(path)
    try:
        for fp, title in ((published, "Old flood photo"), (kept, "A source's photo")):
            draft = KnownItemDraft(fp, Verdict.MISATTRIBUTED, title, recorded_by="moderator")
            result = await storage.upsert_known_item(draft)
            if fp is published:
                await storage.publish(result.item.id, "moderator")
    finally:
        await storage.close()


def test_b_finds_a_s_published_verdict_under_a_s_name(tmp_path: Path) -> None:
    published, kept = fingerprint(), fingerprint()
    a_db, b_db = tmp_path / "a.db", tmp_path / "b.db"
    asyncio.run(prepare_newsroom_a(a_db, published, kept))
    env_a = {
        **os.environ,
        "TIPLINE_FEED_KEY_FILE": str(tmp_path / "a-feed.key"),
        "TIPLINE_NEWSROOM_NAME": "Alpha News",
        "TIPLINE_FEED_TOKENS": "b-token",
    }
    env_b = {**os.environ, "TIPLINE_FEED_KEY_FILE": str(tmp_path / "b-feed.key")}
    key = tipline("feed", "key", env=env_a)
    assert key.returncode == 0, key.stderr
    public_key = key.stdout.strip()
    assert "PRIVATE" not in key.stdout + key.stderr

    port = free_port()
    listen = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "feed", "serve", "--db", str(a_db), "--listen", listen],
        cwd=ROOT,
        env=env_a,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://{listen}/feed"
        headers = {"Authorization": "Bearer b-token"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert server.poll() is None, server.communicate()
        added = tipline(
            "partners", "add", "A", url, public_key, "--trust", "certain",
            "--token", "b-token", "--db", str(b_db), env=env_b,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        synced = tipline("partners", "sync", "--db", str(b_db), env=env_b)
        assert synced.returncode == 0, synced.stderr
        assert "A: 1 applied, 0 rejected" in synced.stderr
        listed = tipline("partners", "list", "--db", str(b_db), env=env_b)
        assert "certain" in listed.stdout and "b-token" not in listed.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)

    async def b_looks_up() -> None:
        storage = await SqliteStorage.open(b_db)
        try:
            [match] = await storage.lookup(published)
            assert (match.verdict, match.title) == (Verdict.MISATTRIBUTED, "Old flood photo")
            [opinion] = await storage.opinions_on([match.item_id])
            assert (opinion.newsroom, opinion.trust) == ("A", Trust.CERTAIN)
            assert await storage.lookup(kept) == []
        finally:
            await storage.close()

    asyncio.run(b_looks_up())
