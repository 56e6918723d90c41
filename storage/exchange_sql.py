"""The exchange's statements, written once for both dialects (see :mod:`storage.dialect`).

The feed's sequence is ``MAX(seq) + 1``: SQLite's writers are serialised already, and on
PostgreSQL every writer of ``feed_items`` first takes the table's EXCLUSIVE lock
(:data:`FEED_LOCK`, and the trigger of migration 0008 does the same), so sequences grow in
commit order and a subscriber reading ``seq > cursor`` never skips a change that committed late.
"""

# ruff: noqa: S608 - statements are put together from this module's constants; values only
# ever travel as parameters.

from __future__ import annotations

from dataclasses import dataclass, fields

from storage.dialect import Dialect

__all__ = [
    "FEED_LOCK",
    "PARTNER_COLUMNS",
    "PARTNER_ITEM_AUTHOR",
    "ExchangeStatements",
    "render_exchange",
]

#: Per dialect: what serialises writers of the feed's sequence until the transaction ends.
FEED_LOCK = {"sqlite": "SELECT 1", "postgres": "LOCK TABLE feed_items IN EXCLUSIVE MODE"}

#: ``created_by`` of the known items that stand for partners' entries.
PARTNER_ITEM_AUTHOR = "partner"

#: What :func:`storage.partners.partner_from_row` reads.
PARTNER_COLUMNS = (
    "id, name, url, public_key, trust, token, cursor, added_at, last_sync_at, last_result, "
    "failures, retry_at"
)

_NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM feed_items)"
_ITEM_CONTENT = (
    "sha256, pdq, pdq_quality, phash, verdict, title, note, fact_check_url, original_date, "
    "original_place, source"
)
#: The item's columns read from a batch's JSON object (pdq_quality is a number; the rest text).
_FROM_JSON = ", ".join(
    f"CAST(j.value ->> '{c}' AS INTEGER)" if c == "pdq_quality" else f"j.value ->> '{c}'"
    for c in ("natural_key", *(c.strip() for c in _ITEM_CONTENT.split(",")))
)
#: Where a batch's rows come from: parameter 1, a JSON array of objects, one per row.
_ROWS = {
    "sqlite": "json_each($1) AS j",
    "postgres": "jsonb_array_elements($1::jsonb) AS j(value)",
}
_UPDATED_CONTENT = ", ".join(
    f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _ITEM_CONTENT.split(",")
)


@dataclass(frozen=True, slots=True)
class ExchangeStatements:
    """Every exchange statement of one dialect; the defaults are the templates."""

    #: (id) -> who made the item and whether it is retired
    item_owner: str = "SELECT created_by, retired_at FROM known_items WHERE id = $1"
    #: (item id, by, now) -> a row if the item entered the feed or came back to it
    publish: str = f"""
INSERT INTO feed_items AS f (item_id, published, decided_by, decided_at, seq)
VALUES ({{cast:1:bigint}}, TRUE, {{cast:2:text}}, {{cast:3:timestamptz}}, {_NEXT_SEQ})
ON CONFLICT (item_id) DO UPDATE SET
    published = TRUE, decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at,
    seq = EXCLUDED.seq
WHERE NOT f.published
RETURNING item_id
"""
    #: (item id, by, now) -> a row if the item was in the feed (it becomes a tombstone)
    unpublish: str = f"""
UPDATE feed_items SET published = FALSE, decided_by = $2, decided_at = $3, seq = {_NEXT_SEQ}
WHERE item_id = $1 AND published
RETURNING item_id
"""
    #: (id) -> ``live`` if the feed carries it now
    is_published: str = """
SELECT f.published AND k.retired_at IS NULL AS live
FROM feed_items f JOIN known_items k ON k.id = f.item_id WHERE f.item_id = $1
"""
    #: (now) -> one row per imported item that entered the feed
    publish_imported: str = """
INSERT INTO feed_items (item_id, published, decided_by, decided_at, seq)
SELECT k.id, TRUE, 'import', {cast:1:timestamptz},
       (SELECT COALESCE(MAX(seq), 0) FROM feed_items) + row_number() OVER (ORDER BY k.id)
FROM known_items k
WHERE k.created_by = 'import' AND k.retired_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM feed_items f WHERE f.item_id = k.id)
RETURNING item_id
"""
    #: (after, limit) -> the feed's changes after that sequence, in order
    feed_page: str = """
SELECT f.seq, f.published, f.decided_at, k.natural_key, k.sha256, k.pdq, k.pdq_quality,
       k.phash, k.verdict, k.title, k.note, k.fact_check_url, k.original_date,
       k.original_place, k.updated_at, k.retired_at
FROM feed_items f JOIN known_items k ON k.id = f.item_id
WHERE f.seq > $1 ORDER BY f.seq LIMIT $2
"""
    #: (name, url, public_key, trust, token, now) -> the partner
    add_partner: str = f"""
INSERT INTO partners (name, url, public_key, trust, token, added_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PARTNER_COLUMNS}
"""
    #: () -> every partner, by name
    partners: str = f"SELECT {PARTNER_COLUMNS} FROM partners ORDER BY name"
    #: (name) -> the partner
    partner: str = f"SELECT {PARTNER_COLUMNS} FROM partners WHERE name = $1"
    #: (partner id, now): take its items out of lookups
    retire_partner_items: str = """
UPDATE known_items SET retired_at = $2
WHERE id IN (SELECT item_id FROM partner_entries WHERE partner_id = $1) AND retired_at IS NULL
"""
    #: (partner id) -> a row if it existed; its entries go with it
    delete_partner: str = "DELETE FROM partners WHERE id = $1 RETURNING id"
    #: (partner id, entry keys) -> the sequence stored for each key already seen
    entry_state: str = """
SELECT entry_key, sequence FROM partner_entries WHERE partner_id = $1 AND entry_key {in:2:text}
"""
    #: (rows as a JSON array of objects named as the columns, now) -> id and natural key of
    #: each partner's item written (created, updated, or brought back from retirement)
    upsert_partner_items: str = f"""
INSERT INTO known_items AS k (natural_key, {_ITEM_CONTENT}, created_at, updated_at, created_by,
                              updated_by)
SELECT {_FROM_JSON}, {{cast:2:timestamptz}}, {{cast:2:timestamptz}},
       '{PARTNER_ITEM_AUTHOR}', '{PARTNER_ITEM_AUTHOR}'
FROM {{rows}} WHERE true
ON CONFLICT (natural_key) DO UPDATE SET {_UPDATED_CONTENT},
    updated_at = EXCLUDED.updated_at, retired_at = NULL
RETURNING id, natural_key
"""
    #: (natural keys, now): partners' tombstones retire their items
    retire_partner_item: str = """
UPDATE known_items SET retired_at = $2 WHERE natural_key {in:1:text} AND retired_at IS NULL
"""
    #: (rows as a JSON array: key, item_id, sequence, updated_at, verdict, newsroom; partner id)
    upsert_entries: str = """
INSERT INTO partner_entries AS e (partner_id, entry_key, item_id, sequence, updated_at,
                                  verdict, newsroom)
SELECT {cast:2:bigint}, j.value ->> 'key', CAST(j.value ->> 'item_id' AS BIGINT),
       CAST(j.value ->> 'sequence' AS BIGINT), CAST(j.value ->> 'updated_at' AS {timestamp}),
       j.value ->> 'verdict', j.value ->> 'newsroom'
FROM {rows} WHERE true
ON CONFLICT (partner_id, entry_key) DO UPDATE SET
    item_id = COALESCE(EXCLUDED.item_id, e.item_id), sequence = EXCLUDED.sequence,
    updated_at = EXCLUDED.updated_at, verdict = EXCLUDED.verdict, newsroom = EXCLUDED.newsroom
"""
    #: (partner id, cursor, now, result): a page applied
    advance: str = """
UPDATE partners SET cursor = $2, last_sync_at = $3, last_result = $4, failures = 0,
                    retry_at = NULL
WHERE id = $1
"""
    #: (partner id, now, result, failed, retry_at)
    record_sync: str = """
UPDATE partners SET last_sync_at = $2, last_result = $3,
    failures = CASE WHEN {cast:4:boolean} THEN failures + 1 ELSE 0 END,
    retry_at = {cast:5:timestamptz}
WHERE id = $1
"""
    #: (item ids) -> each item's key between newsrooms
    keys_of_items: str = """
SELECT k.id, COALESCE(e.entry_key, k.natural_key) AS entry_key
FROM known_items k LEFT JOIN partner_entries e ON e.item_id = k.id
WHERE k.id {in:1:bigint}
"""
    #: (keys) -> this newsroom's own items with those keys
    own_opinions: str = f"""
SELECT id, natural_key, verdict, title, fact_check_url, updated_at FROM known_items
WHERE natural_key {{in:1:text}} AND retired_at IS NULL
  AND created_by {{differs}} '{PARTNER_ITEM_AUTHOR}'
"""
    #: (keys) -> every partner's entry with those keys
    partner_opinions: str = """
SELECT e.item_id, e.entry_key, p.name, p.trust, e.verdict, k.title, k.fact_check_url,
       e.updated_at
FROM partner_entries e JOIN partners p ON p.id = e.partner_id
LEFT JOIN known_items k ON k.id = e.item_id
WHERE e.entry_key {in:1:text} ORDER BY p.name, e.entry_key
"""


def render_exchange(dialect: Dialect) -> ExchangeStatements:
    """The statements in ``dialect``; ``{rows}``, where a batch's rows come from, first."""
    return ExchangeStatements(
        **{
            f.name: dialect.render(f.default.replace("{rows}", _ROWS[dialect.name]))
            for f in fields(ExchangeStatements)
        }
    )
