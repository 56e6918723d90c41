"""Load on the whole bot: simulated tipsters send photos through the fake Telegram.

The bot runs as in production (``tipline run`` in its own process, a worker pool, SQLite)
against the fake Bot API on 127.0.0.1. Two ways to load it:

- closed (default): each tipster sends a photo, waits for its verdict card, sends the next;
  by Little's law the mean time to a card is then tipsters / throughput.
- open (``--rate R``): photos leave at R a second in total, each from a tipster who is not
  waiting for a card (one waiting card per chat, so each card is timed against its own photo);
  the time to a card is then what a tipster sees at that rate.

Prints JSON: time from update to verdict card (median, 95th percentile), photos per second,
errors, the bot's longest event-loop stall (from its own log), the CPU each part used per
photo: the bot's process, its workers, and this process (the fake Telegram and the tipsters),
and how busy the machine was with other work around the run.
``--bot-root`` runs the bot from another checkout (the current main, say) under the same fake
and the same load, for a side-by-side comparison. Bounded: --photos in total, --timeout
seconds at most per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from botrun import (
    CardClock,
    bot_environment,
    exit_on_sigterm,
    machine_cpu_seconds,
    percentile,
    photo,
    running_bot,
)

from tests.fakebotapi import FakeBotAPI, FakeUser


async def _closed(clock: CardClock, users: list[FakeUser], pictures: list[bytes]) -> None:
    async def tipster(user: FakeUser, mine: list[bytes]) -> None:
        for data in mine:
            clock.sent(user.id)
            user.send_photo(data)
            await clock.idle(user.id)

    share = [pictures[i :: len(users)] for i in range(len(users))]
    await asyncio.gather(*(tipster(u, p) for u, p in zip(users, share, strict=True)))


async def _open(clock: CardClock, users: list[FakeUser], pictures: list[bytes], rate: float) -> int:
    """Send at ``rate``; returns how many photos left late because every tipster was waiting."""
    start, late = time.perf_counter(), 0
    for i, data in enumerate(pictures):
        due = start + i / rate
        while not (free := [u for u in users if not clock.outstanding(u.id)]):
            await clock.any_answer()
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        elif wait < -0.05:
            late += 1
        user = free[i % len(free)]
        clock.sent(user.id)
        user.send_photo(data)
    for user in users:
        await clock.idle(user.id)
    return late


async def run(args: argparse.Namespace, bot_root: Path | None) -> dict[str, object]:
    pictures = [photo(i) for i in range(args.photos)]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        # Without thumbnails: making them in Pillow would make the fake, not the bot, the
        # bottleneck of this machine (the bot only reads a photo's largest size).
        async with FakeBotAPI(photo_thumbnails=False) as api:
            users = [api.add_user(f"Tipster{i}") for i in range(args.tipsters)]
            admin = api.add_user("Admin")
            mods = api.add_group("Moderators", admins=[admin])
            env = bot_environment(api, tmp, mods.id, admin.id)
            env["TIPLINE_WORKERS"] = str(args.workers)
            env["TIPLINE_PACE_MESSAGES"] = "false"  # a test server: no 30/s cap
            # Throughput, not fair use: one tipster may send every photo of a run.
            env["TIPLINE_SOURCE_PICTURES"] = env["TIPLINE_SOURCE_PENDING"] = "0"
            late = 0
            async with running_bot(api, env, tmp, bot_root=bot_root) as bot:
                with CardClock(api) as clock:
                    before, machine_before = bot.cost(), machine_cpu_seconds()
                    start = time.perf_counter()
                    load = (
                        _open(clock, users, pictures, args.rate)
                        if args.rate
                        else _closed(clock, users, pictures)
                    )
                    result = await asyncio.wait_for(load, timeout=args.timeout)
                    elapsed = time.perf_counter() - start
                    cost = bot.cost().minus(before)
                    others = machine_cpu_seconds() - machine_before - cost.total
                    late = result or 0
            latencies = sorted(clock.latencies)
            errors = bot.errors()
            if args.keep_log:
                args.keep_log.write_text(bot.log_text())
            return {
                "bot": str(bot_root or "this checkout"),
                "mode": f"open, {args.rate}/s offered" if args.rate else "closed",
                "tipsters": args.tipsters,
                "photos": len(latencies),
                "workers": args.workers,
                "cores": os.cpu_count(),
                # How busy the machine was: the 1-minute load average before the run and as it
                # ended (the bot's own load counts in the second), and the cores that other
                # processes used meanwhile (timings from a busy machine are not comparable).
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "other_processes_cores": round(max(others, 0.0) / elapsed, 2),
                "answered": len(latencies) == args.photos,
                "sent_late": late,
                "bot_errors": len(errors),
                "api_error_answers": len(api.errors),
                "median_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
                "max_ms": round(latencies[-1] * 1000, 1),
                "photos_per_second": round(len(latencies) / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
                "longest_event_loop_stall_ms": bot.longest_stall_ms(),
                "cpu_ms_per_photo": cost.per_photo_ms(len(latencies)),
                # What these costs allow at best: every core busy on this and nothing else.
                "ceiling_photos_per_second": round(
                    (os.cpu_count() or 1) * len(latencies) / max(cost.total, 1e-9), 1
                ),
                "first_errors": errors[:5],
                "first_api_error_answers": [
                    f"{call.method}: {call.response}" for call in api.errors[:5]
                ],
            }


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tipsters", type=int, default=50)
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rate", type=float, default=0.0, help="photos a second (open load)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--bot-root",
        type=Path,
        action="append",
        help="run the bot from this checkout (repeat to compare; runs alternate in order)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per bot, interleaved")
    parser.add_argument("--keep-log", type=Path, help="copy the (last) bot's log here")
    args = parser.parse_args()
    results = [
        asyncio.run(run(args, root))
        for _ in range(args.rounds)
        for root in (args.bot_root or [None])
    ]
    print(json.dumps(results if len(results) > 1 else results[0], indent=1))


if __name__ == "__main__":
    main()
