"""What a finding is: a stable code, a severity and one plain sentence.

The ``code`` is printed in JSON and matched by the bot and by tests; the sentence is for a
tipster or a journalist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Finding", "FindingCode", "Severity"]


class Severity(StrEnum):
    INFO = "info"
    NOTICE = "notice"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """Where findings of this severity are listed: warnings first."""
        return _RANK[self]


_RANK = {Severity.WARNING: 0, Severity.NOTICE: 1, Severity.INFO: 2}


class FindingCode(StrEnum):
    """Every finding code. Values are stored and printed: never rename one."""

    EDITED_WITH_SOFTWARE = "EDITED_WITH_SOFTWARE"
    THUMBNAIL_MISMATCH = "THUMBNAIL_MISMATCH"
    DATES_INCONSISTENT = "DATES_INCONSISTENT"
    GPS_PRESENT = "GPS_PRESENT"
    SERIAL_NUMBER_PRESENT = "SERIAL_NUMBER_PRESENT"
    AUTHOR_NAMED = "AUTHOR_NAMED"
    NO_METADATA = "NO_METADATA"
    AI_GENERATED_DECLARED = "AI_GENERATED_DECLARED"
    C2PA_VALID = "C2PA_VALID"
    C2PA_INVALID = "C2PA_INVALID"
    C2PA_REMOTE = "C2PA_REMOTE"
    LOW_HASH_QUALITY = "LOW_HASH_QUALITY"
    METADATA_DAMAGED = "METADATA_DAMAGED"


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact about the file, with how much it matters and a sentence that says it."""

    code: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "severity": self.severity.value, "message": self.message}
