"""The database's errors: raised by ``storage/`` and caught by whoever called it.

They sit in Tipline's one error tree (drawn in :mod:`checks.errors`) under
:class:`checks.errors.TiplineError`, but here, beside the code that raises them: the image
checks never touch a database. Every driver exception is translated into one of these where
it enters (``raise StorageUnavailable(...) from exc``).
"""

from __future__ import annotations

from checks.errors import TiplineError

__all__ = [
    "Conflict",
    "MigrationError",
    "NotFound",
    "StorageError",
    "StorageFull",
    "StorageUnavailable",
]


class StorageError(TiplineError):
    """The database refused or could not be reached."""

    code = "storage_error"


class StorageUnavailable(StorageError):
    """Cannot connect or open; trying again later may work."""

    code = "storage_unavailable"


class StorageFull(StorageUnavailable):
    """The database's disk (or its size cap) is full: the change was not written, and trying
    again once space is freed works."""

    code = "storage_full"


class MigrationError(StorageError):
    """The schema is newer than this code, or a migration failed."""

    code = "migration_error"


class NotFound(StorageError):
    """The row asked for does not exist."""

    code = "not_found"


class Conflict(StorageError):
    """The change collides with one made first (two verdicts, a ticket taken): try again."""

    code = "conflict"
