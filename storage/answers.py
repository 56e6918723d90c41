"""What tipsters were told, over SQL (:class:`storage.tips.Answers`), kept so that a change
can be corrected (see :mod:`checks.corrections`).

Rows are written when a tipster is told (a certain match, a moderator's verdict) and settled
when a correction went out. Tips whose chat link is gone (retention, /forget) are never read
back: nobody can be told anything about them any more.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import ClassVar

from checks.verdicts import Verdict
from storage.answer_sql import AnswerStatements
from storage.rows import Row
from storage.sql_runner import SqlRunner, checked_limit
from storage.tips import AnsweredItem, Answers, OpenAnswer, Told

__all__ = ["AnswerRepository"]


class AnswerRepository(SqlRunner, Answers):
    """:class:`Answers` over SQL."""

    _answers: ClassVar[AnswerStatements]

    async def record_answer(self, submission_id: int, told: Sequence[Told]) -> None:
        _, now = self._now()
        with self._boundary("record what a tipster was told"):
            async with self._transaction() as db:
                await db.fetch(self._answers.forget, submission_id)
                for item in told:
                    await db.fetch(self._answers.told, submission_id, *_values(item), now)

    async def settle_answer(self, submission_id: int, told: Sequence[Told]) -> None:
        _, now = self._now()
        with self._boundary("record a correction"):
            async with self._transaction() as db:
                for item in told:
                    await db.fetch(self._answers.settle, submission_id, *_values(item), now)

    async def open_answers(self, after: int = 0, limit: int = 200) -> list[OpenAnswer]:
        rows = await self._run(
            "read what tipsters were told",
            self._answers.open_answers,
            after,
            checked_limit(limit),
            self._bot_scope,
        )
        return [
            OpenAnswer(
                submission_id=submission_id,
                ticket=first["ticket"],
                tipster=first["tipster"],
                sealed_chat=bytes(first["sealed_chat"]),
                language=first["language"],
                items=tuple(
                    AnsweredItem(
                        Told(row["item_id"], _verdict(row["told"]), bool(row["disputed"])),
                        _verdict(row["now"]),
                    )
                    for row in group
                ),
            )
            for submission_id, group in _by_submission(rows)
            for first in (group[0],)
        ]


def _by_submission(rows: Sequence[Row]) -> list[tuple[int, list[Row]]]:
    """The rows (ordered by submission) grouped per submission."""
    return [(key, list(group)) for key, group in groupby(rows, key=lambda r: r["submission_id"])]


def _values(item: Told) -> tuple[int, str | None, bool]:
    return item.item_id, None if item.verdict is None else item.verdict.value, item.disputed


def _verdict(value: object) -> Verdict | None:
    return None if value is None else Verdict(str(value))
