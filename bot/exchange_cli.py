"""``tipline feed`` and ``tipline partners``: this newsroom's signed feed, and its partners.

Registered on the main command line in :mod:`bot.cli`. Every command takes ``--db`` like the
others; the partners live in the database.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from bot.console import EXIT_BAD_INPUT, EXIT_FAILED, DbOption, err, exchange_settings, fail, out
from bot.settings import ExchangeSettings
from checks.errors import ConfigError, TiplineError
from handlers.exchange import (
    DEFAULT_LISTEN,
    FeedPublisher,
    FeedServer,
    SyncReport,
    parse_listen,
    sync_partners,
)
from storage import Storage, open_storage
from storage.exchange.signing import load_or_create_key, parse_public_key, public_key_text
from storage.exchange_base import PartnerDraft, Trust

__all__ = ["feed_app", "partners_app"]

feed_app = typer.Typer(name="feed", help="This newsroom's signed feed of published items.")
partners_app = typer.Typer(name="partners", help="Newsrooms whose feeds this one reads.")


async def _open(db: str | None, settings: ExchangeSettings) -> Storage:
    return await open_storage(db or settings.database_url)


@feed_app.command("key")
def feed_key() -> None:
    """Print this newsroom's public key (made, with its private key, on first use)."""
    try:
        key = load_or_create_key(exchange_settings().feed_key_file)
    except TiplineError as exc:
        raise fail(exc) from exc
    out.print(public_key_text(key), highlight=False)


@feed_app.command("serve")
def feed_serve(
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help=f"HOST:PORT [default: $TIPLINE_FEED_LISTEN or {DEFAULT_LISTEN}]",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve the feed at http://HOST:PORT/feed until interrupted."""

    async def run() -> None:
        settings = exchange_settings()
        host, port = parse_listen(listen or settings.feed_listen or DEFAULT_LISTEN)
        storage = await _open(db, settings)
        try:
            server = await start_feed_server(settings, storage, host, port)
        except BaseException:
            await storage.close()
            raise
        access = "private (bearer tokens)" if settings.feed_tokens else "public"
        err.print(f"serving the {access} feed on http://{host}:{port}/feed", highlight=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.close()
            await storage.close()

    try:
        asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc


async def start_feed_server(
    settings: ExchangeSettings, storage: Storage, host: str, port: int
) -> FeedServer:
    """The feed's server for ``settings``, listening (for ``feed serve`` and ``tipline run``)."""
    if not settings.newsroom_name.strip():
        raise ConfigError("TIPLINE_NEWSROOM_NAME is not set: the feed names its newsroom")
    publisher = FeedPublisher(
        storage=storage,
        key=load_or_create_key(settings.feed_key_file),
        newsroom=settings.newsroom_name.strip(),
        publish_imported=settings.publish_imported,
    )
    server = FeedServer(publisher, tokens=settings.feed_tokens)
    try:
        await server.start(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot serve the feed on {host}:{port}: {exc.strerror}") from exc
    return server


@partners_app.command("add")
def partners_add(
    name: Annotated[str, typer.Argument(help="What cards call them: 'per NAME'.")],
    url: Annotated[str, typer.Argument(help="Their feed, e.g. https://news.example/feed")],
    public_key: Annotated[str, typer.Argument(help="What their `tipline feed key` prints.")],
    trust: Annotated[
        Trust,
        typer.Option(help="certain: may answer tipsters; review: informs the moderators only."),
    ] = Trust.REVIEW,
    token: Annotated[
        str | None,
        typer.Option(help="A bearer token they gave you, for a private feed.", show_default=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Subscribe to a partner newsroom's feed."""

    async def run() -> None:
        parse_public_key(public_key)
        async with await _open(db, exchange_settings()) as storage:
            await storage.add_partner(PartnerDraft(name, url, public_key, trust, token))

    try:
        asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc
    err.print(escape(f"added partner {name.strip()} ({trust.value})"), highlight=False)


@partners_app.command("list")
def partners_list(db: DbOption = None) -> None:
    """The partners and how their last sync went."""

    async def run() -> Table:
        async with await _open(db, exchange_settings()) as storage:
            partners = await storage.partners()
        table = Table("name", "url", "trust", "token", "last sync", "result", "retry after")
        for p in partners:
            table.add_row(
                escape(p.name),
                escape(p.url),
                p.trust.value,
                "yes" if p.token else "no",
                p.last_sync_at.strftime("%Y-%m-%d %H:%M") if p.last_sync_at else "never",
                escape(p.last_result or ""),
                p.retry_at.strftime("%Y-%m-%d %H:%M") if p.retry_at else "",
            )
        return table

    try:
        out.print(asyncio.run(run()))
    except TiplineError as exc:
        raise fail(exc) from exc


@partners_app.command("remove")
def partners_remove(name: str, db: DbOption = None) -> None:
    """Unsubscribe: the partner's items leave lookups at once."""

    async def run() -> bool:
        async with await _open(db, exchange_settings()) as storage:
            return await storage.remove_partner(name)

    try:
        removed = asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc
    if not removed:
        err.print(escape(f"no partner named {name}"), highlight=False)
        raise typer.Exit(EXIT_FAILED)
    err.print(escape(f"removed partner {name}"), highlight=False)


@partners_app.command("sync")
def partners_sync(
    name: Annotated[str | None, typer.Argument(help="One partner [default: all].")] = None,
    db: DbOption = None,
) -> None:
    """Pull partners' feeds now (backoff or not); exit 2 if any failed or had bad entries."""

    async def run() -> list[SyncReport]:
        async with (
            await _open(db, exchange_settings()) as storage,
            httpx.AsyncClient(follow_redirects=False, trust_env=False) as http,
        ):
            names = None if name is None else [name]
            return await sync_partners(storage, http, names=names, force=True)

    try:
        reports = asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc
    for report in reports:
        err.print(escape(f"{report.partner}: {report.summary()}"), highlight=False)
        for key, reason in report.rejected:
            err.print(escape(f"  rejected {key}: {reason}"), highlight=False)
    if any(r.error or r.rejected for r in reports):
        raise typer.Exit(EXIT_BAD_INPUT)
