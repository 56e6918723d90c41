"""The composition root: one function wires the whole bot from its settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ContextTypes,
    Defaults,
)

from bot.exchange_cli import start_feed_server
from bot.fairlimit import FairRateLimiter
from bot.loopwatch import LoopWatch
from bot.settings import BotSettings
from bot.workers import make_analyser
from checks.errors import ConfigError
from handlers import admin, gatekeeper, intake, overview, publishing, review, status
from handlers.context import SERVICES_KEY, TiplineContext
from handlers.errors import on_error
from handlers.exchange import parse_listen, sync_partners
from handlers.exchange.disputes import contest_notice
from handlers.i18n import LANGUAGES, texts_for
from handlers.pacing import ReviewPacer
from handlers.services import Analyser, FairUse, Services
from handlers.telegram_notifier import corrector, tip_flow
from storage import open_storage
from storage.identities import IdentityProtector
from storage.media import MediaStore, make_room, sweep_unreferenced

__all__ = ["WEBHOOK_PATH", "build_application", "webhook_options"]

log = logging.getLogger(__name__)

_MAINTENANCE_KEY = "tipline.maintenance"
_LOOPWATCH_KEY = "tipline.loopwatch"
_FEED_KEY = "tipline.feed"
_SYNC_KEY = "tipline.partner_sync"
_CORRECTIONS_KEY = "tipline.corrections"
#: How often an instance deletes files in its media folder that no tip refers to any more
#: (another instance's retention pass, or a crash, may have let go of them), sparing files
#: younger than the grace period.
MEDIA_SWEEP_INTERVAL = 3600.0
MEDIA_SWEEP_GRACE = 3600.0

TiplineApp = Application[Any, TiplineContext, Any, Any, Any, Any]

#: Connections to the Bot API. httpcore walks every pooled connection (with a system call
#: each) twice per request, so PTB's 256 made the pool itself the bot's busiest code under
#: load; 8 carry Telegram's 30 messages a second with time to spare. A request waits up to
#: the pool timeout for a free one (PTB's default, 1 s, would fail requests in a burst).
BOT_API_CONNECTIONS = 8
BOT_API_POOL_TIMEOUT = 30.0


def build_application(
    settings: BotSettings,
    *,
    analyser: Analyser | None = None,
) -> TiplineApp:
    """Build the PTB application; storage and workers open in ``post_init``.

    ``analyser`` replaces the worker pool (tests). The rate limiter retries on 429, so a
    RetryAfter delays a message but never loses it.
    """

    async def post_init(app: TiplineApp) -> None:
        storage = await open_storage(settings.database_url)
        # Newsrooms sharing the database share known items, not tips: this bot sees its own.
        adopted = await storage.serve_bot(app.bot.id)
        if adopted:
            log.info("%d tip(s) recorded before bots were told apart are now this bot's", adopted)
        media = MediaStore(settings.media_dir, budget_bytes=settings.media_budget_mb * 1024**2)
        media.ensure()
        identities = IdentityProtector(settings.secret_key.get_secret_value())
        services = Services(
            storage=storage,
            identities=identities,
            media=media,
            analyser=analyser or make_analyser(settings.workers),
            http=httpx.AsyncClient(follow_redirects=False, trust_env=False),
            moderator_chat_id=settings.moderator_chat_id,
            admin_pseudonyms=frozenset(identities.pseudonym(i) for i in settings.admin_ids),
            retention_days=settings.retention_days,
            review_pacer=ReviewPacer(
                budget=settings.review_messages_per_minute if settings.pace_messages else 0
            ),
            instance=settings.instance_name,
            lease_seconds=settings.lease_seconds,
            language=settings.language,
            fair_use=FairUse(
                pictures=settings.source_pictures,
                window=timedelta(minutes=settings.source_window_minutes),
                pending=settings.source_pending,
            ),
        )
        app.bot_data[SERVICES_KEY] = services
        await _set_commands(app, settings)
        resumed = await _resume(app, services)
        if resumed:
            log.info("taking up %d unfinished tip(s), unless another instance holds them", resumed)
        app.bot_data[_MAINTENANCE_KEY] = asyncio.create_task(
            _maintenance(app, services, settings.maintenance_seconds)
        )
        watch = LoopWatch()
        watch.start()
        app.bot_data[_LOOPWATCH_KEY] = watch
        if settings.feed_listen:
            host, port = parse_listen(settings.feed_listen)
            app.bot_data[_FEED_KEY] = await start_feed_server(settings, storage, host, port)

    async def post_shutdown(app: TiplineApp) -> None:
        watch: LoopWatch | None = app.bot_data.pop(_LOOPWATCH_KEY, None)
        if watch is not None:
            await watch.stop()
        feed = app.bot_data.pop(_FEED_KEY, None)
        if feed is not None:
            await feed.close()
        for key in (_MAINTENANCE_KEY, _SYNC_KEY):
            task = app.bot_data.pop(key, None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        services: Services | None = app.bot_data.pop(SERVICES_KEY, None)
        if services is None:
            return
        close = getattr(services.analyser, "close", None)
        if close is not None:
            close()
        await services.http.aclose()
        await services.storage.close()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=UTC))
        .rate_limiter(_rate_limiter(settings))
        .connection_pool_size(BOT_API_CONNECTIONS)
        .pool_timeout(BOT_API_POOL_TIMEOUT)
        .context_types(ContextTypes(context=TiplineContext))
        .concurrent_updates(True)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if settings.bot_base_url and settings.bot_file_url:
        builder = builder.base_url(settings.bot_base_url).base_file_url(settings.bot_file_url)
    app: TiplineApp = builder.build()

    # Order matters: strangers' chats are left first, then the gatekeeper checks roles, before
    # every other handler.
    app.add_handlers(gatekeeper.STRANGERS, group=gatekeeper.STRANGERS_GROUP)
    app.add_handlers(gatekeeper.HANDLERS, group=gatekeeper.GATEKEEPER_GROUP)
    for module in (status, admin, overview, review, publishing, intake):
        app.add_handlers(module.HANDLERS)
    app.add_error_handler(on_error)
    return app


WEBHOOK_PATH = "telegram"


def webhook_options(settings: BotSettings) -> dict[str, Any]:
    """Arguments for PTB's webhook server: Telegram must send the secret token with every
    update, and PTB refuses (403) any request without it."""
    if not (settings.webhook_url and settings.webhook_secret):
        raise ConfigError(
            "--webhook needs TIPLINE_WEBHOOK_URL and TIPLINE_WEBHOOK_SECRET (see .env.example)"
        )
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": WEBHOOK_PATH,
        "webhook_url": f"{settings.webhook_url}/{WEBHOOK_PATH}",
        "secret_token": settings.webhook_secret.get_secret_value(),
        "allowed_updates": Update.ALL_TYPES,
    }


def _rate_limiter(settings: BotSettings) -> BaseRateLimiter[int]:
    """Telegram's published limits (30 messages a second, shared in turns between chats so a
    flood from one delays no other; 20 a minute per group), with retries on 429; unpaced
    (retries only) when TIPLINE_PACE_MESSAGES is off, for test servers."""
    if settings.pace_messages:
        return FairRateLimiter(
            30, inner=AIORateLimiter(overall_max_rate=0, overall_time_period=1, max_retries=5)
        )
    return AIORateLimiter(
        overall_max_rate=0,
        overall_time_period=1,
        group_max_rate=0,
        group_time_period=1,
        max_retries=5,
    )


async def _set_commands(app: TiplineApp, settings: BotSettings) -> None:
    """Private chats' menus per language (Telegram picks by the client's language; others see
    the newsroom's), and the moderators' menu in the newsroom's language."""
    private = BotCommandScopeAllPrivateChats()
    newsroom = texts_for(settings.language)
    await app.bot.set_my_commands(status.tipster_commands(newsroom), scope=private)
    for language in LANGUAGES.values():
        await app.bot.set_my_commands(
            status.tipster_commands(texts_for(language.code)),
            scope=private,
            language_code=language.telegram,
        )
    moderator = [
        BotCommand(name, newsroom.plain._(text))
        for name, text in gatekeeper.MODERATOR_COMMANDS + gatekeeper.ADMIN_COMMANDS
    ]
    await app.bot.set_my_commands(moderator, scope=BotCommandScopeChat(settings.moderator_chat_id))


async def _resume(app: TiplineApp, services: Services) -> int:
    """Process every tip a previous run left unfinished (each gets exactly one card)."""
    unfinished = await services.storage.unfinished_submissions()
    count = 0
    for submission in unfinished:
        if submission.id in services.pending:
            continue
        services.pending[submission.id] = app.create_task(
            intake.resume(app.bot, services, submission.id)
        )
        count += 1
    return count


async def _maintenance(app: TiplineApp, services: Services, interval: float) -> None:
    """Every ``interval`` seconds: pick up other instances' known items, retry unfinished
    tips, post a digest of held-back review cards, drop what the retention period no longer
    allows, make room near the media budget; hourly, sweep the media folder."""
    loop = asyncio.get_running_loop()
    last_sweep = loop.time()
    while True:
        await asyncio.sleep(interval)
        try:
            await services.storage.refresh_index()
            _pull_partners(app, services)
            await _resume(app, services)
            await _correct(app, services)
            await tip_flow(app.bot, services).post_digest()
            cutoff = datetime.now(UTC) - timedelta(days=services.retention_days)
            purged = await services.storage.purge_expired(cutoff)
            for path in purged.media_paths:
                await asyncio.to_thread(services.media.delete, path)
            if purged.chats_dropped or purged.media_paths:
                log.info(
                    "retention: %d chat link(s) and %d file(s) dropped",
                    purged.chats_dropped,
                    len(purged.media_paths),
                )
            freed = await make_room(services.media, services.storage, cutoff, MEDIA_SWEEP_GRACE)
            if freed:
                log.info("media budget: %d old picture(s) of closed tips dropped", freed)
            if loop.time() - last_sweep >= MEDIA_SWEEP_INTERVAL:
                last_sweep = loop.time()
                await asyncio.to_thread(services.media.recount)
                swept = await sweep_unreferenced(
                    services.media, services.storage, MEDIA_SWEEP_GRACE
                )
                if swept:
                    log.info("retention: %d file(s) no tip refers to dropped", swept)
        except Exception:
            log.exception("maintenance pass failed; trying again next time")


def _pull_partners(app: TiplineApp, services: Services) -> None:
    """Start pulling partners' feeds in the background unless a pull is still running: a
    partner that is slow or down delays neither this maintenance pass nor any tip."""
    running: asyncio.Task[None] | None = app.bot_data.get(_SYNC_KEY)
    if running is None or running.done():
        app.bot_data[_SYNC_KEY] = asyncio.create_task(_partner_pass(app, services))


async def _partner_pass(app: TiplineApp, services: Services) -> None:
    """Pull every partner due; tell the moderators where a partner now disagrees with us,
    and tipsters what the new entries change for them."""
    try:
        reports = await sync_partners(services.storage, services.http)
        for report in reports:
            if report.applied or report.rejected or report.error:
                log.info("partner %s: %s", report.partner, report.summary())
            if report.contested:
                notice = contest_notice(report.partner, report.contested, t=services.newsroom_texts)
                await app.bot.send_message(services.moderator_chat_id, notice)
        if any(report.applied for report in reports):
            await _correct(app, services)
    except Exception:
        log.exception("pulling partners' feeds failed; trying again next pass")


async def _correct(app: TiplineApp, services: Services) -> None:
    """Send tipsters the corrections they are owed (see :mod:`handlers.corrections`), one
    pass at a time: the maintenance pass and a partner's sync may both ask."""
    lock: asyncio.Lock = app.bot_data.setdefault(_CORRECTIONS_KEY, asyncio.Lock())
    async with lock:
        sent = await corrector(app.bot, services).run()
    if sent:
        log.info("corrections: %d tipster(s) told of a change", sent)
