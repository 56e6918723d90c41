"""Schema migrations: numbered SQL files per dialect, and the rule for which of them to run.

``storage/migrations/<dialect>/NNNN_name.sql``, numbered from 1 without gaps. The database
records each applied version in ``schema_version``. Each backend runs the pending ones inside
one transaction under its own lock; the decision of what is pending, and the statements
that keep ``schema_version``, live here, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from storage.errors import MigrationError

__all__ = ["Migration", "VersionStatements", "load_migrations", "pending_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class VersionStatements:
    """What keeps track of the applied versions; the defaults are templates that
    :meth:`storage.dialect.Dialect.render_all` renders."""

    #: () -> creates the table if it is missing
    create: str = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  {timestamp} NOT NULL
){strict}
"""
    #: () -> the version the database is at (0: none applied)
    current: str = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
    #: (version, name, applied_at)
    record: str = "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version, a short name, and the SQL that performs it."""

    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """The migrations shipped for ``dialect`` ("sqlite" or "postgres"), in order."""
    folder = resources.files("storage").joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        versions = [m.version for m in found]
        raise MigrationError(f"{dialect} migrations are not numbered 1..n: {versions}")
    return tuple(found)


def pending_migrations(current: int, available: Sequence[Migration]) -> list[Migration]:
    """The migrations to run on a database at ``current``; refuses a schema newer than ours."""
    latest = available[-1].version if available else 0
    if current > latest:
        raise MigrationError(
            f"the database schema is at version {current}, but this Tipline only knows up to "
            f"version {latest}: it was upgraded by a newer release. Run that release (or "
            "newer), or restore a backup taken before the upgrade."
        )
    return [m for m in available if m.version > current]
