"""The statements behind :mod:`storage.answers`, written once for both dialects."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AnswerStatements"]


@dataclass(frozen=True, slots=True)
class AnswerStatements:
    """Templates for :mod:`storage.answers`."""

    #: (submission id): forget what the tipster was told before this answer
    forget: str = "DELETE FROM tipster_answers WHERE submission_id = $1"
    #: (submission id, item id, verdict, disputed, now)
    told: str = """
INSERT INTO tipster_answers (submission_id, item_id, verdict, disputed, told_at)
VALUES ($1, $2, $3, {cast:4:boolean}, {cast:5:timestamptz})
ON CONFLICT (submission_id, item_id) DO UPDATE SET
    verdict = EXCLUDED.verdict, disputed = EXCLUDED.disputed, told_at = EXCLUDED.told_at
"""
    #: (submission id, item id, verdict, disputed, now): only a row still there (a verdict
    #: given meanwhile replaced the tip's rows: its notice told the tipster already)
    settle: str = """
UPDATE tipster_answers SET verdict = $3, disputed = {cast:4:boolean}, told_at = $5
WHERE submission_id = $1 AND item_id = $2
"""
    #: (after submission id, limit, bot) -> a row per answered item of the next tips that can
    #: still be corrected: what was told, and the item's verdict now (NULL once retired)
    open_answers: str = """
WITH open AS (
    SELECT s.id FROM submissions s
    WHERE s.id > $1 AND s.sealed_chat IS NOT NULL AND s.tipster IS NOT NULL AND s.notify
      AND ({cast:3:bigint} IS NULL OR s.bot_id = $3)
      AND EXISTS (SELECT 1 FROM tipster_answers a WHERE a.submission_id = s.id)
    ORDER BY s.id LIMIT $2
)
SELECT a.submission_id, a.item_id, a.verdict AS told, a.disputed, s.ticket, s.tipster,
       s.sealed_chat, s.language, CASE WHEN k.retired_at IS NULL THEN k.verdict END AS now
FROM open o
JOIN tipster_answers a ON a.submission_id = o.id
JOIN submissions s ON s.id = o.id
JOIN known_items k ON k.id = a.item_id
ORDER BY a.submission_id, a.item_id
"""
