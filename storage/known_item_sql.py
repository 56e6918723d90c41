"""The known-item statements, written once for both dialects (see :mod:`storage.dialect`).

Every column list here comes from :mod:`storage.rows` (:data:`KNOWN_ITEM_CONTENT` and the
parameter orders built on it), so a new column is added in one place. The upsert is one
statement in both dialects: an existing row is rewritten with the same values when nothing
changed, and its ``updated_at`` and ``updated_by`` move only if the content did (or it was
retired: an upsert revives it). The schema keeps ``revision``. Only where the batch upsert
reads its rows from is each backend's own (see :func:`batch_upsert`).
"""

# ruff: noqa: S608 - statements are put together from this module's constants; values only
# ever travel as parameters.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storage.exchange_sql import PARTNER_ITEM_AUTHOR
from storage.rows import KNOWN_ITEM_CONTENT, KNOWN_ITEM_STATE, RESTORE_PARAMETERS, UPSERT_PARAMETERS

__all__ = ["ITEM_COLUMNS", "KnownItemStatements", "batch_upsert"]


def _columns(names: tuple[str, ...] | list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name}" for name in names)


#: What :func:`storage.rows.item_from_row` reads.
ITEM_COLUMNS = ("id", *KNOWN_ITEM_CONTENT, "created_at", "updated_at", "created_by", "updated_by")

#: The upsert's parameters that fill two columns each: the author and the time of a new row
#: are also its last editor and last change.
_FILLS = {"recorded_by": ("created_by", "updated_by"), "now": ("created_at", "updated_at")}
#: (column, parameter) for every column the upsert inserts, in order.
_INSERTED = [
    (column, parameter)
    for parameter in UPSERT_PARAMETERS
    for column in _FILLS.get(parameter, (parameter,))
]


def _insert_head() -> str:
    """``INSERT INTO known_items AS k (...)``: the columns every form of the upsert fills."""
    return f"INSERT INTO known_items AS k ({_columns([c for c, _ in _INSERTED])})\n"


def _insert_sources(source: Callable[[int, str], str]) -> str:
    """The values of :func:`insert_head`'s columns: ``source(number, name)`` names where each
    parameter of :data:`storage.rows.UPSERT_PARAMETERS` comes from (a placeholder, a column
    of a batch)."""
    return ", ".join(source(UPSERT_PARAMETERS.index(p) + 1, p) for _, p in _INSERTED)


_ON_CONFLICT = f"""
ON CONFLICT (natural_key) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in KNOWN_ITEM_CONTENT)},
    retired_at = NULL,
    (updated_at, updated_by) = (
        SELECT CASE WHEN changed THEN EXCLUDED.updated_at ELSE k.updated_at END,
               CASE WHEN changed THEN EXCLUDED.updated_by ELSE k.updated_by END
        FROM (SELECT ({_columns(KNOWN_ITEM_CONTENT, "k.")}, k.retired_at)
                  {{differs}}
                  ({_columns(KNOWN_ITEM_CONTENT, "EXCLUDED.")}, {{null:timestamptz}})
                  AS changed) AS c)
RETURNING natural_key, {_columns(ITEM_COLUMNS)}
"""


def batch_upsert(rows: str) -> str:
    """The upsert of many rows at once, as a template: ``rows`` is a FROM clause whose columns
    are named as :data:`storage.rows.UPSERT_PARAMETERS`, read in its order."""
    names = _insert_sources(lambda _n, name: name)
    return _insert_head() + f"SELECT {names} FROM {rows}\n" + _ON_CONFLICT


_STATE = f"SELECT {_columns(('id', *KNOWN_ITEM_STATE))} FROM known_items"
_RESTORED = ", ".join(f"{c} = ${n}" for n, c in enumerate(RESTORE_PARAMETERS, start=1) if n > 1)


@dataclass(frozen=True, slots=True)
class KnownItemStatements:
    """Every known-item statement of one dialect. The defaults are the templates;
    :meth:`storage.dialect.Dialect.render_all` gives a dialect's text."""

    #: :data:`storage.rows.UPSERT_PARAMETERS` -> the row as it now stands, ``natural_key``
    #: included
    upsert: str = (
        _insert_head() + f"VALUES ({_insert_sources(lambda n, _name: f'${n}')})" + _ON_CONFLICT
    )
    #: (id) -> the item, unless retired
    item: str = f"""
SELECT {_columns(ITEM_COLUMNS)} FROM known_items WHERE id = $1 AND retired_at IS NULL
"""
    #: (after id, limit) -> items, by id, retired ones and partners' left out
    item_page: str = f"""
SELECT {_columns(ITEM_COLUMNS)} FROM known_items
WHERE id > $1 AND retired_at IS NULL AND created_by {{differs}} '{PARTNER_ITEM_AUTHOR}'
ORDER BY id LIMIT $2
"""
    #: (revision, id, limit) -> :data:`storage.rows.HASH_COLUMNS` after that pair, in order
    hash_page: str = """
SELECT id, pdq, pdq_quality, phash, revision, retired_at IS NOT NULL AS retired
FROM known_items WHERE (revision, id) > ($1, $2) ORDER BY revision, id LIMIT $3
"""
    #: (ids, SHA-256 or NULL) -> what a match shows of the items not retired with these ids or
    #: this SHA-256 (``identical``: the items whose it is), and for a partner's item the
    #: partner's name and trust
    labels: str = """
SELECT k.id, k.sha256 = $2 AS identical, k.verdict, k.title, k.fact_check_url,
    k.original_date, k.original_place, p.name AS newsroom, p.trust
FROM known_items k
LEFT JOIN partner_entries e ON e.item_id = k.id AND e.verdict IS NOT NULL
LEFT JOIN partners p ON p.id = e.partner_id
WHERE (k.id {in:1:bigint} OR k.sha256 = $2) AND k.retired_at IS NULL
"""
    #: () -> the number of items in force
    count: str = "SELECT count(*) FROM known_items WHERE retired_at IS NULL"
    #: (natural_key) -> ``id`` and :data:`storage.rows.KNOWN_ITEM_STATE`, retired or not,
    #: locked until the transaction ends
    state: str = _STATE + " WHERE natural_key = $1 {for_update}"
    #: (id) -> ``id`` and :data:`storage.rows.KNOWN_ITEM_STATE`
    state_by_id: str = _STATE + " WHERE id = $1"
    #: (id, now): take it out of lookups, reads and counts (the row stays for the revision)
    retire: str = "UPDATE known_items SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL"
    #: :data:`storage.rows.RESTORE_PARAMETERS`
    restore: str = f"UPDATE known_items SET {_RESTORED} WHERE id = $1"
