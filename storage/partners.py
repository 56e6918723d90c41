"""The exchange over SQL: publishing decisions, the feed's pages, partners and their entries.

A partner's live entry is stored as a known item of its own (natural key
``partner:<partner id>:<entry key>``, author ``partner``), so the near-duplicate index, loaded
and refreshed from ``known_items``, finds it with no second index to keep; ``partner_entries``
records who said it and the sequence that refuses replays. See ``docs/exchange.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

from checks.errors import InvalidInput
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage.errors import Conflict, NotFound
from storage.exchange_base import (
    ApplyResult,
    Contest,
    Exchange,
    FeedRow,
    Opinion,
    Partner,
    PartnerDraft,
    PartnerEntry,
    Trust,
)
from storage.exchange_sql import PARTNER_ITEM_AUTHOR, ExchangeStatements
from storage.rows import Executor, Row, as_utc
from storage.sql_runner import SqlRunner, checked_limit, non_empty, vocabulary_word

__all__ = ["ExchangeRepository", "partner_from_row", "partner_item_key"]

#: The longest partner name (it is shown on cards: "per NAME").
MAX_PARTNER_NAME = 64


def partner_item_key(partner_id: int, entry_key: str) -> str:
    """The natural key of the known item that stands for a partner's entry."""
    return f"partner:{partner_id}:{entry_key}"


def _time(value: object) -> datetime | None:
    return None if value is None else as_utc(value)  # type: ignore[arg-type]


def partner_from_row(row: Row) -> Partner:
    """A stored partner from its row (:data:`storage.exchange_sql.PARTNER_COLUMNS`)."""
    return Partner(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        public_key=row["public_key"],
        trust=Trust(row["trust"]),
        token=row["token"],
        cursor=row["cursor"],
        added_at=as_utc(row["added_at"]),
        last_sync_at=_time(row["last_sync_at"]),
        last_result=row["last_result"],
        failures=row["failures"],
        retry_at=_time(row["retry_at"]),
    )


def _checked_partner(draft: PartnerDraft) -> PartnerDraft:
    """A partner worth storing, or InvalidInput saying what is wrong with it."""
    name = non_empty(draft.name, "a partner's name").strip()
    if len(name) > MAX_PARTNER_NAME or any(not c.isprintable() for c in name):
        raise InvalidInput(f"a partner's name is printable text of at most {MAX_PARTNER_NAME}")
    url = (draft.url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"a partner's feed URL must be http(s)://host/..., got {url!r}")
    token = draft.token.strip() if draft.token else None
    if token is not None and (not token.isprintable() or " " in token):
        raise InvalidInput("a bearer token is one word of printable characters")
    return PartnerDraft(
        name=name,
        url=url,
        public_key=non_empty(draft.public_key, "a partner's public key").strip(),
        trust=vocabulary_word(Trust, draft.trust),
        token=token or None,
    )


class ExchangeRepository(SqlRunner, Exchange):
    """:class:`storage.exchange_base.Exchange` over SQL."""

    #: The dialect's exchange statements, and what serialises writers of the feed's sequence.
    _exchange: ClassVar[ExchangeStatements]
    _feed_lock: ClassVar[str]

    # -- this newsroom's feed ---------------------------------------------------------------

    async def publish(self, item_id: int, by: str) -> bool:
        return await self._decide(item_id, by, publish=True)

    async def unpublish(self, item_id: int, by: str) -> bool:
        return await self._decide(item_id, by, publish=False)

    async def _decide(self, item_id: int, by: str, *, publish: bool) -> bool:
        by = non_empty(by, "who decides")
        _, now = self._now()
        with self._boundary("publish a known item" if publish else "withdraw a known item"):
            async with self._transaction() as db:
                owner = await db.fetch(self._exchange.item_owner, item_id)
                if not owner or (publish and owner[0]["retired_at"] is not None):
                    raise NotFound(f"there is no known item {item_id}")
                if owner[0]["created_by"] == PARTNER_ITEM_AUTHOR:
                    raise InvalidInput(
                        f"known item {item_id} is a partner's: only its newsroom publishes it"
                    )
                await db.fetch(self._feed_lock)
                statement = self._exchange.publish if publish else self._exchange.unpublish
                return bool(await db.fetch(statement, item_id, by, now))

    async def is_published(self, item_id: int) -> bool:
        rows = await self._run("read a publishing decision", self._exchange.is_published, item_id)
        return bool(rows and rows[0]["live"])

    async def publish_imported(self) -> int:
        _, now = self._now()
        with self._boundary("publish imported items"):
            async with self._transaction() as db:
                await db.fetch(self._feed_lock)
                return len(await db.fetch(self._exchange.publish_imported, now))

    async def feed_page(self, after: int, limit: int) -> list[FeedRow]:
        if not isinstance(after, int) or after < 0:
            raise InvalidInput(f"a feed position is a whole number of at least 0, got {after!r}")
        rows = await self._run(
            "read the feed", self._exchange.feed_page, after, checked_limit(limit)
        )
        return [_feed_row(row) for row in rows]

    # -- partners ---------------------------------------------------------------------------

    async def add_partner(self, draft: PartnerDraft) -> Partner:
        draft = _checked_partner(draft)
        _, now = self._now()
        values = (draft.name, draft.url, draft.public_key, draft.trust.value, draft.token, now)
        try:
            rows = await self._run("add a partner", self._exchange.add_partner, *values)
        except Conflict:
            raise InvalidInput(f"there is already a partner named {draft.name!r}") from None
        return partner_from_row(rows[0])

    async def partners(self) -> list[Partner]:
        rows = await self._run("list partners", self._exchange.partners)
        return [partner_from_row(row) for row in rows]

    async def partner(self, name: str) -> Partner | None:
        rows = await self._run("read a partner", self._exchange.partner, (name or "").strip())
        return partner_from_row(rows[0]) if rows else None

    async def remove_partner(self, name: str) -> bool:
        found = await self.partner(name)
        if found is None:
            return False
        _, now = self._now()
        with self._boundary("remove a partner"):
            async with self._transaction() as db:
                await db.fetch(self._exchange.retire_partner_items, found.id, now)
                removed = bool(await db.fetch(self._exchange.delete_partner, found.id))
        await self.refresh_index()
        return removed

    async def apply_partner_page(
        self, partner_id: int, entries: Sequence[PartnerEntry], cursor: str | None
    ) -> ApplyResult:
        _, now = self._now()
        keys = sorted({entry.key for entry in entries})
        with self._boundary("apply a partner's feed"):
            async with self._transaction() as db:
                rows = await db.fetch(
                    self._exchange.entry_state, partner_id, self._encode_list(keys)
                )
                stored = {row["entry_key"]: row["sequence"] for row in rows}
                # As if applied one by one, in order: the last newer entry per key stands.
                latest: dict[str, PartnerEntry] = {}
                replayed: list[str] = []
                for entry in entries:
                    if entry.key in stored and entry.sequence <= stored[entry.key]:
                        replayed.append(entry.key)
                        continue
                    stored[entry.key] = entry.sequence
                    latest[entry.key] = entry
                applied = len(entries) - len(replayed)
                await self._write_entries(db, partner_id, list(latest.values()), now)
                contested = await self._contested(db, list(latest.values()))
                result = f"{applied} applied, {len(replayed)} replayed"
                await db.fetch(self._exchange.advance, partner_id, cursor, now, result)
        if applied:
            await self.refresh_index()
        return ApplyResult(applied=applied, replayed=tuple(replayed), contested=contested)

    async def _contested(self, db: Executor, entries: list[PartnerEntry]) -> tuple[Contest, ...]:
        """The live entries whose verdict differs from our own item with the same key."""
        theirs = {e.key: e.verdict for e in entries if e.verdict is not None}
        if not theirs:
            return ()
        own = await db.fetch(self._exchange.own_opinions, self._encode_list(sorted(theirs)))
        return tuple(
            Contest(row["natural_key"], row["id"], row["title"], Verdict(row["verdict"]), verdict)
            for row in own
            if (verdict := theirs[row["natural_key"]]) is not None
            and verdict.value != row["verdict"]
        )

    async def _write_entries(
        self, db: Executor, partner_id: int, entries: list[PartnerEntry], now: object
    ) -> None:
        """Entries (one per key) inside the page's transaction, in three statements: live
        ones' items written, tombstones' items retired, then who said what recorded."""
        live = [e for e in entries if e.verdict is not None and e.fingerprint is not None]
        gone = [partner_item_key(partner_id, e.key) for e in entries if e.verdict is None]
        item_ids: dict[str, int] = {}
        if live:
            rows = await db.fetch(
                self._exchange.upsert_partner_items,
                json.dumps([_item_json(partner_id, e) for e in live]),
                now,
            )
            item_ids = {row["natural_key"]: row["id"] for row in rows}
        if gone:
            await db.fetch(self._exchange.retire_partner_item, self._encode_list(gone), now)
        if entries:
            records = [
                {
                    "key": e.key,
                    "item_id": item_ids.get(partner_item_key(partner_id, e.key)),
                    "sequence": e.sequence,
                    "updated_at": e.updated_at.astimezone(UTC).isoformat(timespec="microseconds"),
                    "verdict": None if e.verdict is None else e.verdict.value,
                    "newsroom": e.newsroom,
                }
                for e in entries
            ]
            await db.fetch(self._exchange.upsert_entries, json.dumps(records), partner_id)

    async def record_partner_sync(
        self, partner_id: int, result: str, *, failed: bool, retry_at: datetime | None
    ) -> None:
        _, now = self._now()
        retry = None if retry_at is None else self._encode_time(retry_at)
        await self._run(
            "record a partner's sync",
            self._exchange.record_sync,
            partner_id,
            now,
            result[:500],
            failed,
            retry,
        )

    # -- who said what ----------------------------------------------------------------------

    async def opinions_on(self, item_ids: Sequence[int]) -> list[Opinion]:
        if not item_ids:
            return []
        rows = await self._run(
            "read items' keys", self._exchange.keys_of_items, self._encode_list(sorted(item_ids))
        )
        keys = self._encode_list(sorted({row["entry_key"] for row in rows}))
        own = await self._run("read our opinions", self._exchange.own_opinions, keys)
        theirs = await self._run("read partners' opinions", self._exchange.partner_opinions, keys)
        opinions = [
            Opinion(
                item_id=row["id"],
                key=row["natural_key"],
                newsroom=None,
                trust=None,
                verdict=Verdict(row["verdict"]),
                title=row["title"],
                fact_check_url=row["fact_check_url"],
                updated_at=as_utc(row["updated_at"]),
            )
            for row in own
        ]
        opinions.extend(
            Opinion(
                item_id=row["item_id"],
                key=row["entry_key"],
                newsroom=row["name"],
                trust=Trust(row["trust"]),
                verdict=None if row["verdict"] is None else Verdict(row["verdict"]),
                title=row["title"] or "",
                fact_check_url=row["fact_check_url"],
                updated_at=as_utc(row["updated_at"]),
            )
            for row in theirs
        )
        return opinions


def _item_json(partner_id: int, entry: PartnerEntry) -> dict[str, object]:
    """A live entry as one row of the batch upsert (named as the item's columns)."""
    fp = entry.fingerprint
    assert fp is not None and entry.verdict is not None
    return {
        "natural_key": partner_item_key(partner_id, entry.key),
        "sha256": fp.sha256,
        "pdq": fp.pdq,
        "pdq_quality": fp.pdq_quality,
        "phash": fp.phash,
        "verdict": entry.verdict.value,
        "title": entry.title,
        "note": entry.note,
        "fact_check_url": entry.fact_check_url,
        "original_date": entry.original_date,
        "original_place": entry.original_place,
        "source": entry.newsroom,
    }


def _feed_row(row: Row) -> FeedRow:
    """A feed change from its row: a tombstone unless published and not retired; its time is
    the later of the item's last change and the last decision on it."""
    live = bool(row["published"]) and row["retired_at"] is None
    times = [as_utc(row["decided_at"]), as_utc(row["updated_at"])]
    if row["retired_at"] is not None:
        times.append(as_utc(row["retired_at"]))
    return FeedRow(
        sequence=row["seq"],
        key=row["natural_key"],
        live=live,
        updated_at=max(times),
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
    )
