"""Newsrooms for end-to-end tests with real ``tipline run`` processes: each newsroom has its own
fake Telegram (token, people, moderators' chat), and a :class:`Fleet` starts and stops the bot
processes, on one shared database or each on its own."""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bot.settings import BotSettings
from tests.e2e.harness import RUN_ARGS, TICKET, bot_env, start_process, stop_process, text_of
from tests.fakebotapi import Call, FakeBotAPI, FakeChat, FakeUser

#: Both fakes start here: Telegram numbers updates per bot, so two bots see the same ids.
FIRST_UPDATE_ID = 800_000_001
#: Seconds a started bot has to reach getUpdates, and a tip or a moderator's command to be
#: answered (well under the 30 s poll that stands in for a lost NOTIFY; the first card must be
#: right anyway). Two bots share two cores here: a loaded machine can stall one for seconds.
START_TIMEOUT = 30.0
CARD_TIMEOUT = 15.0


def near_copy(data: bytes) -> bytes:
    """Half the size and re-encoded at a lower quality: the same picture, other bytes."""
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(out, "JPEG", quality=60)
    return out.getvalue()


@dataclass
class Newsroom:
    """One newsroom's bot as Telegram sees it: the fake, its people, its moderators' chat."""

    name: str
    api: FakeBotAPI
    admin: FakeUser
    moderator: FakeUser
    tipster: FakeUser
    mods: FakeChat
    secret: str

    def settings(self, database_url: str, folder: Path) -> BotSettings:
        """An instance of this newsroom's bot, with its own name and media folder."""
        return BotSettings(
            TELEGRAM_BOT_TOKEN=self.api.token,
            TELEGRAM_API_BASE_URL=self.api.root,
            TIPLINE_MODERATOR_CHAT_ID=self.mods.id,
            TIPLINE_ADMIN_IDS=str(self.admin.id),
            TIPLINE_SECRET_KEY=self.secret,
            TIPLINE_DATABASE_URL=database_url,
            TIPLINE_MEDIA_DIR=str(folder / "media"),
            TIPLINE_WORKERS=1,
            TIPLINE_PACE_MESSAGES=False,
            TIPLINE_INSTANCE_NAME=folder.name,
        )

    def cards(self) -> list[dict[str, Any]]:
        """The verdict cards this newsroom's tipster has had (each ends with its ticket)."""
        return [m for m in self.api.messages_to(self.tipster) if "Ticket " in text_of(m)]

    def acks(self) -> list[dict[str, Any]]:
        return [m for m in self.api.messages_to(self.tipster) if "Received" in text_of(m)]


@asynccontextmanager
async def newsroom(
    name: str, token: str, base_id: int, chat_id: int, secret: str
) -> AsyncIterator[Newsroom]:
    """A newsroom's own fake Telegram, with its admin, moderator, tipster and moderators' chat."""
    async with FakeBotAPI(
        token=token,
        bot_username=f"newsroom_{name.lower()}_tips_bot",
        first_update_id=FIRST_UPDATE_ID,
    ) as api:
        people = [
            api.add_user(f"{role}{name}", username=f"{role.lower()}_{name.lower()}", id=base_id + n)
            for n, role in enumerate(("Admin", "Mod", "Source"), start=1)
        ]
        admin, moderator, tipster = people
        mods = api.add_group(f"Moderators {name}", id=chat_id, admins=[admin, moderator])
        yield Newsroom(name, api, admin, moderator, tipster, mods, secret)


class Fleet:
    """The bot processes of one test, each in a folder named after its instance."""

    def __init__(self, database_url: str | None, root: Path) -> None:
        #: The database every instance uses unless told otherwise (None: each its own SQLite
        #: file in its folder).
        self.database_url = database_url
        self.root = root
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    def log(self, instance: str) -> Path:
        return self.root / instance / "bot.log"

    async def start(
        self, room: Newsroom, instance: str, extra: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start an instance of ``room``'s bot; return once it polls (post_init is done: the
        database is migrated, the index loaded, unfinished tips taken up)."""
        folder = self.root / instance
        folder.mkdir(parents=True, exist_ok=True)
        database = self.database_url or str(folder / "tipline.db")
        env = {**bot_env(room.settings(database, folder)), **(extra or {})}
        polls = len(room.api.calls_to("deleteWebhook"))
        proc = await start_process(env, folder, self.log(instance), RUN_ARGS)
        self.processes[instance] = proc
        await room.api.wait_until(
            lambda: len(room.api.calls_to("deleteWebhook")) > polls or proc.returncode is not None,
            timeout=START_TIMEOUT,
            what=f"{instance} to start polling",
        )
        if proc.returncode is not None:
            tail = self.log(instance).read_text(errors="replace")[-3000:]
            raise AssertionError(f"{instance} exited with {proc.returncode} at start:\n{tail}")
        return proc

    async def stop(self, instance: str, sig: int = signal.SIGTERM) -> None:
        await stop_process(self.processes[instance], sig)

    async def stop_all(self) -> None:
        await asyncio.gather(*(stop_process(p) for p in self.processes.values()))


async def ticket_of_ack(room: Newsroom) -> str:
    ack = await room.api.wait_for_message(room.tipster, "Received", timeout=CARD_TIMEOUT)
    found = TICKET.search(text_of(ack))
    assert found, text_of(ack)
    return found.group(0)


def is_card(ticket: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: f"Ticket {ticket}" in text_of(m)


def sent_text(api: FakeBotAPI, needle: str) -> Call:
    """The one sendMessage whose HTML holds ``needle`` (its ``time`` is when it was asked)."""
    found = [c for c in api.calls_to("sendMessage") if needle in str(c.params.get("text"))]
    assert len(found) == 1, f"{len(found)} messages with {needle!r}"
    return found[0]
