"""A long steady load: does the bot's memory or its count of open files grow?

A real ``tipline run`` with production settings (message pacing, fair-use limits, review
pacing and digests) against the fake Telegram on 127.0.0.1, and --rate photos a second from
enough tipsters that none reaches the fair-use limits, for --minutes. Every minute it samples
the bot's resident memory and open files (its own process, and with its workers); prints one
JSON object: those at the start (after a warm-up) and at the end, their growth, the samples,
and the time to a verdict card per minute. Bounded: --minutes, then a stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from botrun import (
    BotProcess,
    CardClock,
    bot_environment,
    exit_on_sigterm,
    percentile,
    photo,
    running_bot,
)

from tests.fakebotapi import FakeBotAPI, FakeUser

#: Photos per tipster over the run, on average: well under the default limits (30 per 10
#: minutes, 20 waiting), since a tipster still waiting for a card is passed over for the next.
PER_TIPSTER = 8


def _sample(bot: BotProcess, start: float) -> dict[str, object]:
    return {
        "minute": round((time.perf_counter() - start) / 60, 2),
        "rss_mb": bot.rss_mb(),
        "open_files": bot.open_files(),
    }


async def _send(
    api: FakeBotAPI,
    clock: CardClock,
    users: list[FakeUser],
    rate: float,
    seconds: float,
    first_seed: int,
) -> int:
    """Photos at ``rate`` for ``seconds``, each from the next tipster not waiting for a card
    (and each a different picture: seeds from ``first_seed``)."""
    start, sent, turn = time.perf_counter(), 0, 0
    while (due := start + sent / rate) < start + seconds:
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        for _ in range(len(users)):
            user = users[turn % len(users)]
            turn += 1
            if not clock.outstanding(user.id):
                break
        clock.sent(user.id)
        user.send_photo(photo(first_seed + sent, (800, 600)))
        sent += 1
        if sent % 500 == 0:  # the fake keeps every file; forget those already fetched
            _forget_files(api)
    return sent


def _forget_files(api: FakeBotAPI) -> None:
    """Drop the fake's copies of files the bot has downloaded: the fake, not the bot, would
    otherwise grow by every photo of the run (only this process's memory; it is not measured)."""
    state = api.state
    for path in state.downloads:
        stored = state.files_by_path.pop(path, None)
        if stored is not None:
            state.files.pop(stored.file_id, None)
    state.downloads.clear()
    state.calls.clear()


async def run(args: argparse.Namespace) -> dict[str, object]:
    seconds = args.minutes * 60
    tipsters = max(50, int(args.rate * seconds) // PER_TIPSTER + 1)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with FakeBotAPI(photo_thumbnails=False) as api:
            users = [api.add_user(f"Tipster{i}") for i in range(tipsters)]
            admin = api.add_user("Admin")
            mods = api.add_group("Moderators", admins=[admin])
            env = bot_environment(api, tmp, mods.id, admin.id)
            env["TIPLINE_PACE_MESSAGES"] = "true"
            async with running_bot(api, env, tmp, bot_root=args.bot_root) as bot:
                with CardClock(api) as clock:
                    start = time.perf_counter()
                    # Warm-up: the pool, the caches and the index settle before the first sample.
                    sent = await _send(api, clock, users, args.rate, args.warmup, 0)
                    samples = [_sample(bot, start)]
                    minute_latencies = []
                    begin = len(clock.latencies)
                    deadline = time.perf_counter() + seconds
                    while (left := deadline - time.perf_counter()) > 1:
                        sent += await _send(api, clock, users, args.rate, min(60.0, left), sent)
                        samples.append(_sample(bot, start))
                        chunk = sorted(clock.latencies[begin:])
                        begin = len(clock.latencies)
                        if chunk:
                            minute_latencies.append(
                                {
                                    "answered": len(chunk),
                                    "median_ms": round(statistics.median(chunk) * 1000, 1),
                                    "p95_ms": round(percentile(chunk, 0.95) * 1000, 1),
                                }
                            )
                    until = time.perf_counter() + 60  # the last cards, within a bound
                    for user in users:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(
                                clock.idle(user.id), timeout=max(until - time.perf_counter(), 0)
                            )
                    samples.append(_sample(bot, start))
                    errors = bot.errors()
            first, last = samples[0], samples[-1]
            return {
                "minutes": args.minutes,
                "rate_per_s": args.rate,
                "tipsters": tipsters,
                "photos_sent": sent,
                "answered": len(clock.latencies),
                "unanswered": sum(clock.outstanding(u.id) for u in users),
                "refused_by_fair_use": sum(
                    "not recorded" in text for texts in clock.texts.values() for text in texts
                ),
                # What a chat still waiting for a card was last told, if anything.
                "unanswered_last_messages": [
                    clock.texts.get(u.id, ["(nothing)"])[-1][:200]
                    for u in users
                    if clock.outstanding(u.id)
                ][:5],
                "bot_errors": len(errors),
                "first_errors": errors[:5],
                "longest_event_loop_stall_ms": bot.longest_stall_ms(),
                "start": first,
                "end": last,
                "growth": {
                    "rss_mb_bot_process": round(
                        last["rss_mb"]["bot_process"] - first["rss_mb"]["bot_process"], 1
                    ),
                    "rss_mb_with_workers": round(
                        last["rss_mb"]["with_workers"] - first["rss_mb"]["with_workers"], 1
                    ),
                    "open_files_bot_process": last["open_files"]["bot_process"]
                    - first["open_files"]["bot_process"],
                    "open_files_with_workers": last["open_files"]["with_workers"]
                    - first["open_files"]["with_workers"],
                },
                "per_minute": minute_latencies,
                "samples": samples,
            }


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=5.0, help="photos a second")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before sampling")
    parser.add_argument("--bot-root", type=Path, help="run the bot from this checkout")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
