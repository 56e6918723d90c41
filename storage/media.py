"""The media store: originals on disk, named by their SHA-256, never by anything a user sent.

Content addressing means a picture sent twice is stored once, and a file name can never carry
a tipster's name or id. Writes go to a temporary file first and are renamed into place, so a
crash never leaves half a picture under a real name.

A folder may have a size budget, so a flood of pictures cannot fill the disk the database lives
on: near it, :func:`make_room` deletes the oldest pictures no open tip needs; at it (or when the
disk itself is full) :meth:`MediaStore.put` refuses with :class:`MediaFull`, and the tip goes on
without its picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from storage.errors import StorageError
from storage.tips import Retention, TipStorage

__all__ = ["MediaFull", "MediaStore", "make_room", "sweep_unreferenced"]

#: Files checked against the database per query.
_SWEEP_CHUNK = 500
#: Past this share of the budget, :func:`make_room` deletes old pictures down to :data:`_TARGET`.
NEAR_BUDGET = 0.9
_TARGET = 0.8
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class MediaFull(StorageError):
    """The picture was not kept: the folder is at its budget, or the disk is full."""

    code = "media_full"


class MediaStore:
    """Files under one folder: ``ab/cd/<sha256>.<kind>``."""

    def __init__(self, root: Path, budget_bytes: int = 0) -> None:
        self.root = root
        #: The most the folder may hold; 0 is no limit but the disk's.
        self.budget_bytes = budget_bytes
        self._lock = threading.Lock()  # puts run on threads
        self._used: int | None = None
        self._full_told = False

    def used_bytes(self) -> int:
        """What the folder's pictures take, counted once and then kept up to date."""
        with self._lock:
            if self._used is None:
                self._used = sum(size for _, _, size in self._files())
            return self._used

    def recount(self) -> int:
        """Count the folder again: another process sharing it, or a person, may have added or
        removed files since."""
        with self._lock:
            self._used = None
        return self.used_bytes()

    def near_budget(self) -> bool:
        return bool(self.budget_bytes) and self.used_bytes() >= self.budget_bytes * NEAR_BUDGET

    def claim_full_notice(self) -> bool:
        """True the first time a picture is refused since the folder last had room: the
        moderators hear of it once, not once per picture."""
        with self._lock:
            told, self._full_told = self._full_told, True
            return not told

    def rearm_full_notice(self) -> None:
        """The notice could not be delivered: the next refusal tries again."""
        with self._lock:
            self._full_told = False

    def _count(self, change: int, *, room: bool = True) -> None:
        """Under the lock. With ``room`` (a write or a delete went through), once below the
        mark where room is made, a refusal is news again."""
        if self._used is not None:
            self._used = max(0, self._used + change)
            if room and (not self.budget_bytes or self._used < self.budget_bytes * NEAR_BUDGET):
                self._full_told = False

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
        self.used_bytes()
        with self._lock:  # the bytes are taken before they are written: puts run at once
            assert self._used is not None
            if self.budget_bytes and self._used + len(data) > self.budget_bytes:
                raise MediaFull(
                    f"the media folder is at its budget ({self._used} of "
                    f"{self.budget_bytes} bytes used)"
                )
            self._used += len(data)
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(target)
        except OSError as exc:
            with self._lock:
                self._count(-len(data), room=False)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()
            if exc.errno in _DISK_FULL:
                raise MediaFull(f"the disk is full ({exc.strerror or exc})") from exc
            raise StorageError(f"cannot write to the media folder: {exc}") from exc
        with self._lock:
            self._count(0)
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
            size = path.stat().st_size
            path.unlink()
            with self._lock:
                self._count(-size)
            return True
        return False

    def files_older_than(self, seconds: float) -> list[str]:
        """Paths (relative, as the database keeps them) of files not written for ``seconds``,
        left-over temporary files included."""
        cutoff = time.time() - seconds
        return sorted(relative for relative, mtime, _ in self._files() if mtime < cutoff)

    def oldest_first(self, seconds: float) -> list[tuple[str, int]]:
        """``(path, size)`` of files not written for ``seconds``, the longest unwritten first."""
        cutoff = time.time() - seconds
        files = sorted((mtime, relative, size) for relative, mtime, size in self._files())
        return [(relative, size) for mtime, relative, size in files if mtime < cutoff]

    def _files(self) -> list[tuple[str, float, int]]:
        """``(path, mtime, size)`` of every file in the folder."""
        found = []
        for path in self.root.glob("*/*/*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file():
                    stat = path.stat()
                    found.append((str(path.relative_to(self.root)), stat.st_mtime, stat.st_size))
        return found

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


async def make_room(
    media: MediaStore, storage: Retention, keep_since: datetime, grace_seconds: float
) -> int:
    """Near the budget, delete the oldest pictures no open tip needs until the folder is back
    under :data:`_TARGET` of it; returns how many. A picture is needed while a tip that is
    still waiting (not answered for good, not reviewed) and created since ``keep_since`` (the
    retention cutoff) refers to it; files written within ``grace_seconds`` are spared (a tip
    stores its picture before the database refers to it)."""
    if not media.near_budget():
        return 0
    target = media.budget_bytes * _TARGET
    candidates = await asyncio.to_thread(media.oldest_first, grace_seconds)
    deleted = 0
    for start in range(0, len(candidates), _SWEEP_CHUNK):
        chunk = candidates[start : start + _SWEEP_CHUNK]
        needed = await storage.media_needed([path for path, _ in chunk], keep_since)
        for path, _size in chunk:
            if media.used_bytes() <= target:
                return deleted
            if path not in needed and await asyncio.to_thread(media.delete, path):
                deleted += 1
    return deleted
