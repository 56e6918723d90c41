"""The newsroom's Ed25519 key, and signing and verifying canonical JSON with it.

The key pair lives in one PEM file (PKCS #8, unencrypted; ``TIPLINE_FEED_KEY_FILE``),
created on first use with mode 0600 and refused if others can read it, as ssh refuses a
private key. The private key is never logged or printed; the public key is shared as the
base64 of its 32 raw bytes (``tipline feed key``).

Canonical JSON (what is signed): keys sorted, no whitespace, UTF-8 without escapes, no
floating-point numbers (the format has none), so two implementations produce the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checks.errors import ConfigError, InvalidInput

__all__ = [
    "canonical_bytes",
    "load_or_create_key",
    "parse_public_key",
    "public_key_text",
    "sign",
    "verify",
]

_SIGNATURE_BYTES = 64


def canonical_bytes(value: Any) -> bytes:
    """The one byte string both sides sign and verify for a JSON value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The newsroom's private key from ``path``, made there (0600) if the file is absent."""
    path = Path(path).expanduser()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the feed key file {path}: {exc.strerror}") from exc
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise ConfigError(f"cannot write the feed key file {path}: {exc.strerror}") from exc
    return key


def _read_key(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the feed key file {path} can be read by others: run chmod 600 {path}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the feed key file {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the feed key file {path} holds no usable private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the feed key file {path} holds a key that is not Ed25519")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as partners type it: base64 of the 32 raw bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A partner's public key from its text, or InvalidInput saying what it should be."""
    try:
        raw = base64.b64decode((text or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(
            "a public key is the base64 of 32 bytes (what `tipline feed key` prints)"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(key: Ed25519PrivateKey, value: Any) -> str:
    """The base64 Ed25519 signature of ``value``'s canonical JSON."""
    return base64.b64encode(key.sign(canonical_bytes(value))).decode("ascii")


def verify(public: Ed25519PublicKey, value: Any, signature: object) -> bool:
    """Whether ``signature`` (base64) is ``public``'s signature of ``value``'s canonical JSON
    (or of ``value`` itself when it is those bytes already)."""
    if not isinstance(signature, str):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != _SIGNATURE_BYTES:
        return False
    try:
        public.verify(raw, value if isinstance(value, bytes) else canonical_bytes(value))
    except InvalidSignature:
        return False
    return True
