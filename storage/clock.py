"""Where the storage's idea of "now" comes from.

Lease expiry, the timestamps on every row and the stats all ask a :data:`Clock`, so a test
can move time forward by hand instead of sleeping, and two instances can be made to agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

#: Returns the current time, timezone-aware UTC.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time, timezone-aware UTC (microseconds: what both backends keep)."""
    return datetime.now(UTC)
