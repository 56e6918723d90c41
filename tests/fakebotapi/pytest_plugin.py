"""The ``fake_bot_api`` fixture.

Register it in ``tests/conftest.py`` with
``pytest_plugins = ["tests.fakebotapi.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakebotapi.driver import FakeBotAPI


@pytest_asyncio.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API, stopped after the test (every connection closed)."""
    async with FakeBotAPI() as api:
        yield api
