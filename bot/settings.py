"""Settings from the environment (or a ``.env`` file); every variable is in ``.env.example``.

A missing or malformed setting stops start-up with one line that names the variable, never a
pydantic traceback: :func:`load_bot_settings` translates validation errors into ConfigError.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from checks.errors import ConfigError
from handlers.i18n import DEFAULT_LANGUAGE, LANGUAGES

__all__ = [
    "DEFAULT_DATABASE_URL",
    "BotSettings",
    "ExchangeSettings",
    "StorageSettings",
    "load_bot_settings",
]

DEFAULT_DATABASE_URL = "./tipline.db"
_CONFIG = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)


class StorageSettings(BaseSettings):
    """What every ``tipline`` command needs: where the database is."""

    model_config = _CONFIG

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="TIPLINE_DATABASE_URL",
        description="A SQLite path (created if missing) or a postgresql:// URL.",
    )


class ExchangeSettings(StorageSettings):
    """The newsroom exchange: this newsroom's signed feed (``tipline feed``, ``tipline run``)."""

    model_config = _CONFIG

    feed_key_file: Path = Field(
        default=Path("./tipline-feed.key"), validation_alias="TIPLINE_FEED_KEY_FILE"
    )
    newsroom_name: str = Field(default="", max_length=100, validation_alias="TIPLINE_NEWSROOM_NAME")
    feed_listen: str | None = Field(default=None, validation_alias="TIPLINE_FEED_LISTEN")
    feed_tokens: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), validation_alias="TIPLINE_FEED_TOKENS"
    )
    publish_imported: bool = Field(default=True, validation_alias="TIPLINE_PUBLISH_IMPORTED")

    @field_validator("feed_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        """Comma-separated bearer tokens, one per subscriber; none: a public feed."""
        if isinstance(value, str):
            return frozenset(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("feed_listen", mode="before")
    @classmethod
    def _listen_unset(cls, value: object) -> object:
        """``TIPLINE_FEED_LISTEN=`` means "do not serve the feed"."""
        return None if isinstance(value, str) and not value.strip() else value


class BotSettings(ExchangeSettings):
    """Everything ``tipline run`` needs on top of the database."""

    model_config = _CONFIG

    telegram_bot_token: SecretStr = Field(validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str | None = Field(
        default=None, validation_alias="TELEGRAM_API_BASE_URL"
    )
    moderator_chat_id: int = Field(validation_alias="TIPLINE_MODERATOR_CHAT_ID")
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(validation_alias="TIPLINE_ADMIN_IDS")
    secret_key: SecretStr = Field(validation_alias="TIPLINE_SECRET_KEY", min_length=32)
    media_dir: Path = Field(default=Path("./media"), validation_alias="TIPLINE_MEDIA_DIR")
    retention_days: int = Field(
        default=30, ge=1, le=3650, validation_alias="TIPLINE_RETENTION_DAYS"
    )
    workers: int = Field(
        default=os.cpu_count() or 1, ge=0, le=64, validation_alias="TIPLINE_WORKERS"
    )
    media_budget_mb: int = Field(
        default=10_240, ge=0, le=100_000_000, validation_alias="TIPLINE_MEDIA_BUDGET_MB"
    )
    pace_messages: bool = Field(default=True, validation_alias="TIPLINE_PACE_MESSAGES")
    review_messages_per_minute: int = Field(
        default=20, ge=0, le=1000, validation_alias="TIPLINE_REVIEW_MESSAGES_PER_MINUTE"
    )
    language: str = Field(default=DEFAULT_LANGUAGE, validation_alias="TIPLINE_LANGUAGE")
    instance_name: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=64,
        validation_alias="TIPLINE_INSTANCE_NAME",
    )
    lease_seconds: float = Field(
        default=60.0, gt=0, le=3600, validation_alias="TIPLINE_LEASE_SECONDS"
    )
    maintenance_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias="TIPLINE_MAINTENANCE_SECONDS"
    )
    source_pictures: int = Field(
        default=30, ge=0, le=10_000, validation_alias="TIPLINE_SOURCE_PICTURES"
    )
    source_window_minutes: float = Field(
        default=10.0, gt=0, le=7 * 24 * 60, validation_alias="TIPLINE_SOURCE_WINDOW_MINUTES"
    )
    source_pending: int = Field(
        default=20, ge=0, le=10_000, validation_alias="TIPLINE_SOURCE_PENDING"
    )
    webhook_url: str | None = Field(default=None, validation_alias="TIPLINE_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TIPLINE_WEBHOOK_SECRET"
    )
    webhook_listen: str = Field(default="127.0.0.1", validation_alias="TIPLINE_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, ge=1, le=65535, validation_alias="TIPLINE_WEBHOOK_PORT")

    @field_validator("instance_name", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """``NAME=`` in a copied .env.example means "not set", not "set to nothing"."""
        if isinstance(value, str) and not value.strip():
            return socket.gethostname() if info.field_name == "instance_name" else None
        return value

    @field_validator("language", mode="before")
    @classmethod
    def _known_language(cls, value: object) -> object:
        """The newsroom's language must be one Tipline speaks (``zh-hans`` is ``zh_Hans``)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_LANGUAGE
        by_lower = {code.lower(): code for code in LANGUAGES}
        code = by_lower.get(str(value).strip().lower().replace("-", "_"))
        if code is None:
            raise ValueError(f"must be one of: {', '.join(LANGUAGES)}")
        return code

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        head, _, tail = token.partition(":")
        if not (head.isdigit() and len(tail) >= 20):
            raise ValueError("does not look like a bot token from @BotFather (digits:secret)")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            if not parts:
                raise ValueError("needs at least one Telegram user id")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("telegram_api_base_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.strip().rstrip("/")

    @property
    def bot_base_url(self) -> str | None:
        """PTB's ``base_url``: PTB appends the token, giving ``{root}/bot<token>/``."""
        return f"{self.telegram_api_base_url}/bot" if self.telegram_api_base_url else None

    @property
    def bot_file_url(self) -> str | None:
        return f"{self.telegram_api_base_url}/file/bot" if self.telegram_api_base_url else None


def _alias(model: type[BaseSettings], field: str) -> str:
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    return alias if isinstance(alias, str) else field


def load_bot_settings(**overrides: object) -> BotSettings:
    """Read the settings or raise one ConfigError naming the first bad variable."""
    try:
        return BotSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        name = field if field.isupper() else _alias(BotSettings, field)
        if first["type"] == "missing":
            raise ConfigError(f"{name} is not set (see .env.example)") from None
        raise ConfigError(f"{name} is invalid: {first['msg']}") from None
