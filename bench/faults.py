"""Faults on the whole bot: does every tip still get its verdict card, and only once?

Each scenario starts a real ``tipline run`` against the fake Telegram on 127.0.0.1, sends
--photos photos from --tipsters fake tipsters, injects one fault mid-run (the photos after it
arrive during the fault; at a restart, a few downloads are held so tips are surely mid-flow
when the signal lands), lets the bot recover, and counts per scenario: tips sent, answered (a
verdict card reached the tipster), duplicates (a ticket answered twice), lost (never answered).
Scenarios:

1. ``telegram_502``: every Bot API call answered 502 Bad Gateway for --outage seconds.
2. ``telegram_refused``: the port the bot talks to refuses connections for --outage seconds
   (a proxy in front of the fake closes it and drops open connections, then listens again).
3. ``sigterm_restart``: SIGTERM to the bot mid-run, then the same bot started again.
4. ``sigkill_restart``: SIGKILL mid-run, then a restart. A card Telegram accepted whose record
   the crash prevented is sent again: that is counted as ``resent_after_crash``, not as a
   duplicate, because no bot can tell it apart from a card that never left.
5. ``postgres_restart``: the bot on PostgreSQL (a fresh schema, dropped after), and the
   server restarted mid-run. Skipped when PostgreSQL is not reachable.

The lease and maintenance pass are shortened (--lease, --maintenance) so that recovery is
measured in seconds, not minutes. Bounded: each scenario waits at most --recovery seconds
after its fault for the last card. Prints one JSON object per scenario, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake Telegram and the e2e harness live in the test suite

from bot.settings import BotSettings  # noqa: E402
from tests.e2e.harness import (  # noqa: E402
    SECRET,
    TICKET,
    bot_env,
    free_port,
    picture,
    start_process,
    stop_process,
    text_of,
)
from tests.fakebotapi import FakeBotAPI, FakeUser  # noqa: E402
from tests.fakebotapi.faults import Failure  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
RESENT_NOTE = (
    "SIGKILL can land after Telegram accepted a card and before the bot recorded that it was "
    "sent; on restart the bot sends that card again (at least once, never lost). Such repeats "
    "are counted as resent_after_crash; exactly-once cannot be guaranteed for them."
)


@dataclass
class Outcome:
    scenario: str
    fault: str
    sent: int = 0
    sent_before_fault: int = 0
    answered_before_fault: int = 0
    answered: int = 0
    duplicates: int = 0
    resent_after_crash: int = 0
    lost: int = 0
    extra_tickets: int = 0
    recovery_s: float | None = None
    bot_errors: int = 0
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


class Gate:
    """A TCP proxy on a fixed loopback port in front of the fake: closing it makes the port
    refuse connections, as an unreachable Telegram does, while the fake keeps its state."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)


class Outage:
    """While on, the fake answers every Bot API call with ``status`` instead of running it."""

    def __init__(self, api: FakeBotAPI, status: int = 502) -> None:
        self.on = False
        faults = api.server.faults
        original = faults.intercept

        async def intercept(method: str) -> Any:
            if self.on:
                return Failure(method, status).body()
            return await original(method)

        faults.intercept = intercept  # type: ignore[method-assign]


def cards_by_ticket(api: FakeBotAPI, users: list[FakeUser]) -> dict[str, list[tuple[int, int]]]:
    """Each ticket's verdict cards, as (chat id, message id), across the tipsters."""
    found: dict[str, list[tuple[int, int]]] = {}
    for user in users:
        for message in api.messages_to(user):
            text = text_of(message)
            if "Ticket " in text and (ticket := TICKET.search(text)):
                found.setdefault(ticket.group(0), []).append((user.id, message["message_id"]))
    return found


class Run:
    """One scenario's world: the fake, a gate in front of it, tipsters, and the bot process."""

    def __init__(self, args: argparse.Namespace, api: FakeBotAPI, tmp: Path, db: str) -> None:
        self.args = args
        self.api = api
        self.tmp = tmp
        self.gate = Gate(api.server.port)
        self.users = [api.add_user(f"Tipster{i}") for i in range(args.tipsters)]
        admin = api.add_user("Admin")
        mods = api.add_group("Moderators", admins=[admin])
        settings = BotSettings(
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{self.gate.port}",
            TIPLINE_MODERATOR_CHAT_ID=mods.id,
            TIPLINE_ADMIN_IDS=str(admin.id),
            TIPLINE_SECRET_KEY=SECRET,
            TIPLINE_DATABASE_URL=db,
            TIPLINE_MEDIA_DIR=str(tmp / "media"),
            TIPLINE_WORKERS=1,
            TIPLINE_PACE_MESSAGES=False,
            TIPLINE_INSTANCE_NAME="bench-faults",
            TIPLINE_LEASE_SECONDS=args.lease,
            TIPLINE_MAINTENANCE_SECONDS=args.maintenance,
        )
        self.env = bot_env(settings)
        self.log = tmp / "bot.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.sent = 0
        #: The cards Telegram held when the bot was killed (a restart scenario only).
        self.before_crash: set[tuple[int, int]] | None = None

    async def start_bot(self) -> None:
        calls = len(self.api.calls_to("getUpdates"))
        self.proc = await start_process(self.env, self.tmp, self.log)
        await self.api.wait_until(
            lambda: len(self.api.calls_to("getUpdates")) > calls, timeout=60, what="polling"
        )

    async def stop_bot(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            await stop_process(self.proc, sig, timeout=60)
            self.proc = None

    async def send(self, count: int) -> None:
        """``count`` photos, round robin over the tipsters, a little apart."""
        for _ in range(count):
            seed = 1000 + self.sent
            self.users[self.sent % len(self.users)].send_photo(picture(seed))
            self.sent += 1
            await asyncio.sleep(self.args.gap)

    def answered(self) -> int:
        return len(cards_by_ticket(self.api, self.users))

    async def wait_answered(self, at_least: int, timeout: float) -> bool:  # noqa: ASYNC109
        try:
            await self.api.wait_until(
                lambda: self.answered() >= at_least, timeout=timeout, what="cards"
            )
            return True
        except AssertionError:
            return False

    def tally(self, outcome: Outcome, before_crash: set[tuple[int, int]] | None) -> None:
        cards = cards_by_ticket(self.api, self.users)
        outcome.sent = self.sent
        outcome.answered = min(len(cards), self.sent)
        outcome.extra_tickets = max(0, len(cards) - self.sent)
        outcome.lost = max(0, self.sent - len(cards))
        for copies in cards.values():
            repeats = len(copies) - 1
            if repeats <= 0:
                continue
            if before_crash is not None and copies[0] in before_crash:
                # The first copy reached Telegram before the crash: the restart resent it.
                outcome.resent_after_crash += repeats
            else:
                outcome.duplicates += repeats
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        outcome.bot_errors = sum(1 for line in text.splitlines() if " ERROR " in line)


async def mid_run(run: Run, fault: Callable[[], Awaitable[None]], outcome: Outcome) -> None:
    """Half the photos, the fault once a few cards are out, the other half, then recovery."""
    args = run.args
    first = args.photos // 2
    await run.send(first)
    await run.wait_answered(max(1, first // 4), timeout=60)
    outcome.sent_before_fault = run.sent
    outcome.answered_before_fault = run.answered()
    started = time.monotonic()
    await fault()
    await run.send(args.photos - first)
    ok = await run.wait_answered(args.photos, timeout=args.recovery)
    outcome.recovery_s = round(time.monotonic() - started, 1) if ok else None
    await asyncio.sleep(args.settle)  # room for a late duplicate to show up


async def scenario(
    name: str,
    fault_text: str,
    args: argparse.Namespace,
    body: Callable[[Run, Outcome], Awaitable[None]],
    db: Callable[[Path], Any] | None = None,
) -> Outcome:
    outcome = Outcome(name, fault_text)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        async with contextlib.AsyncExitStack() as stack:
            url = (
                str(tmp / "tipline.db") if db is None else await stack.enter_async_context(db(tmp))
            )
            api = await stack.enter_async_context(FakeBotAPI(photo_thumbnails=False))
            run = Run(args, api, tmp, url)
            await run.gate.open()
            try:
                await run.start_bot()
                await body(run, outcome)
            finally:
                await run.stop_bot()
                await run.gate.refuse()
            run.tally(outcome, run.before_crash)
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                shutil.copy(run.log, args.keep_logs / f"{name}.log")
    return outcome


async def telegram_502(run: Run, outcome: Outcome) -> None:
    outage = Outage(run.api, 502)

    async def fault() -> None:
        outage.on = True
        asyncio.get_running_loop().call_later(run.args.outage, setattr, outage, "on", False)

    await mid_run(run, fault, outcome)


async def telegram_refused(run: Run, outcome: Outcome) -> None:
    async def reopen() -> None:
        await asyncio.sleep(run.args.outage)
        await run.gate.open()

    tasks: list[asyncio.Task[None]] = []

    async def fault() -> None:
        await run.gate.refuse()
        tasks.append(asyncio.create_task(reopen()))

    await mid_run(run, fault, outcome)
    await asyncio.gather(*tasks)


def restart_with(sig: int) -> Callable[[Run, Outcome], Awaitable[None]]:
    async def body(run: Run, outcome: Outcome) -> None:
        async def fault() -> None:
            await run.stop_bot(sig)
            # What Telegram holds now: copies of these that come later were resent.
            held = cards_by_ticket(run.api, run.users).values()
            run.before_crash = {card for cards in held for card in cards}
            await run.start_bot()

        args = run.args
        api = run.api
        first = max(1, args.photos // 4)
        await run.send(first)
        await run.wait_answered(first, timeout=60)
        # The next few downloads hang, so those tips are surely mid-flow when the signal lands;
        # the rest keep coming in, during the stop and after the restart.
        api.slow_next("getFile", args.hold, times=args.held)
        sender = asyncio.create_task(run.send(args.photos - first))
        await api.wait_until(
            lambda: not any(f.method == "getFile" for f in api.server.failures),
            timeout=60,
            what="held downloads",
        )
        await asyncio.sleep(0.5)  # and a few more tips arrive behind them
        outcome.sent_before_fault = run.sent
        outcome.answered_before_fault = run.answered()
        started = time.monotonic()
        await fault()
        await sender
        ok = await run.wait_answered(args.photos, timeout=args.recovery)
        outcome.recovery_s = round(time.monotonic() - started, 1) if ok else None
        await asyncio.sleep(args.settle)
        if sig == signal.SIGKILL:
            outcome.notes.append(RESENT_NOTE)

    return body


@asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[str]:
    """A new schema, and a URL whose search_path points at it; dropped after. Each step has its
    own connection, since a connection held across the restart would not survive it."""
    import asyncpg

    schema = f"tipline_faults_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        yield f"{url}?search_path={schema}"
    finally:
        for attempt in range(30):  # the server may still be coming back
            try:
                conn = await asyncpg.connect(url)
                break
            except (OSError, asyncpg.PostgresError):
                if attempt == 29:
                    raise
                await asyncio.sleep(1)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


def postgres_cluster() -> list[str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


async def postgres_restart(run: Run, outcome: Outcome) -> None:
    async def fault() -> None:
        proc = await asyncio.create_subprocess_exec(
            *postgres_cluster(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        if proc.returncode:
            outcome.notes.append(f"restart failed: {err.decode(errors='replace').strip()}")

    await mid_run(run, fault, outcome)


async def postgres_reachable() -> str | None:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(POSTGRES), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL not reachable: {exc}"
    await conn.close()
    if not shutil.which("pg_ctlcluster") or not await asyncio.to_thread(
        Path("/etc/postgresql").is_dir
    ):
        return "no local cluster to restart"
    return None


async def run_all(args: argparse.Namespace) -> list[Outcome]:
    """Each scenario in turn; its JSON line is printed as soon as it is done."""
    outage = f"{args.outage:g} s"
    plan: list[tuple[str, str, Callable[[Run, Outcome], Awaitable[None]]]] = [
        ("telegram_502", f"Bot API answers 502 for {outage}", telegram_502),
        ("telegram_refused", f"Bot API port refuses connections for {outage}", telegram_refused),
        ("sigterm_restart", "SIGTERM mid-run, then restart", restart_with(signal.SIGTERM)),
        ("sigkill_restart", "SIGKILL mid-run, then restart", restart_with(signal.SIGKILL)),
        ("postgres_restart", "PostgreSQL restarted mid-run", postgres_restart),
    ]
    outcomes = []
    for name, text, body in plan:
        if args.only and name not in args.only:
            continue
        if name == "postgres_restart" and (reason := await postgres_reachable()):
            outcome = Outcome(name, text, skipped=reason)
        elif name == "postgres_restart":
            outcome = await scenario(name, text, args, body, db=lambda _: fresh_schema(POSTGRES))
        else:
            outcome = await scenario(name, text, args, body)
        outcomes.append(outcome)
        print(json.dumps(asdict(outcome)), flush=True)
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    heads = ["scenario", "sent", "sent/answered before fault", "answered", "duplicates"]
    heads += ["resent after crash", "lost"]
    heads += ["recovery s", "bot errors"]
    rows: list[list[Any]] = [heads]
    skipped = [f"{o.scenario}: skipped ({o.skipped})" for o in outcomes if o.skipped]
    for o in outcomes:
        if o.skipped:
            continue
        recovery = "not recovered" if o.recovery_s is None else f"{o.recovery_s:g}"
        rows.append(
            [
                o.scenario,
                o.sent,
                f"{o.sent_before_fault}/{o.answered_before_fault}",
                o.answered,
                o.duplicates,
                o.resent_after_crash,
                o.lost,
                recovery,
                o.bot_errors,
            ]
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(heads))]
    lines = []
    for row in rows:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + skipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--tipsters", type=int, default=4)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between photos")
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--recovery", type=float, default=120.0, help="longest wait after a fault")
    parser.add_argument("--settle", type=float, default=3.0, help="wait for late duplicates")
    parser.add_argument("--held", type=int, default=3, help="downloads held at a restart")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds a download is held")
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--maintenance", type=float, default=5.0)
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--keep-logs", type=Path, help="copy each bot's log into this folder")
    args = parser.parse_args()
    outcomes = asyncio.run(run_all(args))
    print()
    print(table(outcomes))
    if any(o.resent_after_crash for o in outcomes):
        print("\nresent after crash: " + RESENT_NOTE)


if __name__ == "__main__":
    main()
