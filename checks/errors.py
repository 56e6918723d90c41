"""Tipline's one exception tree, drawn here whole; each error lives beside the code that raises it.

Callers catch these, never a library's own exceptions: foreign errors are translated where they
enter (``raise CorruptImage(...) from exc``). Every error carries a stable ``code`` that scripts
and the bot's cards rely on, and a message written for the person who sent the input.

    TiplineError                      checks.errors
    ├── InvalidInput                  the input itself is unusable; nothing else is wrong
    │   ├── UnsupportedFormat         not a picture format we read
    │   ├── FileTooLarge              more bytes than the configured limit
    │   ├── ImageTooLarge             more pixels than the limit (decompression bombs land here)
    │   ├── CorruptImage              a picture format, but it does not decode
    │   ├── InvalidHash               a hash string of the wrong length or alphabet
    │   ├── UnreadableFile            the file named cannot be read (missing, a folder, no access)
    │   └── LinkFetchError            handlers.linkfetch: a link's picture cannot be had
    │       ├── LinkInvalid, LinkSchemeRefused, LinkAddressRefused, LinkTimeout,
    │       │   LinkUnreachable, LinkHttpError, LinkTooManyRedirects
    │       ├── LinkTooLarge          (also a FileTooLarge)
    │       └── LinkNotImage          (also an UnsupportedFormat)
    ├── CheckError                    analysis failed for a reason that is not the input's fault
    ├── StorageError                  storage.errors: the database refused or could not be reached
    │   ├── StorageUnavailable        cannot connect or open
    │   ├── MigrationError            the schema is newer than this code, or a migration failed
    │   ├── NotFound                  the row asked for does not exist
    │   └── Conflict                  the change collides with one made first (e.g. two verdicts)
    ├── TipProcessingFailed           handlers.tipflow: a tip stopped midway (cause chained); it is
    │                                 saved and the next maintenance pass resumes it
    └── ConfigError                   a setting is missing or malformed
"""

from __future__ import annotations

__all__ = [
    "CheckError",
    "ConfigError",
    "CorruptImage",
    "FileTooLarge",
    "ImageTooLarge",
    "InvalidHash",
    "InvalidInput",
    "TiplineError",
    "UnreadableFile",
    "UnsupportedFormat",
]


class TiplineError(Exception):
    """Root of every error Tipline raises on purpose."""

    code = "tipline_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """The ``{code, message}`` pair printed by ``tipline check --json``."""
        return {"code": self.code, "message": self.message}


class InvalidInput(TiplineError):
    code = "invalid_input"


class UnsupportedFormat(InvalidInput):
    code = "unsupported_format"


class FileTooLarge(InvalidInput):
    code = "file_too_large"


class ImageTooLarge(InvalidInput):
    code = "image_too_large"


class CorruptImage(InvalidInput):
    code = "corrupt_image"


class InvalidHash(InvalidInput):
    code = "invalid_hash"


class UnreadableFile(InvalidInput):
    code = "unreadable_file"


class CheckError(TiplineError):
    code = "check_failed"


class ConfigError(TiplineError):
    code = "config_error"
