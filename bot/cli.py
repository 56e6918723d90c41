"""The ``tipline`` command line: check pictures, import and export the known-items database.

Other tools script against these names and the ``--json`` fields; keep them stable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.console import EXIT_BAD_INPUT, EXIT_FAILED, DbOption, err, exchange_settings, fail, out
from bot.exchange_cli import feed_app, partners_app
from bot.settings import StorageSettings
from bot.terminal import error_card, verdict_card
from checks.assessment import Assessment
from checks.errors import TiplineError, UnreadableFile
from checks.findings import Finding
from checks.report import Report, analyse
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from handlers.finding_text import finding_text
from handlers.i18n import DEFAULT_LANGUAGE, texts_for
from storage import open_storage
from storage.base import Storage
from storage.errors import StorageError
from storage.exchange import (
    EXPORT_FORMATS,
    ExportWriter,
    ImportFormat,
    ImportOptions,
    ImportSummary,
    count_records,
    import_manifest,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="tipline",
    help="Tipline: is this picture already known? Checks, known-items database, the bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _sub_app in (feed_app, partners_app):
    app.add_typer(_sub_app)


def _database_url(db: str | None) -> str:
    return db or StorageSettings().database_url


def _newsroom_name() -> str | None:
    """``TIPLINE_NEWSROOM_NAME``, written as each MediaReview's author (none if unset)."""
    return exchange_settings().newsroom_name.strip() or None


def _analyse_path(path: Path) -> Report | TiplineError:
    """Read and analyse one file; errors are returned, not raised, so a batch goes on."""
    try:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnreadableFile(f"cannot read {path}: {exc.strerror or exc}") from exc
        return analyse(data)
    except TiplineError as exc:
        return exc


def _fingerprint_bytes(data: bytes) -> Fingerprint:
    return analyse(data, known=True).fingerprint


def _reports(paths: list[Path], jobs: int) -> Iterator[Report | TiplineError]:
    if jobs <= 1 or len(paths) < 4:
        yield from map(_analyse_path, paths)
        return
    # forkserver: workers never inherit this process's threads or locks.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield from pool.map(_analyse_path, paths, chunksize=4)


async def _open(db: str | None) -> Storage:
    return await open_storage(_database_url(db))


def _finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as ``--json`` prints it: its code and parameters, and the English sentence
    the cards would show."""
    data = finding.as_dict()
    english = finding_text(finding, texts_for(DEFAULT_LANGUAGE, html=False))
    return {"code": data["code"], "severity": data["severity"], "message": english, **data}


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Pictures to check.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per file.")
    ] = False,
    db: DbOption = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Worker processes for analysis.")
    ] = os.cpu_count() or 1,
) -> None:
    """Check pictures against the known items: verdict, metadata, findings."""

    async def run() -> bool:
        all_ok = True
        async with await _open(db) as storage:
            await storage.features_ready()
            for path, result in zip(files, _reports(files, jobs), strict=True):
                if isinstance(result, TiplineError):
                    all_ok = False
                    if as_json:
                        print(json.dumps({"file": str(path), "error": result.as_dict()}))
                    else:
                        out.print(error_card(path, result.code, result.message))
                    continue
                assessment = Assessment.of(result, await storage.lookup(result.fingerprint))
                if as_json:
                    record = {"file": str(path), **assessment.as_dict()}
                    record["findings"] = [_finding_json(f) for f in assessment.findings]
                    print(json.dumps(record, ensure_ascii=False, default=str), flush=True)
                else:
                    out.print(verdict_card(path, assessment))
        return all_ok

    try:
        ok = asyncio.run(run())
    except StorageError as exc:
        raise fail(exc) from exc
    if not ok:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("import")
def import_(
    manifest: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A manifest (CSV or JSON Lines), MediaReview JSON-LD, or ThreatExchange "
            "signal lines ('pdq <hex>').",
        ),
    ],
    db: DbOption = None,
    fmt: Annotated[
        ImportFormat,
        typer.Option("--format", help="The file's format; auto tells it by name and content."),
    ] = ImportFormat.AUTO,
    verdict: Annotated[
        str | None,
        typer.Option(
            "--verdict",
            help="ThreatExchange lines only (required for them): the verdict they all get.",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="ThreatExchange lines only: where they came from (e.g. the bank's name).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import known items from a file; running it again changes nothing."""

    async def run() -> ImportSummary:
        options = ImportOptions(
            format=fmt, verdict=Verdict.parse(verdict) if verdict else None, source=source
        )
        total = count_records(manifest, options)
        columns = (
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        async with await _open(db) as storage:
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task("import", total=total)
                return await import_manifest(
                    storage,
                    manifest,
                    _fingerprint_bytes,
                    options=options,
                    progress=lambda rows: progress.advance(task, rows),
                )

    try:
        outcome = asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc
    for problem in outcome.problems:
        # Escaped: a problem quotes the manifest's text, which may look like markup.
        err.print(f"[red]{escape(f'{manifest.name}: {problem}')}[/]", highlight=False)
    summary = ", ".join(f"{n} {what}" for what, n in outcome.counts().items())
    err.print(escape(f"{manifest.name}: {summary}"), highlight=False)
    if outcome.failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def export(
    db: DbOption = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"One of: {', '.join(EXPORT_FORMATS)}."),
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export known items (hashes and verdicts, no pictures) in a form import reads back."""
    if fmt not in EXPORT_FORMATS:
        err.print(f"[bold red]error:[/] unknown format {fmt!r}; use {', '.join(EXPORT_FORMATS)}")
        raise typer.Exit(EXIT_FAILED)

    async def run() -> int:
        author = _newsroom_name() if fmt == "mediareview" else None
        async with await _open(db) as storage:
            target = output.open("w", encoding="utf-8", newline="") if output else None
            with target or contextlib.nullcontext(sys.stdout) as handle:
                writer = ExportWriter(fmt, handle, author=author)
                async for item in storage.iter_known_items():
                    writer.write(item)
                writer.close()
                return writer.count

    try:
        count = asyncio.run(run())
    except (TiplineError, OSError) as exc:
        message = exc.message if isinstance(exc, TiplineError) else str(exc)
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from exc
    err.print(f"exported {count} known items", highlight=False)


@app.command()
def backup(
    destination: Annotated[
        Path, typer.Argument(help="A new file for the copy.", show_default=False)
    ],
    db: DbOption = None,
) -> None:
    """Copy the SQLite database into a new file, safely, even while the bot runs."""

    async def run() -> int:
        async with await _open(db) as storage:
            await storage.backup(destination)
            return await storage.count_known_items()

    try:
        count = asyncio.run(run())
    except TiplineError as exc:
        raise fail(exc) from exc
    err.print(f"backed up to {destination} ({count} known items)", highlight=False)


@app.command()
def run(
    webhook: Annotated[
        bool,
        typer.Option(
            "--webhook",
            help="Receive updates on a webhook (TIPLINE_WEBHOOK_URL, TIPLINE_WEBHOOK_SECRET) "
            "instead of long polling.",
        ),
    ] = False,
) -> None:
    """Run the Telegram bot (long polling unless --webhook)."""
    from telegram import Update

    from bot.app import build_application, webhook_options
    from bot.logs import configure_logging
    from bot.settings import load_bot_settings

    configure_logging()
    try:
        settings = load_bot_settings()
        options = webhook_options(settings) if webhook else None
        application = build_application(settings)
        if options is not None:
            application.run_webhook(**options)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    except TiplineError as exc:
        raise fail(exc) from exc


def main() -> None:
    """Console-script entry point."""
    app()
