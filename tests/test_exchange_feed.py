"""The feed's wire format and signatures: what a publisher writes, a subscriber accepts, and
every way an entry can be bent is refused by name."""

from __future__ import annotations

import copy
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.errors import ConfigError, InvalidInput
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage.exchange.feed_format import (
    MAX_ENTRY_BYTES,
    EntryRejected,
    FeedRejected,
    decode_cursor,
    encode_cursor,
    entry_of,
    page_bytes,
    parse_page,
    verify_entry,
)
from storage.exchange.signing import (
    canonical_bytes,
    load_or_create_key,
    parse_public_key,
    public_key_text,
    sign,
)
from storage.exchange_base import FeedRow, entry_key_of

FP = Fingerprint(sha256="ab" * 32, pdq="cd" * 32, pdq_quality=87, phash="ef" * 8)
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def row(live: bool = True, verdict: Verdict = Verdict.MISATTRIBUTED, **fields: Any) -> FeedRow:
    return FeedRow(
        sequence=fields.pop("sequence", 7),
        key=entry_key_of(FP),
        live=live,
        updated_at=datetime(2024, 6, 1, 12, tzinfo=UTC),
        fingerprint=FP,
        verdict=verdict,
        title=fields.pop("title", "Flood photo is from 2011"),
        note=fields.pop("note", "First published in 2011"),
        fact_check_url=fields.pop("fact_check_url", "https://news.example/fc/1"),
        original_date="2011-03-11",
        original_place="Sendai",
    )


def resign(entry: dict[str, Any], key: Ed25519PrivateKey = KEY) -> dict[str, Any]:
    entry = {k: v for k, v in entry.items() if k != "signature"}
    entry["signature"] = sign(key, entry)
    return entry


class TestEntries:
    def test_an_item_round_trips(self) -> None:
        entry = entry_of(row(), "Example News", KEY)
        assert entry["review"]["mediaAuthenticityCategory"] == "DecontextualizedContent"
        assert entry["review"]["itemReviewed"]["mediaItemAppearance"][0]["sha256"] == FP.sha256
        got = verify_entry(json.loads(json.dumps(entry)), PUBLIC)
        assert (got.key, got.sequence, got.newsroom) == (entry_key_of(FP), 7, "Example News")
        assert got.fingerprint == FP and got.verdict is Verdict.MISATTRIBUTED
        assert (got.original_date, got.original_place) == ("2011-03-11", "Sendai")

    def test_inconclusive_has_no_category_and_round_trips(self) -> None:
        entry = entry_of(row(verdict=Verdict.INCONCLUSIVE), "Example News", KEY)
        assert "mediaAuthenticityCategory" not in entry["review"]
        assert verify_entry(entry, PUBLIC).verdict is Verdict.INCONCLUSIVE

    def test_a_tombstone_carries_no_hashes(self) -> None:
        entry = entry_of(row(live=False), "Example News", KEY)
        assert set(entry) == {"id", "sequence", "updated", "newsroom", "type", "signature"}
        got = verify_entry(entry, PUBLIC)
        assert got.verdict is None and got.fingerprint is None

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            (lambda e: e.update(verdict="authentic"), "bad signature"),
            (lambda e: e["hashes"].update(pdq="00" * 32), "bad signature"),
            (lambda e: e.update(sequence=99), "bad signature"),
            (lambda e: e.update(signature="not base64!"), "bad signature"),
            (lambda e: e.pop("signature"), "bad signature"),
        ],
    )
    def test_tampering_is_refused(self, change: Any, reason: str) -> None:
        entry = copy.deepcopy(entry_of(row(), "Example News", KEY))
        change(entry)
        with pytest.raises(EntryRejected, match=reason) as caught:
            verify_entry(entry, PUBLIC)
        assert caught.value.key in (entry_key_of(FP), "#0")

    def test_another_key_is_refused(self) -> None:
        entry = entry_of(row(), "Example News", Ed25519PrivateKey.generate())
        with pytest.raises(EntryRejected, match="bad signature"):
            verify_entry(entry, PUBLIC)

    @pytest.mark.parametrize(
        "change",
        [
            lambda e: e.update(verdict="fake"),
            lambda e: e.update(verdict="authentic"),  # disagrees with the review
            lambda e: e["hashes"].update(sha256="AB" * 32),
            lambda e: e["hashes"].update(pdq_quality=101),
            lambda e: e["hashes"].update(picture="base64..."),
            lambda e: e.update(id="sha256:" + "00" * 32),  # not the hashes' key
            lambda e: e.update(sequence=-1),
            lambda e: e.update(sequence=True),
            lambda e: e.update(updated="yesterday"),
            lambda e: e.update(updated="2024-06-01T12:00:00"),  # no time zone
            lambda e: e.update(type="opinion"),
            lambda e: e.update(fact_check_url="javascript:alert(1)"),
            lambda e: e.update(title=7),
            lambda e: e.update(newsroom=""),
            lambda e: e["review"]["itemReviewed"]["mediaItemAppearance"][0].update(sha256="0"),
            lambda e: e.update(review={"@type": "ClaimReview"}),
        ],
    )
    def test_malformed_fields_are_refused_even_when_signed(self, change: Any) -> None:
        entry = copy.deepcopy(entry_of(row(), "Example News", KEY))
        change(entry)
        with pytest.raises(EntryRejected, match="malformed"):
            verify_entry(resign(entry), PUBLIC)

    def test_a_too_large_entry_is_refused_before_its_signature_is_checked(self) -> None:
        entry = entry_of(row(note="x" * MAX_ENTRY_BYTES), "Example News", KEY)
        with pytest.raises(EntryRejected, match="too large"):
            verify_entry(entry, PUBLIC)

    def test_not_an_object(self) -> None:
        with pytest.raises(EntryRejected, match="#3: not a JSON object"):
            verify_entry(["id"], PUBLIC, 3)


class TestPages:
    def test_a_page_round_trips(self) -> None:
        body = page_bytes(
            [entry_of(row(), "N", KEY)],
            newsroom="N",
            public_key=public_key_text(KEY),
            next_cursor=encode_cursor(7),
            more=False,
        )
        entries, cursor, more = parse_page(body)
        assert len(entries) == 1 and decode_cursor(cursor) == 7 and more is False

    @pytest.mark.parametrize(
        "body",
        [
            b"\x00\xff garbage",
            b"<html>502</html>",
            b"[]",
            b'{"format": "other/1", "entries": [], "next": "s1", "more": false}',
            b'{"format": "tipline-feed/1", "entries": {}, "next": "s1", "more": false}',
            b'{"format": "tipline-feed/1", "entries": [], "next": 5, "more": false}',
        ],
    )
    def test_garbage_is_refused_whole(self, body: bytes) -> None:
        with pytest.raises(FeedRejected):
            parse_page(body)

    def test_cursors_are_checked(self) -> None:
        assert decode_cursor(None) == decode_cursor("") == 0
        assert decode_cursor(encode_cursor(123)) == 123
        for bad in ("123", "s", "s-1", "s" + "9" * 30, "x5"):
            with pytest.raises(InvalidInput):
                decode_cursor(bad)


class TestKeys:
    def test_the_key_file_is_made_private_once_and_reused(self, tmp_path: Path) -> None:
        path = tmp_path / "feed.key"
        first = load_or_create_key(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert public_key_text(load_or_create_key(path)) == public_key_text(first)
        assert parse_public_key(public_key_text(first)) is not None

    def test_a_key_file_others_can_read_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "feed.key"
        load_or_create_key(path)
        path.chmod(0o644)
        with pytest.raises(ConfigError, match="chmod 600"):
            load_or_create_key(path)

    def test_a_broken_key_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "feed.key"
        path.write_bytes(b"not a key")
        path.chmod(0o600)
        with pytest.raises(ConfigError, match="no usable private key"):
            load_or_create_key(path)

    @pytest.mark.parametrize("text", ["", "abc", "AAAA", public_key_text(KEY)[:-4]])
    def test_bad_public_keys_are_refused(self, text: str) -> None:
        with pytest.raises(InvalidInput, match="base64 of 32 bytes"):
            parse_public_key(text)

    def test_canonical_bytes_do_not_depend_on_key_order(self) -> None:
        assert canonical_bytes({"b": 1, "a": "é"}) == canonical_bytes({"a": "é", "b": 1})
        assert canonical_bytes({"a": "é"}) == '{"a":"é"}'.encode()


def test_the_documented_example_verifies() -> None:
    """docs/exchange.md's example page is real: its entries pass as a subscriber checks them,
    signed with the key it names (bytes 0..31), so other implementations can test against it."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "exchange.md").read_text("utf-8")
    example = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    entries, cursor, more = parse_page(example.encode())
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    checked = [verify_entry(raw, key.public_key(), n) for n, raw in enumerate(entries)]
    assert [e.verdict for e in checked] == [Verdict.MISATTRIBUTED, None]
    assert (cursor, more) == ("s42", False)
    assert json.loads(example)["public_key"] == public_key_text(key)
