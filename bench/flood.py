"""A flood from one source while others send one picture each: are the others still answered
at once, is the flooder told, and does the moderators' chat stay within Telegram's limits?

A real ``tipline run`` with production settings (message pacing on, the default fair-use
limits) against the fake Telegram on 127.0.0.1. One tipster sends --flood photos as fast as
the fake takes them; during the flood, --others tipsters send one photo each, --gap seconds
apart. Prints JSON: each of the others' time from sending to the ticket and to the verdict
card (target: every card within 2 s), what the flooder was told (how many pictures were taken,
how many refusal messages it got), and the messages the moderators' chat received: the most
in any 60 s window (Telegram allows a bot about 20 a minute in a group) and per minute.
Bounded: the run watches for --duration seconds, and gives up after --timeout.
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

from botrun import CardClock, bot_environment, exit_on_sigterm, percentile, photo, running_bot

from tests.fakebotapi import FakeBotAPI

#: Words of the refusals the flooder may get (fair use: pictures per window, tips pending).
REFUSALS = ("limited number of pictures", "the most the tip line holds")
TELEGRAM_GROUP_LIMIT = 20  # messages a minute a bot may send to one group


def _per_window(times: list[float], window: float = 60.0) -> int:
    """The most messages in any ``window`` seconds."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def _phases(api: FakeBotAPI, sent_at: dict[int, tuple[float, str]]) -> dict[str, float]:
    """Median time from a source's send to the bot's calls for it, as the fake recorded their
    arrival: where the time to a card goes."""
    steps: dict[str, list[float]] = {"ticket": [], "get_file": [], "card": []}
    for call in api.calls:
        if call.method == "getFile":
            for at, file_id in sent_at.values():
                if call.params.get("file_id") == file_id:
                    steps["get_file"].append(call.time - at)
        elif call.method == "sendMessage" and int(call.params.get("chat_id", 0)) in sent_at:
            at = sent_at[int(call.params["chat_id"])][0]
            text = str(call.params.get("text", ""))
            if "Your ticket is" in text:
                steps["ticket"].append(call.time - at)
            elif "Ticket " in text:
                steps["card"].append(call.time - at)
    return {k: round(statistics.median(v) * 1000, 1) for k, v in steps.items() if v}


async def run(args: argparse.Namespace) -> dict[str, object]:
    size = (args.side, args.side * 3 // 4)
    flood = [photo(i, size) for i in range(args.flood)]
    others_photos = [photo(100_000 + i, size) for i in range(args.others)]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        async with FakeBotAPI(photo_thumbnails=False) as api:
            flooder = api.add_user("Flooder")
            others = [api.add_user(f"Source{i}") for i in range(args.others)]
            admin = api.add_user("Admin")
            mods = api.add_group("Moderators", admins=[admin])
            env = bot_environment(api, tmp, mods.id, admin.id)
            # Production: Telegram's limits apply (--unpaced: none, to see what they cost).
            env["TIPLINE_PACE_MESSAGES"] = "false" if args.unpaced else "true"
            mod_times: list[float] = []
            tickets = CardClock(api, matches=lambda text: "Your ticket is" in text)

            def moderators(message: dict) -> None:
                if message["chat"]["id"] == mods.id:
                    mod_times.append(time.perf_counter())

            stop_watching = api.watch_messages(moderators)
            async with running_bot(api, env, tmp, bot_root=args.bot_root) as bot:
                with CardClock(api) as cards, tickets:
                    start = time.perf_counter()
                    for data in flood:
                        flooder.send_photo(data)
                    flood_sent = time.perf_counter() - start
                    sent_at: dict[int, tuple[float, str]] = {}
                    for user, data in zip(others, others_photos, strict=True):
                        await asyncio.sleep(args.gap)
                        cards.sent(user.id)
                        tickets.sent(user.id)
                        sent_at[user.id] = (time.time(), user.send_photo(data).file_id)

                    async def answered() -> None:
                        for user in others:
                            await cards.idle(user.id)

                    with contextlib.suppress(TimeoutError):  # reported as not answered
                        await asyncio.wait_for(answered(), timeout=args.timeout)
                    rest = args.duration - (time.perf_counter() - start)
                    await asyncio.sleep(max(rest, 0))
                    errors = bot.errors()
            stall = bot.longest_stall_ms()
            stop_watching()
            told = cards.texts.get(flooder.id, [])
            phases = _phases(api, sent_at)
            latencies = sorted(cards.latencies)
            to_ticket = sorted(tickets.latencies)
            mod_relative = [t - start for t in mod_times]
            per_minute = [
                sum(1 for t in mod_relative if minute * 60 <= t < (minute + 1) * 60)
                for minute in range(int(args.duration // 60) + 1)
            ]
            return {
                "bot": str(args.bot_root or "this checkout"),
                "flood": args.flood,
                "flood_sent_in_s": round(flood_sent, 2),
                "others": args.others,
                "others_answered": len(latencies),
                "others_card_ms": {
                    "median": round(statistics.median(latencies) * 1000, 1) if latencies else None,
                    "p95": round(percentile(latencies, 0.95) * 1000, 1),
                    "max": round(latencies[-1] * 1000, 1) if latencies else None,
                    "all": [round(x * 1000) for x in latencies],
                },
                "others_ticket_ms_max": round(to_ticket[-1] * 1000, 1) if to_ticket else None,
                "others_median_ms_from_send_to": phases,
                "others_all_within_2s": len(latencies) == args.others and latencies[-1] <= 2.0,
                "flooder_tickets": sum("Your ticket is" in t for t in told),
                "flooder_cards": sum("Ticket " in t for t in told),
                "flooder_refusals": sum(any(r in t for r in REFUSALS) for t in told),
                "flooder_told_limited": any(any(r in t for r in REFUSALS) for t in told),
                "moderator_messages": len(mod_times),
                "moderator_messages_most_in_60s": _per_window(mod_times),
                "moderator_messages_per_minute": per_minute,
                "moderators_within_telegram_limit": _per_window(mod_times) <= TELEGRAM_GROUP_LIMIT,
                "watched_s": args.duration,
                "bot_errors": len(errors),
                "first_errors": errors[:5],
                "longest_event_loop_stall_ms": stall,
            }


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=500, help="photos from the flooder")
    parser.add_argument("--others", type=int, default=20, help="sources sending one each")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between the others")
    parser.add_argument("--side", type=int, default=800, help="photo width in pixels")
    parser.add_argument("--duration", type=float, default=130.0, help="seconds watched")
    parser.add_argument("--timeout", type=float, default=60.0, help="for the others' cards")
    parser.add_argument("--bot-root", type=Path, help="run the bot from this checkout")
    parser.add_argument("--unpaced", action="store_true", help="no message pacing (a test)")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
