"""What the whole-bot benchmarks share: a real ``tipline run`` against the fake Telegram, the
cards it sends as they arrive, and what its processes cost (CPU, memory, open files).

Used by ``bot_load.py``, ``flood.py`` and ``soak.py``; not a benchmark itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake Telegram and the e2e harness live in the test suite

from PIL import Image, ImageDraw  # noqa: E402

from tests.e2e.harness import start_process, stop_process  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402

__all__ = [
    "BotProcess",
    "CardClock",
    "ProcessCost",
    "bot_environment",
    "exit_on_sigterm",
    "machine_cpu_seconds",
    "percentile",
    "photo",
    "running_bot",
]

SECRET = "bench-secret-key-long-enough-for-tipline-0000"
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
TICKET = re.compile(r"[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}")


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``timeout``, a CI's cancel) into SystemExit, so the benchmark's cleanup runs
    and stops the bot it started instead of leaving it running."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def photo(seed: int, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A distinct JPEG (by default 1280x960, the size Telegram delivers photos at)."""
    width, height = size
    image = Image.new("RGB", size, ((seed * 67) % 256, (seed * 131) % 256, 90))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        x = (i * 97 + seed * 53) % max(width - 100, 1)
        y = (i * 41 + seed * 29) % max(height - 80, 1)
        colour = ((i * 40 + seed * 7) % 256, (255 - i * 9) % 256, (seed * 17 + i * 23) % 256)
        draw.rectangle((x, y, x + 40 + i * 4, y + 30 + (i * 7) % 60), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of the (sorted) values lie; nearest rank."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def text_of(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


def bot_environment(api: FakeBotAPI, tmp: Path, moderators: int, admin: int) -> dict[str, str]:
    """A ``tipline run`` environment against ``api``, its database and media in ``tmp``; the
    caller's own TIPLINE_ settings do not leak in."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TELEGRAM_"))},
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.root,
        "TIPLINE_MODERATOR_CHAT_ID": str(moderators),
        "TIPLINE_ADMIN_IDS": str(admin),
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_DATABASE_URL": str(tmp / "bench.db"),
        "TIPLINE_MEDIA_DIR": str(tmp / "media"),
    }


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has had since boot, over all cores (and what
    the hypervisor gave others): less the bot's and the harness's, what else ran meanwhile."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICKS


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the worker pool and its forkserver)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children(current)
    return out


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except OSError:
        return 0


def _open_files(pid: int) -> int:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0


@dataclass
class ProcessCost:
    """CPU seconds so far of the bot's main process, its workers, and this process (the fake
    Telegram and the simulated tipsters)."""

    bot: float
    workers: float
    harness: float

    @property
    def total(self) -> float:
        return self.bot + self.workers + self.harness

    def minus(self, before: ProcessCost) -> ProcessCost:
        return ProcessCost(
            self.bot - before.bot, self.workers - before.workers, self.harness - before.harness
        )

    def per_photo_ms(self, photos: int) -> dict[str, float]:
        n = max(photos, 1)
        return {
            "bot_process": round(self.bot * 1000 / n, 2),
            "workers": round(self.workers * 1000 / n, 2),
            "fake_telegram_and_tipsters": round(self.harness * 1000 / n, 2),
        }


@dataclass
class BotProcess:
    """A running ``tipline run`` and its log."""

    pid: int
    log: Path

    def cost(self) -> ProcessCost:
        tree = _tree(self.pid)
        workers = sum(_cpu_seconds(p) for p in tree[1:])
        times = os.times()
        return ProcessCost(_cpu_seconds(self.pid), workers, times.user + times.system)

    def rss_mb(self) -> dict[str, float]:
        tree = _tree(self.pid)
        return {
            "bot_process": round(_rss_bytes(self.pid) / 2**20, 1),
            "with_workers": round(sum(_rss_bytes(p) for p in tree) / 2**20, 1),
        }

    def open_files(self) -> dict[str, int]:
        tree = _tree(self.pid)
        return {
            "bot_process": _open_files(self.pid),
            "with_workers": sum(_open_files(p) for p in tree),
        }

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def errors(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if " ERROR " in line]

    def longest_stall_ms(self) -> float | None:
        found = re.search(r"longest event-loop stall: ([0-9.]+) ms", self.log_text())
        return float(found.group(1)) if found else None


@asynccontextmanager
async def running_bot(
    api: FakeBotAPI,
    env: dict[str, str],
    tmp: Path,
    *,
    bot_root: Path | None = None,
) -> AsyncIterator[BotProcess]:
    """``tipline run`` (from ``bot_root``'s code if given, to compare two checkouts) until the
    block ends, then SIGTERM: the bot closes its pool and logs its longest stall."""
    env = dict(env)
    if bot_root is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(bot_root), env.get("PYTHONPATH")]))
    log = tmp / "bot.log"
    calls = len(api.calls_to("getUpdates"))
    proc = await start_process(env, tmp, log)
    try:
        try:
            await api.wait_until(
                lambda: len(api.calls_to("getUpdates")) > calls, timeout=60, what="polling"
            )
        except AssertionError:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the bot did not start polling; its log ends:\n{tail}") from None
        yield BotProcess(proc.pid, log)
    finally:
        # SIGTERM to the bot alone, as a service manager sends it: the bot closes its worker
        # pool itself (a signal to the whole group would kill the workers mid-task).
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=60)
        await stop_process(proc, signal.SIGKILL, timeout=30)


@dataclass
class CardClock:
    """Times, per private chat, from a tipster's send to the bot's next message there that
    matches: the moment the fake Telegram stored it, not when a poller noticed."""

    api: FakeBotAPI
    #: What counts as the answer (default: the verdict card, which names the ticket).
    matches: Callable[[str], bool] = lambda text: "Ticket " in text
    latencies: list[float] = field(default_factory=list)
    #: chat id -> send times still waiting for their answer, oldest first.
    waiting: dict[int, list[float]] = field(default_factory=dict)
    #: chat id -> every message the bot sent there (texts), for checks after the run.
    texts: dict[int, list[str]] = field(default_factory=dict)
    _stop: Callable[[], None] | None = None
    _idle: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)

    def __enter__(self) -> CardClock:
        self._stop = self.api.watch_messages(self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._stop()

    def sent(self, chat_id: int) -> None:
        self.waiting.setdefault(chat_id, []).append(time.perf_counter())

    def outstanding(self, chat_id: int) -> int:
        return len(self.waiting.get(chat_id, ()))

    async def idle(self, chat_id: int) -> None:
        """Until every photo sent in this chat has its answer."""
        if self.outstanding(chat_id):
            future = self._idle.setdefault(chat_id, asyncio.get_running_loop().create_future())
            await future

    async def any_answer(self) -> None:
        """Until the next answer in any chat."""
        self._answered.clear()
        await self._answered.wait()

    def _seen(self, message: dict[str, Any]) -> None:
        chat_id = message["chat"]["id"]
        text = text_of(message)
        self.texts.setdefault(chat_id, []).append(text)
        queue = self.waiting.get(chat_id)
        if queue and self.matches(text):
            self.latencies.append(time.perf_counter() - queue.pop(0))
            self._answered.set()
            if not queue and (future := self._idle.pop(chat_id, None)) and not future.done():
                future.set_result(None)
