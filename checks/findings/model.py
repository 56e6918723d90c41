"""What a finding is: a stable code, a severity and the values that say it.

The ``code`` is printed in JSON and matched by the bot and by tests. The sentence a tipster or a
journalist reads is not made here: ``handlers/`` renders the code and its ``params`` in the
reader's language, so ``checks/`` stays free of presentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
    """One fact about the file, with how much it matters and the values that say it.

    ``params`` hold plain JSON values (text, numbers, booleans, lists of text). A finding read
    back from a tip stored before findings had parameters keeps its English sentence in
    ``legacy_message``, which is shown as it was.
    """

    code: str
    severity: Severity
    params: Mapping[str, Any] = field(default_factory=dict)
    legacy_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": str(self.code), "severity": self.severity.value}
        if self.legacy_message is not None:
            data["message"] = self.legacy_message  # as it was stored
        else:
            data["params"] = dict(self.params)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The inverse of :meth:`as_dict`; an entry without ``params`` is an old one."""
        params = data.get("params")
        if isinstance(params, Mapping):
            return cls(str(data["code"]), Severity(data["severity"]), dict(params))
        return cls(
            str(data["code"]), Severity(data["severity"]), {}, str(data.get("message") or "")
        )
