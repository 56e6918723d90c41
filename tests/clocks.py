"""A clock the tests move by hand, for storages that take one (``clock=``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Each reading is this much after the one before, as a real clock's would be.
_TICK = timedelta(microseconds=1)


class FakeClock:
    """Time that passes only when told to (:meth:`advance`), plus a microsecond per reading.

    Share one between every storage of a test, as instances share the wall clock.
    """

    def __init__(self, start: datetime = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += _TICK
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
