"""Load on the whole bot: simulated tipsters send photos through the fake Telegram.

The bot runs as in production (``tipline run`` in its own process, a worker pool, SQLite)
against the fake Bot API on 127.0.0.1. Each tipster sends a photo, waits for its verdict card,
then sends the next. Prints JSON: time from update to verdict card (median, 95th percentile),
photos per second, errors, and the bot's longest event-loop stall (from its own log).
Bounded: --photos in total, and --timeout seconds at most.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake Telegram lives in the test suite

from PIL import Image, ImageDraw  # noqa: E402

from tests.fakebotapi import FakeBotAPI, FakeUser  # noqa: E402


def photo(seed: int) -> bytes:
    """A distinct 1280x960 JPEG, the size Telegram delivers photos at."""
    image = Image.new("RGB", (1280, 960), ((seed * 67) % 256, (seed * 131) % 256, 90))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        x = (i * 97 + seed * 53) % 1180
        y = (i * 41 + seed * 29) % 880
        colour = ((i * 40 + seed * 7) % 256, (255 - i * 9) % 256, (seed * 17 + i * 23) % 256)
        draw.rectangle((x, y, x + 40 + i * 4, y + 30 + (i * 7) % 60), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def text_of(message: dict) -> str:
    return message.get("text") or message.get("caption") or ""


async def tipster(api: FakeBotAPI, user: FakeUser, photos: list[bytes], out: list[float]) -> None:
    for data in photos:
        start = time.perf_counter()
        user.send_photo(data)
        await api.wait_for_message(user, "Ticket", timeout=300)
        out.append(time.perf_counter() - start)


async def run(args: argparse.Namespace) -> dict[str, object]:
    pictures = [photo(i) for i in range(args.photos)]
    with tempfile.TemporaryDirectory() as tmp:
        # Without thumbnails: making them in Pillow would make the fake, not the bot, the
        # bottleneck of this machine (the bot only reads a photo's largest size).
        async with FakeBotAPI(photo_thumbnails=False) as api:
            users = [api.add_user(f"Tipster{i}") for i in range(args.tipsters)]
            admin = api.add_user("Admin")
            mods = api.add_group("Moderators", admins=[admin])
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")},
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.root,
                "TIPLINE_MODERATOR_CHAT_ID": str(mods.id),
                "TIPLINE_ADMIN_IDS": str(admin.id),
                "TIPLINE_SECRET_KEY": "bench-secret-key-long-enough-for-tipline-0000",
                "TIPLINE_DATABASE_URL": str(Path(tmp) / "bench.db"),
                "TIPLINE_MEDIA_DIR": str(Path(tmp) / "media"),
                "TIPLINE_WORKERS": str(args.workers),
                "TIPLINE_PACE_MESSAGES": "false",
            }
            log = Path(tmp) / "bot.log"
            with log.open("wb") as handle:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=env,
                    cwd=tmp,
                    stdout=handle,
                    stderr=handle,
                    start_new_session=True,
                )
            try:
                await api.wait_until(lambda: api.calls_to("getUpdates"), timeout=60)
                latencies: list[float] = []
                share = [pictures[i :: args.tipsters] for i in range(args.tipsters)]
                start = time.perf_counter()
                await asyncio.wait_for(
                    asyncio.gather(
                        *(tipster(api, u, p, latencies) for u, p in zip(users, share, strict=True))
                    ),
                    timeout=args.timeout,
                )
                elapsed = time.perf_counter() - start
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)  # a clean stop: the bot closes its pool
                    try:
                        await asyncio.wait_for(proc.wait(), timeout=60)
                    except TimeoutError:
                        os.killpg(proc.pid, signal.SIGKILL)
                        await proc.wait()
            text = log.read_text(errors="replace")
            if args.keep_log:
                args.keep_log.write_text(text)
            stall = re.search(r"longest event-loop stall: ([0-9.]+) ms", text)
            errors = [line for line in text.splitlines() if " ERROR " in line]
            latencies.sort()
            return {
                "tipsters": args.tipsters,
                "photos": len(latencies),
                "workers": args.workers,
                "cores": os.cpu_count(),
                "answered": len(latencies) == args.photos,
                "bot_errors": len(errors),
                "api_error_answers": len(api.errors),
                "median_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
                "max_ms": round(latencies[-1] * 1000, 1),
                "photos_per_second": round(len(latencies) / elapsed, 1),
                "elapsed_s": round(elapsed, 1),
                "longest_event_loop_stall_ms": float(stall.group(1)) if stall else None,
                "first_errors": errors[:5],
                "first_api_error_answers": [
                    f"{call.method}: {call.response}" for call in api.errors[:5]
                ],
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tipsters", type=int, default=50)
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep-log", type=Path, help="copy the bot's log here")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
