"""The media store: originals on disk, named by their SHA-256, never by anything a user sent.

Content addressing means a picture sent twice is stored once, and a file name can never carry
a tipster's name or id. Writes go to a temporary file first and are renamed into place, so a
crash never leaves half a picture under a real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from checks.errors import StorageError

__all__ = ["MediaStore"]


class MediaStore:
    """Files under one folder: ``ab/cd/<sha256>.<kind>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create media folder {self.root}: {exc}") from exc

    def _path(self, sha256: str, kind: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("media is addressed by a lower-case SHA-256")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{kind}"

    def put(self, data: bytes, kind: str = "orig") -> str:
        """Store bytes; returns the path relative to the root (what the database keeps)."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._path(sha256, kind)
        if target.exists():
            return str(target.relative_to(self.root))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(target)
        except OSError as exc:
            raise StorageError(f"cannot write to the media folder: {exc}") from exc
        return str(target.relative_to(self.root))

    def get(self, relative: str) -> bytes | None:
        path = self._resolve(relative)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read from the media folder: {exc}") from exc

    def delete(self, relative: str) -> bool:
        path = self._resolve(relative)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            return True
        return False

    def _resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media path escapes the media folder: {relative!r}")
        return path
