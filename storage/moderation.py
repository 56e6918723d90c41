"""Moderators over SQL: their roles (given per bot), the audit log of what they did, and the
counts ``/stats`` shows them."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from checks.verdicts import SubmissionStatus
from storage.rows import as_utc, audit_entry_from_row, encode_json, moderator_from_row, require_utc
from storage.sql_runner import SqlRunner, checked_limit, non_empty, vocabulary_word
from storage.submissions import WAITING
from storage.tips import AuditEntry, Moderation, Moderator, Role, Stats

__all__ = ["ModerationRepository"]


class ModerationRepository(SqlRunner, Moderation):
    """:class:`storage.tips.Moderation` over SQL."""

    async def set_role(self, pseudonym: str, role: Role, added_by: str | None) -> None:
        _, now = self._now()
        await self._run(
            "give a role",
            self._tips.set_role,
            non_empty(pseudonym, "a pseudonym"),
            vocabulary_word(Role, role).value,
            added_by,
            now,
            self._role_scope,
        )

    async def remove_role(self, pseudonym: str) -> bool:
        rows = await self._run("remove a role", self._tips.remove_role, pseudonym, self._role_scope)
        return bool(rows)

    async def role_of(self, pseudonym: str) -> Role | None:
        rows = await self._run("read a role", self._tips.role_of, pseudonym, self._role_scope)
        return Role(rows[0]["role"]) if rows else None

    async def list_roles(self) -> list[Moderator]:
        rows = await self._run("list roles", self._tips.list_roles, self._role_scope)
        return [moderator_from_row(r) for r in rows]

    @property
    def _role_scope(self) -> int:
        return self._bot_scope if self._bot_scope is not None else 0

    async def audit(
        self,
        actor: str | None,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        _, now = self._now()
        await self._run(
            "write the audit log",
            self._tips.insert_audit,
            now,
            actor,
            non_empty(action, "an audit action"),
            subject,
            encode_json(detail),
        )

    async def audit_log(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self._run("read the audit log", self._tips.audit_log, checked_limit(limit))
        return [audit_entry_from_row(row) for row in rows]

    async def stats(self, since: datetime) -> Stats:
        sql = self._tips
        start = self._encode_time(require_utc(since, "since"))
        with self._boundary("count for the stats"):
            async with self._connection() as db:
                queue = (await db.fetch(sql.queue_size, *WAITING, self._bot_scope))[0]["n"]
                matched = SubmissionStatus.MATCHED.value
                counts = (await db.fetch(sql.submissions_since, start, matched, self._bot_scope))[0]
                times = await db.fetch(sql.reply_times, start, self._bot_scope)
                known_items = (await db.fetch(self._known.count))[0][0]
        seconds = [
            (as_utc(row["first_reply_at"]) - as_utc(row["created_at"])).total_seconds()
            for row in times
        ]
        return Stats(
            queue=queue,
            known_items=known_items,
            submissions_today=counts["submissions"],
            matches_today=counts["matches"],
            median_seconds_to_card=statistics.median(seconds) if seconds else None,
        )
