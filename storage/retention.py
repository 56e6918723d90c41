"""Retention over SQL: dropping expired tips' chat links and media references, and telling
the media sweep which files tips still refer to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage.rows import require_utc
from storage.sql_runner import SqlRunner
from storage.tips import PurgeResult, Retention

__all__ = ["RetentionRepository"]


class RetentionRepository(SqlRunner, Retention):
    """:class:`storage.tips.Retention` over SQL."""

    async def purge_expired(self, before: datetime) -> PurgeResult:
        sql = self._tips
        cutoff = self._encode_time(require_utc(before, "before"))
        in_use: set[str] = set()
        with self._boundary("drop expired tips' links and media"):
            async with self._transaction() as db:
                chats = await db.fetch(sql.purge_chats, cutoff)
                # Read before they are dropped (RETURNING gives the new value, NULL). A path
                # set between the two by a concurrent writer keeps its file: the safe side.
                expiring = await db.fetch(sql.expiring_media, cutoff)
                released = sorted(row["media_path"] for row in expiring)
                await db.fetch(sql.purge_media, cutoff)
                if released:
                    rows = await db.fetch(sql.media_in_use, self._encode_list(released))
                    in_use = {row["media_path"] for row in rows}
        return PurgeResult(
            chats_dropped=len(chats),
            media_paths=tuple(path for path in released if path not in in_use),
        )

    async def media_in_use(self, paths: Sequence[str]) -> set[str]:
        if not paths:
            return set()
        rows = await self._run(
            "check which media is in use", self._tips.media_in_use, self._encode_list(paths)
        )
        return {row["media_path"] for row in rows}

    async def media_needed(self, paths: Sequence[str], since: datetime) -> set[str]:
        if not paths:
            return set()
        rows = await self._run(
            "check which media open tips need",
            self._tips.media_needed,
            self._encode_list(paths),
            self._encode_time(require_utc(since, "since")),
        )
        return {row["media_path"] for row in rows}

    async def media_of_known_item(self, item_id: int) -> str | None:
        rows = await self._run(
            "find a known item's picture", self._tips.media_of_known_item, item_id
        )
        return rows[0]["media_path"] if rows else None
