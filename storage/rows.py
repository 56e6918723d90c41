"""Known items between dataclasses and database rows: one mapping, used by both backends.

A row is anything indexable by column name (``sqlite3.Row``, ``asyncpg.Record``). The upsert's
parameters come in the order of :data:`UPSERT_PARAMETERS`; each dialect's SQL numbers its
placeholders in that order (``?1`` in SQLite, ``$1`` in PostgreSQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from checks.errors import InvalidInput
from checks.signals import Fingerprint, HashKind, Pdq, Phash, Sha256
from checks.verdicts import Verdict
from storage.base import KnownItem, KnownItemDraft
from storage.index import FingerprintBatch

__all__ = [
    "HASH_COLUMNS",
    "UPSERT_PARAMETERS",
    "as_utc",
    "changes_from_rows",
    "item_from_row",
    "normalise_draft",
    "upsert_parameters",
    "utc_now",
]

UPSERT_PARAMETERS = (
    "natural_key",
    "sha256",
    "pdq",
    "pdq_quality",
    "phash",
    "verdict",
    "title",
    "note",
    "fact_check_url",
    "original_date",
    "original_place",
    "source",
    "recorded_by",
    "now",
)

Row = Mapping[str, Any]

#: What a dialect's hash page selects, in this order (read by position, for speed).
HASH_COLUMNS = ("id", "sha256", "pdq", "pdq_quality", "phash", "revision", "retired")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (microseconds: what both backends keep)."""
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite keeps ISO-8601 text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"stored timestamp {value!r} has no time zone")
    return moment.astimezone(UTC)


def _valid(kind: type[HashKind], value: str | None) -> str | None:
    return None if value is None else kind.validate(value)


def normalise_draft(draft: KnownItemDraft) -> KnownItemDraft:
    """Validate and normalise a draft before it is written: lower-case hashes, a real verdict.

    The mirrored PDQ is dropped: a stored item is never looked up by its mirror.
    """
    fp = draft.fingerprint
    quality = fp.pdq_quality
    if quality is not None and not 0 <= quality <= 100:
        raise InvalidInput(f"PDQ quality must be between 0 and 100, got {quality}")
    clean = Fingerprint(
        sha256=_valid(Sha256, fp.sha256),
        pdq=_valid(Pdq, fp.pdq),
        pdq_quality=quality,
        phash=_valid(Phash, fp.phash),
    )
    return dataclasses.replace(draft, fingerprint=clean, verdict=Verdict.parse(draft.verdict))


def upsert_parameters(draft: KnownItemDraft, now: object) -> tuple[object, ...]:
    """The upsert's parameters in :data:`UPSERT_PARAMETERS` order; ``now`` as the dialect wants."""
    fp = draft.fingerprint
    return (
        draft.natural_key,
        fp.sha256,
        fp.pdq,
        fp.pdq_quality,
        fp.phash,
        draft.verdict.value,
        draft.title,
        draft.note,
        draft.fact_check_url,
        draft.original_date,
        draft.original_place,
        draft.source,
        draft.recorded_by,
        now,
    )


def item_from_row(row: Row) -> KnownItem:
    """A full ``known_items`` row as a :class:`KnownItem`."""
    draft = KnownItemDraft(
        fingerprint=Fingerprint(
            sha256=row["sha256"],
            pdq=row["pdq"],
            pdq_quality=row["pdq_quality"],
            phash=row["phash"],
        ),
        verdict=Verdict(row["verdict"]),
        title=row["title"],
        note=row["note"],
        fact_check_url=row["fact_check_url"],
        original_date=row["original_date"],
        original_place=row["original_place"],
        source=row["source"],
        recorded_by=row["created_by"],
    )
    return KnownItem(
        id=row["id"],
        draft=draft,
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def changes_from_rows(rows: Sequence[Sequence[Any]]) -> tuple[FingerprintBatch, list[int]]:
    """Rows of :data:`HASH_COLUMNS` as the index wants them: one columnar batch of the live
    items, and the ids of the retired ones. Columns are cut with ``zip``, not row by row."""
    if not rows:
        return FingerprintBatch.from_columns([], [], [], [], []), []
    ids, sha256, pdq, pdq_quality, phash, _revision, retired = zip(*rows, strict=True)
    batch = FingerprintBatch.from_columns(ids, sha256, pdq, pdq_quality, phash)
    gone = np.array(retired, dtype=bool)
    if not gone.any():
        return batch, []
    return batch.take(~gone), [ids[i] for i in np.flatnonzero(gone).tolist()]
