"""Source protection at rest: pseudonyms instead of Telegram ids, sealed chat ids.

A tipster's Telegram user id never reaches the database. A keyed HMAC turns it into a stable
pseudonym that links their tickets without revealing who they are (and without the key, a
leaked database cannot be joined back to Telegram accounts by hashing candidate ids). The chat
id needed to notify them is encrypted (Fernet: AES-CBC + HMAC) and deleted when the tip closes.
Both keys are derived from TIPLINE_SECRET_KEY with HKDF under different labels.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from checks.errors import ConfigError

__all__ = ["IdentityProtector"]

_MIN_SECRET = 32


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)


class IdentityProtector:
    """Turns Telegram identities into what may be stored, and back where that is allowed."""

    def __init__(self, secret: str) -> None:
        if len(secret) < _MIN_SECRET:
            raise ConfigError(f"TIPLINE_SECRET_KEY must be at least {_MIN_SECRET} characters")
        raw = secret.encode("utf-8")
        self._pseudonym_key = _derive(raw, b"tipline pseudonym v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(raw, b"tipline chat seal v1")))

    def pseudonym(self, user_id: int) -> str:
        """A stable 128-bit pseudonym for a Telegram user id (hex)."""
        digest = hmac.new(self._pseudonym_key, f"user:{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def seal_chat_id(self, chat_id: int) -> bytes:
        return self._fernet.encrypt(str(chat_id).encode("ascii"))

    def open_chat_id(self, sealed: bytes) -> int | None:
        """The chat id, or None if it was sealed under another key (a rotated secret)."""
        try:
            return int(self._fernet.decrypt(sealed).decode("ascii"))
        except (InvalidToken, ValueError):
            return None
