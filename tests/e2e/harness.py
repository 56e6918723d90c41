"""The bot under test: real PTB application, real storage, fake Telegram over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot.app import build_application, webhook_options
from bot.settings import BotSettings
from bot.workers import thread_analyser
from handlers.context import SERVICES_KEY
from handlers.linkfetch import StaticResolver, fetch_image
from handlers.services import Analyser, Services
from storage.tips import Role
from tests.fakebotapi import FakeBotAPI, FakeChat, FakeUser

SECRET = "e2e-secret-key-that-is-long-enough-for-tipline"
TICKET = re.compile(r"[2-9A-HJ-NP-TV-Z]{4}-[2-9A-HJ-NP-TV-Z]{4}")


def text_of(message: dict[str, Any]) -> str:
    """What a user sees of a message: its text, or a picture's caption."""
    return message.get("text") or message.get("caption") or ""


def picture(seed: int, size: tuple[int, int] = (800, 600), fmt: str = "JPEG") -> bytes:
    """A distinct, detailed picture per seed (so PDQ quality is high and seeds differ)."""
    image = Image.new("RGB", size, ((seed * 67) % 256, (seed * 131) % 256, 90))
    draw = ImageDraw.Draw(image)
    for i in range(24):
        x = (i * 97 + seed * 53) % (size[0] - 80)
        y = (i * 41 + seed * 29) % (size[1] - 60)
        colour = ((i * 40 + seed * 7) % 256, (255 - i * 9) % 256, (seed * 17 + i * 23) % 256)
        draw.rectangle((x, y, x + 30 + i * 3, y + 20 + (i * 7) % 40), fill=colour)
        draw.ellipse((y % size[0], x % size[1], y % size[0] + 50, x % size[1] + 35), fill=colour)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@dataclass
class World:
    """Everyone in a test: the fake Telegram, its people, and the running bot's settings."""

    api: FakeBotAPI
    settings: BotSettings
    tipster: FakeUser
    other_tipster: FakeUser
    moderator: FakeUser
    admin: FakeUser
    outsider: FakeUser
    mods: FakeChat
    tmp: Path

    def services(self, app: Any) -> Services:
        return app.bot_data[SERVICES_KEY]


def make_world(api: FakeBotAPI, tmp: Path) -> World:
    # Distinctive ids and names, so a search of the database and logs cannot miss them.
    tipster = api.add_user(
        "Hyonsuk", last_name="Sokjinwoo", username="hyon_tipster_1987", id=7771234567
    )
    other = api.add_user("Danaya", username="dana_second_source", id=7779876543)
    moderator = api.add_user("Minako", username="mina_factcheck", id=7775550001)
    admin = api.add_user("Adalind", username="ada_newsroom_admin", id=7775550002)
    outsider = api.add_user("Everhart", username="eve_not_a_mod", id=7775550003)
    mods = api.add_group("Moderators", admins=[moderator, admin], members=[outsider])
    settings = BotSettings(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=api.root,
        TIPLINE_MODERATOR_CHAT_ID=mods.id,
        TIPLINE_ADMIN_IDS=str(admin.id),
        TIPLINE_SECRET_KEY=SECRET,
        TIPLINE_DATABASE_URL=str(tmp / "tipline.db"),
        TIPLINE_MEDIA_DIR=str(tmp / "media"),
        TIPLINE_WORKERS=0,
        TIPLINE_PACE_MESSAGES=False,  # the fake Telegram has no limits; retries stay on
    )
    return World(api, settings, tipster, other, moderator, admin, outsider, mods, tmp)


def identities(world: World) -> list[str]:
    """Every raw identity the fake users have: none may be stored or logged."""
    found = []
    for user in (world.tipster, world.other_tipster, world.moderator, world.admin, world.outsider):
        found += [str(user.id), user.first_name]
        found += [x for x in (user.record.last_name, user.username) if x]
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a webhook or a proxy)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def running_bot(
    world: World,
    *,
    analyser: Analyser | None = None,
    loopback_links: dict[str, list[str]] | None = None,
    settings: BotSettings | None = None,
) -> AsyncIterator[Any]:
    """The bot's life cycle as ``run_polling`` (or ``run_webhook``, when ``settings`` has a
    webhook URL) drives it, hooks included, against the fake. The moderator is given the role
    an admin would give with /mod add."""
    settings = settings or world.settings
    app = build_application(settings, analyser=analyser or thread_analyser())
    async with app:  # initialize ... shutdown
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)
        services = world.services(app)
        services.album_wait = 0.3
        if loopback_links is not None:
            services.fetch_link = functools.partial(
                fetch_image,
                resolver=StaticResolver(loopback_links),
                address_policy=lambda address: address.is_loopback,
            )
        await services.storage.set_role(
            services.identities.pseudonym(world.moderator.id), Role.MODERATOR, None
        )
        if settings.webhook_url:
            await app.updater.start_webhook(**webhook_options(settings))
        else:
            await app.updater.start_polling(timeout=1, poll_interval=0.0)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)


#: ``python <RUN_ARGS>`` is ``tipline run``, long polling.
RUN_ARGS = ("-m", "bot", "run")


def bot_env(settings: BotSettings) -> dict[str, str]:
    """The environment of a ``tipline run`` process: these settings, and none of the caller's
    own TIPLINE_ or TELEGRAM_ variables (a developer's own settings must not leak in)."""
    s = settings
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "TELEGRAM_"))},
        "TELEGRAM_BOT_TOKEN": s.telegram_bot_token.get_secret_value(),
        "TELEGRAM_API_BASE_URL": s.telegram_api_base_url or "",
        "TIPLINE_MODERATOR_CHAT_ID": str(s.moderator_chat_id),
        "TIPLINE_ADMIN_IDS": ",".join(map(str, sorted(s.admin_ids))),
        "TIPLINE_SECRET_KEY": s.secret_key.get_secret_value(),
        "TIPLINE_DATABASE_URL": s.database_url,
        "TIPLINE_MEDIA_DIR": str(s.media_dir),
        "TIPLINE_WORKERS": str(s.workers),
        "TIPLINE_PACE_MESSAGES": "true" if s.pace_messages else "false",
        "TIPLINE_INSTANCE_NAME": s.instance_name,
        "TIPLINE_LEASE_SECONDS": str(s.lease_seconds),
        "TIPLINE_MAINTENANCE_SECONDS": str(s.maintenance_seconds),
        "TIPLINE_LANGUAGE": s.language,
    }


async def start_process(
    env: dict[str, str], cwd: Path, log: Path, args: tuple[str, ...] = RUN_ARGS
) -> asyncio.subprocess.Process:
    """``python *args`` in its own process group (its worker processes die with it), with
    stdout and stderr appended to ``log``."""
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env=env,
            cwd=cwd,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )


async def stop_process(
    proc: asyncio.subprocess.Process,
    sig: int = signal.SIGTERM,
    timeout: float = 30.0,  # noqa: ASYNC109 - a deadline for a process, not for I/O
) -> None:
    """Send ``sig`` to the process's group and wait for it to end; SIGKILL if it will not."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        await asyncio.wait_for(proc.wait(), timeout=timeout)
    except ProcessLookupError:
        await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=timeout)
