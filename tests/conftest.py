"""Shared fixtures: where the real-image corpus is, and a PostgreSQL server when there is one.

On a developer's fresh clone without ../shared/data or PostgreSQL, the tests that need them skip
and say why. In CI (CI=true) or with TIPLINE_REQUIRE_ALL=1 the same absence is a failure, so a
green run always means those tests ran.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakebotapi.pytest_plugin"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TIPLINE_SHARED_DATA", ROOT.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get(
    "TIPLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_ALL = os.environ.get("CI", "").lower() == "true" or os.environ.get(
    "TIPLINE_REQUIRE_ALL", ""
) not in ("", "0")


def missing(reason: str) -> None:
    """Skip for a developer; fail in CI, where nothing may be silently left out."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` corpus root (README, oracles, images/)."""
    if not (SHARED_DATA / "images").is_dir():
        missing(f"real-image corpus not found at {SHARED_DATA} (set TIPLINE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def images(shared_data: Path) -> Path:
    return shared_data / "images"


def _postgres_reachable(url: str) -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # any failure means "no server here"; the reason is reported
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A reachable PostgreSQL URL (TIPLINE_TEST_POSTGRES_URL), or skip/fail with the reason."""
    problem = _postgres_reachable(POSTGRES_URL)
    if problem:
        missing(f"PostgreSQL not reachable at {POSTGRES_URL} ({problem})")
    yield POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_server(request: pytest.FixtureRequest) -> str | None:
    """For the storage contract suites: None for SQLite; for PostgreSQL the server, resolved
    here, outside the event loop."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None
