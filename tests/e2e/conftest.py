from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import World, make_world
from tests.fakebotapi import FakeBotAPI


@pytest.fixture
def world(fake_bot_api: FakeBotAPI, tmp_path: Path) -> World:
    return make_world(fake_bot_api, tmp_path)
