"""The feed's wire format: signed entries in pages, written and checked (pure; no I/O).

A page is ``{"format", "newsroom", "public_key", "entries", "next", "more"}``; each entry is a
JSON object signed on its own (Ed25519 over its canonical JSON without ``signature``), so an
entry can be checked, applied or refused alone. ``docs/exchange.md`` has an example.

:func:`verify_entry` turns one raw entry into a :class:`storage.exchange_base.PartnerEntry`
or raises :class:`EntryRejected` naming the entry and the reason: bad signature (tampered or
signed by another key), malformed field, too large. Replays are the storage's to refuse: only
it knows the sequence it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checks.errors import InvalidHash, InvalidInput
from checks.signals import Fingerprint, Pdq, Phash, Sha256
from checks.verdicts import Verdict
from storage.exchange.signing import canonical_bytes, sign, verify
from storage.exchange_base import FeedRow, PartnerEntry, entry_key_of

__all__ = [
    "FORMAT",
    "MAX_ENTRY_BYTES",
    "MAX_PAGE_ENTRIES",
    "EntryRejected",
    "FeedRejected",
    "decode_cursor",
    "encode_cursor",
    "entry_of",
    "media_review",
    "page_bytes",
    "parse_page",
    "verify_entry",
]

#: What a page says it is; a subscriber refuses any other.
FORMAT = "tipline-feed/1"
#: The largest entry (its canonical JSON) a subscriber accepts, and a publisher writes.
MAX_ENTRY_BYTES = 16 * 1024
#: The most entries one page may carry (a publisher's page size is at most this).
MAX_PAGE_ENTRIES = 5000
#: The longest text per field, in characters.
_TEXT_LIMITS = {
    "title": 500,
    "note": 4000,
    "fact_check_url": 2000,
    "original_date": 100,
    "original_place": 300,
    "newsroom": 100,
}
_KEY = re.compile(r"^(sha256:[0-9a-f]{64}|pdq:[0-9a-f]{64}|phash:[0-9a-f]{16})$")
_CURSOR = re.compile(r"^s([0-9]{1,18})$")
_CATEGORY = {v.media_review_rating: v for v in Verdict if v.media_review_rating}


class FeedRejected(InvalidInput):
    """A whole page is unusable (not JSON, not a feed page): nothing of it is applied."""

    code = "feed_rejected"


class EntryRejected(InvalidInput):
    """One entry is refused; ``key`` names it (its ``id``, or its position if it has none)."""

    code = "entry_rejected"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"entry {key}: {reason}")
        self.key = key
        self.reason = reason


# -- cursors ----------------------------------------------------------------------------------


def encode_cursor(sequence: int) -> str:
    """The opaque checkpoint after ``sequence`` (subscribers only hand it back)."""
    return f"s{sequence}"


def decode_cursor(text: str | None) -> int:
    """The sequence a checkpoint stands for (none: from the start), or InvalidInput."""
    if text is None or text == "":
        return 0
    match = _CURSOR.match(text)
    if match is None:
        raise InvalidInput(f"not a checkpoint of this feed: {text[:40]!r}")
    return int(match[1])


# -- writing ----------------------------------------------------------------------------------


def _time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def media_review(row: FeedRow, newsroom: str) -> dict[str, Any]:
    """The verdict as a schema.org MediaReview JSON-LD object (no category for inconclusive:
    MediaReview has none)."""
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "author": {"@type": "Organization", "name": newsroom},
        "dateModified": _time_text(row.updated_at),
    }
    if row.verdict.media_review_rating:
        review["mediaAuthenticityCategory"] = row.verdict.media_review_rating
    if row.title:
        review["name"] = row.title
    if row.note:
        review["originalMediaContextDescription"] = row.note
    if row.fact_check_url:
        review["url"] = row.fact_check_url
    item: dict[str, Any] = {"@type": "MediaReviewItem"}
    if row.fingerprint.sha256:
        item["mediaItemAppearance"] = [{"@type": "ImageObject", "sha256": row.fingerprint.sha256}]
    review["itemReviewed"] = item
    return review


def entry_of(row: FeedRow, newsroom: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed entry for one change of this newsroom's feed."""
    entry: dict[str, Any] = {
        "id": row.key,
        "sequence": row.sequence,
        "updated": _time_text(row.updated_at),
        "newsroom": newsroom,
        "type": "item" if row.live else "tombstone",
    }
    if row.live:
        fp = row.fingerprint
        hashes = {"sha256": fp.sha256, "pdq": fp.pdq, "pdq_quality": fp.pdq_quality}
        hashes["phash"] = fp.phash
        entry |= {
            "hashes": {name: value for name, value in hashes.items() if value is not None},
            "verdict": row.verdict.value,
            "review": media_review(row, newsroom),
            "title": row.title,
            "note": row.note,
            "fact_check_url": row.fact_check_url,
            "original_date": row.original_date,
            "original_place": row.original_place,
        }
    entry["signature"] = sign(key, entry)
    return entry


def page_bytes(
    entries: Sequence[Mapping[str, Any]],
    *,
    newsroom: str,
    public_key: str,
    next_cursor: str,
    more: bool,
) -> bytes:
    """One page of the feed as the HTTP body."""
    page = {
        "format": FORMAT,
        "newsroom": newsroom,
        "public_key": public_key,
        "entries": list(entries),
        "next": next_cursor,
        "more": more,
    }
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- reading ----------------------------------------------------------------------------------


def parse_page(body: bytes) -> tuple[list[Any], str, bool]:
    """A page's raw entries, next checkpoint and whether more follow; FeedRejected if the
    body is not a page of this format (then nothing of it may be applied)."""
    try:
        page = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedRejected(f"the feed is not JSON ({type(exc).__name__})") from None
    if not isinstance(page, dict) or page.get("format") != FORMAT:
        raise FeedRejected(f"the body is not a {FORMAT} page")
    entries, cursor, more = page.get("entries"), page.get("next"), page.get("more")
    if not isinstance(entries, list) or len(entries) > MAX_PAGE_ENTRIES:
        raise FeedRejected(f"a page carries a list of at most {MAX_PAGE_ENTRIES} entries")
    if not isinstance(cursor, str) or len(cursor) > 200 or not isinstance(more, bool):
        raise FeedRejected("a page needs a text checkpoint `next` and a true/false `more`")
    return entries, cursor, more


def verify_entry(raw: Any, public: Ed25519PublicKey, position: int = 0) -> PartnerEntry:
    """One entry checked against the partner's key and the format, or EntryRejected."""
    name = raw.get("id") if isinstance(raw, dict) else None
    key = name if isinstance(name, str) and _KEY.match(name) else f"#{position}"
    if not isinstance(raw, dict):
        raise EntryRejected(key, "not a JSON object")
    signed = {field: value for field, value in raw.items() if field != "signature"}
    try:
        data = canonical_bytes(signed)
    except ValueError:
        raise EntryRejected(key, "holds a number JSON cannot carry") from None
    if len(data) > MAX_ENTRY_BYTES:
        raise EntryRejected(key, f"too large ({len(data)} bytes; at most {MAX_ENTRY_BYTES})")
    if not verify(public, data, raw.get("signature")):
        raise EntryRejected(key, "bad signature (altered, or not signed with the partner's key)")
    if key.startswith("#"):
        raise EntryRejected(key, "malformed `id`")
    try:
        return _entry(key, signed)
    except (InvalidInput, KeyError, TypeError, ValueError) as exc:
        raise EntryRejected(key, f"malformed: {exc}") from None


def _entry(key: str, raw: Mapping[str, Any]) -> PartnerEntry:
    sequence = raw["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 < sequence < 2**62:
        raise ValueError("`sequence` must be a positive whole number")
    updated = datetime.fromisoformat(_text(raw, "updated", 40, required=True) or "")
    if updated.tzinfo is None:
        raise ValueError("`updated` must carry its time zone")
    newsroom = _text(raw, "newsroom", _TEXT_LIMITS["newsroom"], required=True) or ""
    common = {"key": key, "sequence": sequence, "updated_at": updated.astimezone(UTC)}
    if raw.get("type") == "tombstone":
        return PartnerEntry(newsroom=newsroom, **common)
    if raw.get("type") != "item":
        raise ValueError("`type` must be item or tombstone")
    fingerprint = _hashes(raw["hashes"])
    if entry_key_of(fingerprint) != key:
        raise ValueError("`id` is not the key of the entry's hashes")
    verdict = Verdict.parse(raw["verdict"]) if isinstance(raw["verdict"], str) else None
    if verdict is None:
        raise ValueError("`verdict` must be text")
    _check_review(raw["review"], verdict, fingerprint)
    url = _text(raw, "fact_check_url", _TEXT_LIMITS["fact_check_url"])
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("`fact_check_url` must be http(s)")
    return PartnerEntry(
        newsroom=newsroom,
        fingerprint=fingerprint,
        verdict=verdict,
        title=_text(raw, "title", _TEXT_LIMITS["title"]) or "",
        note=_text(raw, "note", _TEXT_LIMITS["note"]) or "",
        fact_check_url=url,
        original_date=_text(raw, "original_date", _TEXT_LIMITS["original_date"]),
        original_place=_text(raw, "original_place", _TEXT_LIMITS["original_place"]),
        **common,
    )


def _text(raw: Mapping[str, Any], field: str, limit: int, *, required: bool = False) -> str | None:
    value = raw.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"`{field}` must be text")
    if len(value) > limit or "\x00" in value:
        raise ValueError(f"`{field}` is longer than {limit} characters or holds a NUL")
    return value


def _hashes(raw: Any) -> Fingerprint:
    if not isinstance(raw, dict) or set(raw) - {"sha256", "pdq", "pdq_quality", "phash"}:
        raise ValueError("`hashes` holds only sha256, pdq, pdq_quality and phash")
    quality = raw.get("pdq_quality")
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100
    ):
        raise ValueError("`pdq_quality` must be a whole number from 0 to 100")
    try:
        fingerprint = Fingerprint(
            sha256=_hash(Sha256, raw.get("sha256")),
            pdq=_hash(Pdq, raw.get("pdq")),
            pdq_quality=quality,
            phash=_hash(Phash, raw.get("phash")),
        )
    except InvalidHash as exc:
        raise ValueError(str(exc)) from None
    if not (fingerprint.sha256 or fingerprint.pdq or fingerprint.phash):
        raise ValueError("`hashes` needs at least one of sha256, pdq, phash")
    return fingerprint


def _hash(kind: type[Sha256] | type[Pdq] | type[Phash], value: Any) -> str | None:
    if value is None:
        return None
    checked = kind.validate(value)
    if checked != value:
        raise ValueError(f"{kind.name} must be lower-case hexadecimal")
    return checked


def _check_review(review: Any, verdict: Verdict, fingerprint: Fingerprint) -> None:
    """The MediaReview object must say what ``verdict`` says, about these hashes."""
    if not isinstance(review, dict) or review.get("@type") != "MediaReview":
        raise ValueError("`review` must be a schema.org MediaReview object")
    category = review.get("mediaAuthenticityCategory")
    said = _CATEGORY.get(category) if category else Verdict.INCONCLUSIVE
    if said != verdict:
        raise ValueError("`review` and `verdict` disagree")
    appearances = (review.get("itemReviewed") or {}).get("mediaItemAppearance") or []
    if not isinstance(appearances, list):
        raise ValueError("`review.itemReviewed.mediaItemAppearance` must be a list")
    for appearance in appearances:
        if not isinstance(appearance, dict) or appearance.get("sha256") != fingerprint.sha256:
            raise ValueError("`review` is about another picture than `hashes`")
