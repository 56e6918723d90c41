"""What the intake remembers about sources over their limits: exactly as long as it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.fairuse import PENDING_RECHECK_SECONDS, REFUSAL_QUIET_SECONDS, FairUse, OverLimit
from storage.tips import SourceActivity

LIMITS = FairUse(pictures=30, window=timedelta(minutes=10), pending=20)
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_full_window_is_remembered_until_its_oldest_tip_leaves() -> None:
    memory = OverLimit()
    full = SourceActivity(pictures=30, pending=3, oldest=NOW - timedelta(minutes=4), as_of=NOW)
    memory.remember("p", full, LIMITS, now=100.0)
    recalled = memory.recall("p", now=160.0)
    assert recalled is not None and recalled.as_of == NOW + timedelta(seconds=60)
    assert memory.recall("p", now=100.0 + 6 * 60 - 0.1) is not None
    assert memory.recall("p", now=100.0 + 6 * 60) is None  # the oldest tip left the window


def test_waiting_tips_are_counted_again_soon() -> None:
    memory = OverLimit()
    waiting = SourceActivity(pictures=5, pending=20, oldest=NOW, as_of=NOW)
    memory.remember("p", waiting, LIMITS, now=0.0)
    assert memory.recall("p", now=PENDING_RECHECK_SECONDS - 0.1) is not None
    assert memory.recall("p", now=PENDING_RECHECK_SECONDS) is None


def test_a_source_under_its_limits_is_not_remembered() -> None:
    memory = OverLimit()
    # An album that would overflow the window does not refuse a single picture.
    memory.remember("p", SourceActivity(25, 3, NOW, NOW), LIMITS, now=0.0)
    assert memory.recall("p", now=1.0) is None


def test_a_source_is_told_once_a_quiet_period() -> None:
    memory = OverLimit()
    assert memory.tell("p", now=0.0)
    assert not memory.tell("p", now=REFUSAL_QUIET_SECONDS - 1)
    assert memory.tell("q", now=1.0)
    assert memory.tell("p", now=REFUSAL_QUIET_SECONDS)
