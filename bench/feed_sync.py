"""How fast a subscriber takes in a partner's feed: a full sync and an incremental one.

Newsroom A (a SQLite file) gets ``--items`` imported hash-only items, published by the import
rule, and serves its feed with ``tipline feed serve`` in a process of its own on 127.0.0.1.
Newsroom B, an empty SQLite database in another process, subscribes and syncs everything
(time, pages, peak RSS of B's process). Then A changes ``--changes`` of its items and B syncs
again (time). Wall time on a shared machine says as much about the neighbours as about the
sync, so the CPU seconds each side spent are printed too. Each sync is run ``--repeat``
times on fresh copies and the medians are printed as JSON. Bounded: at most 200,000 items,
every process killed after ``--timeout`` seconds.

    python bench/feed_sync.py --items 100000 --changes 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.signals import Fingerprint  # noqa: E402
from checks.verdicts import Verdict  # noqa: E402
from handlers.exchange import sync_partners  # noqa: E402
from storage import SqliteStorage  # noqa: E402
from storage.base import KnownItemDraft  # noqa: E402
from storage.exchange_base import PartnerDraft, Trust  # noqa: E402

MAX_ITEMS = 200_000
VERDICTS = [v for v in Verdict if v is not Verdict.INCONCLUSIVE]


def _fingerprint(rng: random.Random) -> Fingerprint:
    return Fingerprint(
        sha256=format(rng.getrandbits(256), "064x"),
        pdq=format(rng.getrandbits(256), "064x"),
        pdq_quality=rng.randint(50, 100),
        phash=format(rng.getrandbits(64), "016x"),
    )


async def prepare(path: Path, items: int) -> None:
    """A's database: ``items`` imported items, published by the import rule."""
    rng = random.Random(20261126)
    storage = await SqliteStorage.open(path)
    try:
        for start in range(0, items, 5000):
            drafts = [
                KnownItemDraft(
                    _fingerprint(rng),
                    rng.choice(VERDICTS),
                    title=f"item {n}",
                    fact_check_url=f"https://news.example/fc/{n}",
                    recorded_by="import",
                )
                for n in range(start, min(items, start + 5000))
            ]
            await storage.upsert_known_items(drafts)
        await storage.publish_imported()
    finally:
        await storage.close()


async def change(path: Path, changes: int) -> None:
    """A changes the verdict of ``changes`` of its items (each then is news in the feed)."""
    storage = await SqliteStorage.open(path)
    try:
        drafts = []
        async for item in storage.iter_known_items():
            verdict = Verdict.EDITED if item.verdict is not Verdict.EDITED else Verdict.STAGED
            drafts.append(KnownItemDraft(item.fingerprint, verdict, recorded_by="import"))
            if len(drafts) == changes:
                break
        await storage.upsert_known_items(drafts)
    finally:
        await storage.close()


async def subscribe(path: Path, url: str, public_key: str) -> dict[str, float]:
    """B's side, run in a process of its own: add A (first time) and sync; time and RSS."""
    storage = await SqliteStorage.open(path)
    try:
        if await storage.partner("A") is None:
            await storage.add_partner(PartnerDraft("A", url, public_key, Trust.CERTAIN))
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as http:
            cpu_before = _cpu_seconds(resource.RUSAGE_SELF)
            started = time.perf_counter()
            [report] = await sync_partners(storage, http, force=True)
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds(resource.RUSAGE_SELF) - cpu_before
        assert report.error is None and not report.rejected, report.summary()
        return {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "applied": report.applied,
            "pages": report.pages,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "known_items": await storage.count_known_items(),
        }
    finally:
        await storage.close()


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child(timeout: float, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_once(folder: Path, a_template: Path, args: argparse.Namespace) -> dict[str, object]:
    a_db, b_db = folder / "a.db", folder / "b.db"
    for suffix in ("", "-wal", "-shm"):
        source = a_template.with_name(a_template.name + suffix)
        if source.exists():
            shutil.copy(source, a_db.with_name(a_db.name + suffix))
    env = {
        **os.environ,
        "TIPLINE_FEED_KEY_FILE": str(folder / "a.key"),
        "TIPLINE_NEWSROOM_NAME": "A",
        "TIPLINE_PUBLISH_IMPORTED": "false",
    }
    tipline = [sys.executable, "-m", "bot"]
    key = subprocess.run(
        [*tipline, "feed", "key"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    listen = f"127.0.0.1:{_free_port()}"
    server = subprocess.Popen(
        [*tipline, "feed", "serve", "--db", str(a_db), "--listen", listen],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{listen}/feed"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "?limit=1", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the feed server did not come up") from None
                time.sleep(0.1)
        before = _process_cpu_seconds(server.pid)
        full = json.loads(_child(args.timeout, "subscribe", str(b_db), url, key))
        full["server_cpu_seconds"] = _process_cpu_seconds(server.pid) - before
        _child(args.timeout, "change", str(a_db), str(args.changes))
        before = _process_cpu_seconds(server.pid)
        incremental = json.loads(_child(args.timeout, "subscribe", str(b_db), url, key))
        incremental["server_cpu_seconds"] = _process_cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"full": full, "incremental": incremental}


def _median(runs: list[dict[str, float]], name: str) -> float:
    return round(statistics.median(r[name] for r in runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    if not 0 < args.items <= MAX_ITEMS or not 0 < args.changes <= args.items:
        raise SystemExit(f"--items is 1..{MAX_ITEMS} and --changes 1..--items")
    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="tipline-feed-bench-") as tmp:
        template = Path(tmp) / "a-template.db"
        started = time.perf_counter()
        _child(args.timeout, "prepare", str(template), str(args.items))
        prepared = time.perf_counter() - started
        runs = []
        for n in range(args.repeat):
            folder = Path(tmp) / f"run{n}"
            folder.mkdir()
            runs.append(run_once(folder, template, args))
    full = [r["full"] for r in runs]
    incremental = [r["incremental"] for r in runs]
    print(
        json.dumps(
            {
                "items": args.items,
                "changes": args.changes,
                "repeat": args.repeat,
                "cpus": os.cpu_count(),
                "load_average_at_start": load,
                "prepare_publisher_seconds": round(prepared, 2),
                "full_sync_seconds_median": round(statistics.median(r["seconds"] for r in full), 2),
                "full_sync_seconds": [round(r["seconds"], 2) for r in full],
                "full_sync_subscriber_cpu_seconds_median": _median(full, "cpu_seconds"),
                "full_sync_publisher_cpu_seconds_median": _median(full, "server_cpu_seconds"),
                "full_sync_pages": full[0]["pages"],
                "full_sync_applied": full[0]["applied"],
                "subscriber_known_items": full[0]["known_items"],
                "subscriber_peak_rss_mb_median": round(
                    statistics.median(r["peak_rss_mb"] for r in full), 1
                ),
                "incremental_sync_seconds_median": round(
                    statistics.median(r["seconds"] for r in incremental), 3
                ),
                "incremental_sync_seconds": [round(r["seconds"], 3) for r in incremental],
                "incremental_subscriber_cpu_seconds_median": _median(incremental, "cpu_seconds"),
                "incremental_publisher_cpu_seconds_median": _median(
                    incremental, "server_cpu_seconds"
                ),
                "incremental_applied": incremental[0]["applied"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("prepare", "change", "subscribe"):
        role, rest = sys.argv[1], sys.argv[2:]
        if role == "prepare":
            asyncio.run(prepare(Path(rest[0]), int(rest[1])))
        elif role == "change":
            asyncio.run(change(Path(rest[0]), int(rest[1])))
        else:
            print(json.dumps(asyncio.run(subscribe(Path(rest[0]), rest[1], rest[2]))))
    else:
        main()
