"""Dataclasses and database rows: one mapping, used by both backends.

A row is anything indexable by column name (``sqlite3.Row``, ``asyncpg.Record``). Statements
with many parameters take them in the order of a named tuple here (:data:`UPSERT_PARAMETERS`,
:data:`RESTORE_PARAMETERS`); the statements, written once for both dialects, number their
placeholders in that order. What differs between the drivers' values (timestamps as text
or as datetimes, booleans as 0/1, JSON as text) is absorbed here, so the shared flow never
asks which backend it runs on.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from checks.errors import InvalidInput
from checks.signals import Fingerprint, HashKind, Pdq, Phash, Sha256
from checks.verdicts import SubmissionStatus, Verdict
from storage.base import KnownItem, KnownItemDraft
from storage.index import FingerprintBatch
from storage.tip_records import (
    AuditEntry,
    ItemOrigin,
    ItemSource,
    ItemStatus,
    Moderator,
    Review,
    Role,
    Submission,
    SubmissionItem,
)

__all__ = [
    "HASH_COLUMNS",
    "KNOWN_ITEM_CONTENT",
    "KNOWN_ITEM_STATE",
    "RESTORE_PARAMETERS",
    "UPSERT_PARAMETERS",
    "Executor",
    "as_utc",
    "audit_entry_from_row",
    "changes_from_rows",
    "decode_json",
    "encode_json",
    "fingerprint_from_row",
    "item_from_row",
    "known_item_content",
    "known_item_state",
    "moderator_from_row",
    "normalise_draft",
    "normalise_fingerprint",
    "require_utc",
    "restore_parameters",
    "review_from_row",
    "state_fingerprint",
    "submission_from_row",
    "submission_item_from_row",
    "upsert_parameters",
]

#: What a known item says (its hashes, verdict and context), in the order the upsert, the
#: undo snapshot and the export all use: one list, so a new column is added everywhere at once.
KNOWN_ITEM_CONTENT = (
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
)
UPSERT_PARAMETERS = ("natural_key", *KNOWN_ITEM_CONTENT, "recorded_by", "now")

Row = Mapping[str, Any]


class Executor(Protocol):
    """Runs one statement and returns its rows: a dialect's connection, in a transaction or
    not. ``asyncpg``'s connections and pools have this shape already; SQLite wraps its own."""

    async def fetch(self, query: str, *args: Any) -> Sequence[Row]: ...


#: What a dialect's hash page selects, in this order (read by position, for speed).
HASH_COLUMNS = ("id", "pdq", "pdq_quality", "phash", "revision", "retired")


def as_utc(value: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite keeps ISO-8601 text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"stored timestamp {value!r} has no time zone")
    return moment.astimezone(UTC)


def require_utc(moment: datetime, what: str) -> datetime:
    """A caller's timestamp in UTC; a naive one is refused (its zone would be a guess).

    SQLite compares timestamps as text, which orders correctly only in one zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def _valid(kind: type[HashKind], value: str | None) -> str | None:
    return None if value is None else kind.validate(value)


def normalise_fingerprint(fp: Fingerprint) -> Fingerprint:
    """Validated, lower-case hashes as stored; the mirrored PDQ is dropped (a stored picture
    is never looked up by its mirror)."""
    quality = fp.pdq_quality
    if quality is not None and not 0 <= quality <= 100:
        raise InvalidInput(f"PDQ quality must be between 0 and 100, got {quality}")
    return Fingerprint(
        sha256=_valid(Sha256, fp.sha256),
        pdq=_valid(Pdq, fp.pdq),
        pdq_quality=quality,
        phash=_valid(Phash, fp.phash),
        known_features=fp.known_features,
    )


def normalise_draft(draft: KnownItemDraft) -> KnownItemDraft:
    """Validate and normalise a draft before it is written: lower-case hashes, a real verdict."""
    return dataclasses.replace(
        draft,
        fingerprint=normalise_fingerprint(draft.fingerprint),
        verdict=Verdict.parse(draft.verdict),
    )


def known_item_content(draft: KnownItemDraft) -> tuple[str | int | None, ...]:
    """A draft's values in :data:`KNOWN_ITEM_CONTENT` order."""
    fp = draft.fingerprint
    return (
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
    )


def upsert_parameters(draft: KnownItemDraft, now: object) -> tuple[object, ...]:
    """The upsert's parameters in :data:`UPSERT_PARAMETERS` order; ``now`` as the dialect wants."""
    return (draft.natural_key, *known_item_content(draft), draft.recorded_by, now)


def _hashes(values: Mapping[str, Any]) -> Fingerprint:
    """The hash columns of a row or a saved state, as stored (validated when written)."""
    return Fingerprint(
        sha256=values["sha256"],
        pdq=values["pdq"],
        pdq_quality=values["pdq_quality"],
        phash=values["phash"],
    )


def item_from_row(row: Row) -> KnownItem:
    """A full ``known_items`` row as a :class:`KnownItem`."""
    draft = KnownItemDraft(
        fingerprint=_hashes(row),
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
        return FingerprintBatch.from_columns([], [], [], []), []
    ids, pdq, pdq_quality, phash, _revision, retired = zip(*rows, strict=True)
    batch = FingerprintBatch.from_columns(ids, pdq, pdq_quality, phash)
    gone = np.array(retired, dtype=bool)
    if not gone.any():
        return batch, []
    return batch.take(~gone), [ids[i] for i in np.flatnonzero(gone).tolist()]


# -- JSON columns -----------------------------------------------------------------------------


def _representable(value: Any) -> Any:
    """``value`` with what JSON columns refuse replaced: a non-finite float becomes null, a NUL
    character is dropped (PostgreSQL's jsonb rejects ``\\u0000``; SQLite keeps the same)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {_representable(str(k)): _representable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_representable(v) for v in value]
    return value


def encode_json(value: Any) -> str | None:
    """A JSON column's parameter: text on both backends (PostgreSQL casts it to jsonb).

    Reports carry values read from untrusted files, so what JSON cannot hold is cleaned
    rather than refused: losing a tip over a NaN in its EXIF would be the worse outcome.
    """
    if value is None:
        return None
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere
        return json.dumps(_representable(value), ensure_ascii=False, allow_nan=False)
    if "\\u0000" in text:
        return json.dumps(_representable(value), ensure_ascii=False, allow_nan=False)
    return text


def decode_json(value: Any) -> Any:
    """A JSON column's value (both drivers hand over text unless told otherwise)."""
    if value is None or isinstance(value, dict | list):
        return value
    return json.loads(value)


# -- tips -------------------------------------------------------------------------------------


def fingerprint_from_row(row: Row) -> Fingerprint | None:
    """The hashes a row carries, or None if it has none (a picture not analysed yet)."""
    if row["sha256"] is None and row["pdq"] is None and row["phash"] is None:
        return None
    return _hashes(row)


def submission_item_from_row(row: Row) -> SubmissionItem:
    """A ``submission_items`` row as a :class:`SubmissionItem`."""
    return SubmissionItem(
        id=row["id"],
        submission_id=row["submission_id"],
        position=row["position"],
        source=ItemSource(
            origin=ItemOrigin(row["origin"]),
            ref=row["ref"],
            file_size=row["file_size"],
            mime_type=row["mime_type"],
        ),
        update_id=_update_id(row),
        status=ItemStatus(row["status"]),
        fingerprint=fingerprint_from_row(row),
        media_path=row["media_path"],
        report=decode_json(row["report"]),
        error=decode_json(row["error"]),
    )


def _update_id(row: Row) -> int | None:
    """The Telegram update id, from the per-bot key (``<bot>:<update>``) or an older row."""
    key = row["update_key"]
    return int(key.rsplit(":", 1)[1]) if key else row["update_id"]


def _maybe_utc(value: datetime | str | None) -> datetime | None:
    return None if value is None else as_utc(value)


def submission_from_row(row: Row, items: Sequence[SubmissionItem]) -> Submission:
    """A ``submissions`` row (with the ``verdict`` in force selected alongside) and its items."""
    verdict = row["verdict"]
    return Submission(
        id=row["id"],
        ticket=row["ticket"],
        status=SubmissionStatus(row["status"]),
        tipster=row["tipster"],
        sealed_chat=None if row["sealed_chat"] is None else bytes(row["sealed_chat"]),
        notify=bool(row["notify"]),
        provenance=decode_json(row["provenance"]),
        media_group=row["media_group"],
        claimed_by=row["claimed_by"],
        note=row["note"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        replied_at=_maybe_utc(row["first_reply_at"]),
        review_posted_at=_maybe_utc(row["review_posted_at"]),
        items=tuple(sorted(items, key=lambda item: item.position)),
        verdict=None if verdict is None else Verdict(verdict),
        language=row["language"],
    )


def review_from_row(
    row: Row, known_item_ids: Sequence[int], *, kept_item_ids: Sequence[int] = ()
) -> Review:
    """A ``reviews`` row and the known items it created or changed (by id)."""
    return Review(
        id=row["id"],
        submission_id=row["submission_id"],
        verdict=Verdict(row["verdict"]),
        moderator=row["moderator"],
        note=row["note"],
        fact_check_url=row["fact_check_url"],
        created_at=as_utc(row["created_at"]),
        reverted_at=_maybe_utc(row["reverted_at"]),
        known_item_ids=tuple(sorted(known_item_ids)),
        kept_item_ids=tuple(sorted(kept_item_ids)),
    )


def moderator_from_row(row: Row) -> Moderator:
    return Moderator(
        pseudonym=row["pseudonym"],
        role=Role(row["role"]),
        added_by=row["added_by"],
        added_at=as_utc(row["added_at"]),
    )


def audit_entry_from_row(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=as_utc(row["at"]),
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        detail=decode_json(row["detail"]),
    )


# -- undoing a review -------------------------------------------------------------------------

#: The columns of a known item a review may change, which undoing it puts back. The natural
#: key, creation time and author never change on an upsert, so they need no saving.
KNOWN_ITEM_STATE = (*KNOWN_ITEM_CONTENT, "updated_at", "updated_by", "retired_at")
#: The restore statement's parameters: the item's id, then :data:`KNOWN_ITEM_STATE`.
RESTORE_PARAMETERS = ("id", *KNOWN_ITEM_STATE)
_STATE_TIMES = ("updated_at", "retired_at")


def known_item_state(row: Row) -> dict[str, Any]:
    """A known item's :data:`KNOWN_ITEM_STATE` as JSON-ready values (timestamps ISO-8601)."""
    state = {column: row[column] for column in KNOWN_ITEM_STATE}
    for column in _STATE_TIMES:
        if state[column] is not None:
            state[column] = as_utc(state[column]).isoformat(timespec="microseconds")
    return state


def restore_parameters(
    item_id: int, state: Mapping[str, Any], encode_time: Any
) -> tuple[object, ...]:
    """The restore statement's parameters (:data:`RESTORE_PARAMETERS` order) from a saved
    state; ``encode_time`` turns a UTC datetime into the dialect's parameter."""
    values = []
    for column in KNOWN_ITEM_STATE:
        value = state[column]
        if column in _STATE_TIMES and value is not None:
            value = encode_time(as_utc(value))
        values.append(value)
    return (item_id, *values)


def state_fingerprint(state: Mapping[str, Any]) -> Fingerprint:
    """The hashes of a saved state (what the index must hold once it is restored)."""
    return _hashes(state)
