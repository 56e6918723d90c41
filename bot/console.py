"""What every ``tipline`` command shares: the terminal's two consoles, the ``--db`` option,
the exit codes, and how a failure or a bad setting is reported."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.settings import ExchangeSettings
from checks.errors import ConfigError, TiplineError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "DbOption",
    "err",
    "exchange_settings",
    "fail",
    "out",
]

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite path or postgresql:// URL [default: $TIPLINE_DATABASE_URL or ./tipline.db]",
        show_default=False,
    ),
]

#: Exit codes: 0 all good, 1 the command could not run (database, usage), 2 some input was bad.
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def fail(exc: TiplineError) -> typer.Exit:
    """Say what went wrong (a message may hold brackets: it is not markup) and exit 1."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
    return typer.Exit(EXIT_FAILED)


def exchange_settings() -> ExchangeSettings:
    """The exchange's settings, or one ConfigError naming the variable that is wrong."""
    try:
        return ExchangeSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        info = ExchangeSettings.model_fields.get(str(first["loc"][0]) if first["loc"] else "")
        name = info.validation_alias if info and info.validation_alias else "a setting"
        raise ConfigError(f"{name} is invalid: {first['msg']}") from None
