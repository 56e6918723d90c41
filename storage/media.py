"""The media store: originals on disk, named by their SHA-256, never by anything a user sent.

Content addressing means a picture sent twice is stored once, and a file name can never carry
a tipster's name or id. Writes go to a temporary file first and are renamed into place, so a
crash never leaves half a picture under a real name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from storage.errors import StorageError
from storage.tips import TipStorage

__all__ = ["MediaStore", "sweep_unreferenced"]

#: Files checked against the database per query.
_SWEEP_CHUNK = 500


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
            # Fresh again: the sweep spares recent files, and this one is about to be referred
            # to by a new tip even if an expired one just let go of it.
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)
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

    def files_older_than(self, seconds: float) -> list[str]:
        """Paths (relative, as the database keeps them) of files not written for ``seconds``,
        left-over temporary files included."""
        cutoff = time.time() - seconds
        found = []
        for path in self.root.glob("*/*/*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    found.append(str(path.relative_to(self.root)))
        return sorted(found)

    def _resolve(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media path escapes the media folder: {relative!r}")
        return path


async def sweep_unreferenced(media: MediaStore, storage: TipStorage, grace_seconds: float) -> int:
    """Delete files in this store that no submission refers to; returns how many.

    Retention drops a tip's media reference in the shared database, but each instance can only
    delete from its own folder: a copy of the picture in another instance's folder would
    outlive the retention period. Every instance sweeps its own folder, sparing files written
    within ``grace_seconds`` (a tip stores its picture before the database refers to it).
    """
    candidates = await asyncio.to_thread(media.files_older_than, grace_seconds)
    deleted = 0
    for start in range(0, len(candidates), _SWEEP_CHUNK):
        chunk: Sequence[str] = candidates[start : start + _SWEEP_CHUNK]
        in_use = await storage.media_in_use(chunk)
        for path in chunk:
            if path not in in_use and await asyncio.to_thread(media.delete, path):
                deleted += 1
    return deleted
