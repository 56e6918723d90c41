"""How one statement text becomes SQLite's or PostgreSQL's.

Statements are written once, with PostgreSQL's numbered placeholders (``$1``) and a few
hooks in braces where the two languages really differ; :meth:`Dialect.render` rewrites them.
The hooks:

- ``{cast:N:type}``: parameter N where PostgreSQL must be told its type (``$N::type``);
- ``{json:N}``: parameter N as JSON text into a jsonb column;
- ``{in:N:type}``: membership in a list given as parameter N (a JSON array read with
  ``json_each`` in SQLite, an array in PostgreSQL);
- ``{null:type}``: a typed NULL;
- ``{same}`` / ``{differs}``: null-safe equality and its negation;
- ``{for_update}`` / ``{for_update:alias}``: lock the rows read until the transaction ends
  (SQLite's transactions already hold the database's write lock);
- ``{tip_lock:N}``: the whole statement that serialises recorders of one album or update,
  keyed by parameter N; empty where transactions are serialised already;
- ``{timestamp}`` / ``{strict}``: a timestamp column's type, and what ends a table's
  definition.

A catalogue is a dataclass of ``str`` fields whose defaults are the templates:
:meth:`Dialect.render_all` gives the same dataclass with every statement in the dialect.
"""

# ruff: noqa: S608 - statements are put together from this module's constants; values only
# ever travel as parameters.

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = ["POSTGRES", "SQLITE", "Dialect"]

_HOOK = re.compile(r"\{(\w+)((?::\w+)*)\}")
_PARAMETER = re.compile(r"\$(\d+)")
_Catalogue = TypeVar("_Catalogue")


@dataclass(frozen=True, slots=True)
class Dialect:
    """One SQL language: what each hook becomes, and how a parameter is written."""

    name: str
    #: Parameter N, as the driver numbers it.
    parameter: Callable[[str], str]
    cast: Callable[[str, str], str]
    json: Callable[[str], str]
    member_of: Callable[[str, str], str]
    null: Callable[[str], str]
    same: str
    differs: str
    for_update: Callable[[str | None], str]
    tip_lock: Callable[[str], str]
    timestamp: str
    strict: str

    def render_all(self, catalogue: type[_Catalogue]) -> _Catalogue:
        """Every statement of a catalogue (a dataclass of templates) in this dialect."""
        statements: dict[str, Any] = {f.name: self.render(f.default) for f in fields(catalogue)}
        return catalogue(**statements)

    def render(self, template: str) -> str:
        """The statement in this dialect; the hooks first, then the placeholders."""
        return _PARAMETER.sub(
            lambda m: self.parameter(m[1]), _HOOK.sub(self._hook, template)
        ).strip()

    def _hook(self, match: re.Match[str]) -> str:
        name, args = match[1], match[2].split(":")[1:]
        if name == "cast":
            return self.cast(*args)
        if name == "json":
            return self.json(*args)
        if name == "in":
            return self.member_of(*args)
        if name == "null":
            return self.null(*args)
        if name == "same":
            return self.same
        if name == "differs":
            return self.differs
        if name == "for_update":
            return self.for_update(args[0] if args else None)
        if name == "tip_lock":
            return self.tip_lock(*args)
        if name in ("timestamp", "strict"):
            return getattr(self, name)
        raise ValueError(f"unknown SQL hook {match[0]!r}")


SQLITE = Dialect(
    name="sqlite",
    parameter=lambda n: f"?{n}",
    cast=lambda n, _type: f"${n}",
    json=lambda n: f"${n}",
    member_of=lambda n, _type: f"IN (SELECT value FROM json_each(${n}))",
    null=lambda _type: "NULL",
    same="IS",
    differs="IS NOT",
    for_update=lambda _alias: "",
    tip_lock=lambda _n: "",
    timestamp="TEXT",
    strict=" STRICT",
)

POSTGRES = Dialect(
    name="postgres",
    parameter=lambda n: f"${n}",
    cast=lambda n, type_: f"${n}::{type_}",
    json=lambda n: f"${n}::jsonb",
    member_of=lambda n, type_: f"= ANY(${n}::{type_}[])",
    null=lambda type_: f"NULL::{type_}",
    same="IS NOT DISTINCT FROM",
    differs="IS DISTINCT FROM",
    for_update=lambda alias: f"FOR UPDATE OF {alias}" if alias else "FOR UPDATE",
    # Keyed by schema too, so that Tipline schemas sharing a server do not wait on each other.
    tip_lock=lambda n: (
        "SELECT 1 FROM pg_advisory_xact_lock("
        f"hashtext('tipline.tip'), hashtext(current_schema() || ':' || ${n}))"
    ),
    timestamp="TIMESTAMPTZ",
    strict="",
)
