"""A missing or malformed setting stops start-up with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import load_bot_settings
from checks.errors import ConfigError

GOOD = {
    "TELEGRAM_BOT_TOKEN": "123456:abcdefghijklmnopqrstuvwxyz",
    "TIPLINE_MODERATOR_CHAT_ID": "-1001",
    "TIPLINE_ADMIN_IDS": "11, 22",
    "TIPLINE_SECRET_KEY": "s" * 40,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_good_settings(env: pytest.MonkeyPatch) -> None:
    settings = load_bot_settings()
    assert settings.admin_ids == frozenset({11, 22})
    assert settings.retention_days == 30
    assert settings.bot_base_url is None


def test_empty_lines_copied_from_env_example_mean_unset(env: pytest.MonkeyPatch) -> None:
    for name in ("TIPLINE_INSTANCE_NAME", "TIPLINE_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL"):
        env.setenv(name, "")
    settings = load_bot_settings()
    assert settings.instance_name and settings.webhook_secret is None
    assert settings.telegram_api_base_url is None


def test_base_url_gives_bot_and_file_urls(env: pytest.MonkeyPatch) -> None:
    env.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    settings = load_bot_settings()
    assert settings.bot_base_url == "http://127.0.0.1:8081/bot"
    assert settings.bot_file_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TELEGRAM_BOT_TOKEN", None, "is not set"),
        ("TELEGRAM_BOT_TOKEN", "nonsense", "invalid"),
        ("TIPLINE_MODERATOR_CHAT_ID", "moderators", "invalid"),
        ("TIPLINE_ADMIN_IDS", "alice", "invalid"),
        ("TIPLINE_SECRET_KEY", "short", "invalid"),
        ("TIPLINE_RETENTION_DAYS", "0", "invalid"),
        ("TELEGRAM_API_BASE_URL", "ftp://x", "invalid"),
    ],
)
def test_bad_settings_name_the_variable(
    env: pytest.MonkeyPatch, name: str, value: str | None, words: str
) -> None:
    if value is None:
        env.delenv(name)
    else:
        env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_bot_settings()
    assert name in caught.value.message and words in caught.value.message


def test_tipline_run_without_settings_prints_one_line(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in proc.stderr
    assert "Traceback" not in proc.stderr
