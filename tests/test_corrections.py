"""Corrections: a tipster told something that stops holding gets one message naming the ticket,
in their language; a partner's word reaches tipsters only as far as it is trusted; a verdict on
a partner's item is our opinion of it; a partner that disagrees with us is named to the
moderators. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.assessment import Assessment
from checks.corrections import Change, Standing, correction
from checks.matching import Match, MatchKind
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from handlers.cards import PictureView
from handlers.corrections import Corrector, opinion_targets, told_of
from handlers.exchange.disputes import contest_notice
from handlers.i18n import texts_for
from handlers.wording import VERDICT_WORDS
from storage import KnownItemDraft, PostgresStorage, SqliteStorage, Storage
from storage.exchange_base import PartnerDraft, PartnerEntry, Trust, entry_key_of
from storage.identities import IdentityProtector
from storage.tips import (
    ItemOrigin,
    ItemSource,
    ItemStatus,
    ReviewDraft,
    Submission,
    SubmissionDraft,
    Told,
)
from tests.clocks import FakeClock
from tests.storage_backends import fresh_schema, rand_hex

KEY = "UCIoXj+rjwhkTIMWOCofNIb7UJ9oeLIUCastw5afMyc="
IDENTITIES = IdentityProtector("corrections-test-secret-that-is-long-enough")
CHAT = 555_000_111
_updates = iter(range(10_000, 1_000_000))


class Messenger:
    """The tipsters' side of Telegram: what each was sent; it can be made to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.broken = False

    async def tell_tipster(self, chat_id: int, card: str) -> None:
        if self.broken:
            raise ConnectionError("Telegram is away")
        self.sent.append((chat_id, card))


@pytest.fixture
async def storage(backend_server: str | None, tmp_path: Path) -> AsyncIterator[Storage]:
    clock = FakeClock()
    if backend_server is None:
        opened: Storage = await SqliteStorage.open(tmp_path / "tipline.db", clock=clock)
        try:
            yield opened
        finally:
            await opened.close()
        return
    async with fresh_schema(backend_server) as url:
        opened = await PostgresStorage.open(url, clock=clock, listen=False)
        try:
            yield opened
        finally:
            await opened.close()


def fingerprint() -> Fingerprint:
    return Fingerprint(sha256=rand_hex(256), pdq=rand_hex(256), pdq_quality=90, phash=rand_hex(64))


def corrector(storage: Storage, messenger: Messenger) -> Corrector:
    return Corrector(storage, IDENTITIES, messenger, language="en")


async def own_item(storage: Storage, fp: Fingerprint, verdict: Verdict) -> int:
    draft = KnownItemDraft(fp, verdict, "Flood photo", recorded_by="import")
    return (await storage.upsert_known_item(draft)).item.id


async def partner(storage: Storage, name: str, trust: Trust = Trust.CERTAIN) -> int:
    draft = PartnerDraft(name, f"http://127.0.0.1:9/{name}", KEY, trust)
    return (await storage.add_partner(draft)).id


def entry(fp: Fingerprint, sequence: int, verdict: Verdict | None) -> PartnerEntry:
    return PartnerEntry(
        key=entry_key_of(fp),
        sequence=sequence,
        updated_at=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=sequence),
        newsroom="Partner News",
        fingerprint=fp if verdict is not None else None,
        verdict=verdict,
        title="Partner's title",
    )


async def answered_tip(
    storage: Storage, fp: Fingerprint, told: list[Told], *, language: str | None = None
) -> Submission:
    """A tip from a tipster (chat :data:`CHAT`) whose card told them ``told``."""
    code = "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(8))
    recorded = await storage.record_tip(
        SubmissionDraft(
            ticket=f"{code[:4]}-{code[4:]}",
            update_id=next(_updates),
            tipster=IDENTITIES.pseudonym(CHAT),
            sealed_chat=IDENTITIES.seal_chat_id(CHAT),
            items=(ItemSource(ItemOrigin.PHOTO, f"file-{rand_hex(32)}", 1000, "image/jpeg"),),
            language=language,
        )
    )
    [item] = recorded.submission.items
    await storage.save_item_result(
        item.id, status=ItemStatus.DONE, fingerprint=fp, report={"format": "JPEG", "matches": []}
    )
    await storage.record_answer(recorded.submission.id, told)
    return recorded.submission


async def item_of(storage: Storage, fp: Fingerprint, newsroom: str) -> int:
    return next(m.item_id for m in await storage.lookup(fp) if m.newsroom == newsroom)


class TestTheRule:
    @pytest.mark.parametrize(
        ("told", "now", "change"),
        [
            (Standing.of([Verdict.STAGED]), Standing.of([Verdict.STAGED]), None),
            (Standing.of([Verdict.STAGED]), Standing.of([None]), Change.WITHDRAWN),
            (Standing.of([Verdict.STAGED, None]), Standing.of([Verdict.STAGED]), None),
            (Standing.of([Verdict.STAGED]), Standing.of([Verdict.EDITED]), Change.CHANGED),
            (Standing.of([Verdict.STAGED]), Standing.of([Verdict.STAGED], True), Change.DISPUTED),
            (Standing.of([Verdict.STAGED], True), Standing.of([Verdict.STAGED]), Change.CHANGED),
            (Standing.of([None]), Standing.of([Verdict.EDITED]), Change.CHANGED),
            (Standing.of([None]), Standing.of([None]), None),
        ],
    )
    def test_a_correction_is_owed_only_when_the_answer_changed(
        self, told: Standing, now: Standing, change: Change | None
    ) -> None:
        assert correction(told, now) is change

    def test_two_verdicts_in_force_are_a_dispute(self) -> None:
        assert Standing.of([Verdict.STAGED, Verdict.AUTHENTIC]).disputed

    def test_what_a_card_told_and_what_a_verdict_is_about(self) -> None:
        def match(item_id: int, signal: str, newsroom: str | None, trusted: bool) -> Match:
            kind = MatchKind.NEAR
            return Match(item_id, kind, signal, 4, Verdict.STAGED, "t", None, None, None, None,
                         newsroom, trusted)  # fmt: skip

        matches = (
            match(1, "pdq", None, True),  # ours, certain
            match(2, "pdq", "Review News", False),  # the same picture, word for moderators
            match(3, "phash", "Partner News", True),  # only similar
        )
        assessment = Assessment(fingerprint(), "JPEG", "image/jpeg", 1, 1, 1, {}, (), matches)
        views = [PictureView(0, assessment)]
        assert told_of(views) == [Told(1, Verdict.STAGED)]
        assert opinion_targets(views) == (2,)


class TestCorrections:
    async def test_a_partners_retraction_is_told_once(self, storage: Storage) -> None:
        fp, messenger = fingerprint(), Messenger()
        pid = await partner(storage, "Alpha")
        await storage.apply_partner_page(pid, [entry(fp, 1, Verdict.MISATTRIBUTED)], "s1")
        item = await item_of(storage, fp, "Alpha")
        tip = await answered_tip(storage, fp, [Told(item, Verdict.MISATTRIBUTED)])
        assert await corrector(storage, messenger).run() == 0

        await storage.apply_partner_page(pid, [entry(fp, 2, None)], "s2")
        assert await corrector(storage, messenger).run() == 1
        [(chat, text)] = messenger.sent
        assert chat == CHAT and tip.ticket in text and "withdrawn" in text
        assert await corrector(storage, messenger).run() == 0  # told once

    async def test_a_changed_verdict_is_told_in_the_tipsters_language(
        self, storage: Storage
    ) -> None:
        fp, messenger = fingerprint(), Messenger()
        item = await own_item(storage, fp, Verdict.MISATTRIBUTED)
        tip = await answered_tip(storage, fp, [Told(item, Verdict.MISATTRIBUTED)], language="ko")
        await own_item(storage, fp, Verdict.AUTHENTIC)
        assert await corrector(storage, messenger).run() == 1
        [(_, text)] = messenger.sent
        korean = texts_for("ko")
        assert tip.ticket in text and korean._(VERDICT_WORDS[Verdict.AUTHENTIC]) in text
        assert "Correction" not in text

    async def test_only_a_trusted_partners_dispute_reaches_the_tipster(
        self, storage: Storage
    ) -> None:
        fp, messenger = fingerprint(), Messenger()
        item = await own_item(storage, fp, Verdict.MISATTRIBUTED)
        tip = await answered_tip(storage, fp, [Told(item, Verdict.MISATTRIBUTED)])
        review = await partner(storage, "Review News", Trust.REVIEW)
        await storage.apply_partner_page(review, [entry(fp, 1, Verdict.AUTHENTIC)], "s1")
        assert await corrector(storage, messenger).run() == 0

        trusted = await partner(storage, "Alpha")
        await storage.apply_partner_page(trusted, [entry(fp, 1, Verdict.AUTHENTIC)], "s1")
        assert await corrector(storage, messenger).run() == 1
        assert tip.ticket in messenger.sent[0][1] and "disagree" in messenger.sent[0][1]
        # The partner comes round to our verdict: the dispute is over, and that is news too.
        await storage.apply_partner_page(trusted, [entry(fp, 2, Verdict.MISATTRIBUTED)], "s2")
        assert await corrector(storage, messenger).run() == 1
        assert "is now" in messenger.sent[1][1]

    async def test_no_correction_after_forget(self, storage: Storage) -> None:
        fp, messenger = fingerprint(), Messenger()
        item = await own_item(storage, fp, Verdict.MISATTRIBUTED)
        await answered_tip(storage, fp, [Told(item, Verdict.MISATTRIBUTED)])
        await storage.forget_tipster(IDENTITIES.pseudonym(CHAT))
        await own_item(storage, fp, Verdict.AUTHENTIC)
        assert await corrector(storage, messenger).run() == 0
        assert messenger.sent == []

    async def test_an_undone_verdict_is_withdrawn(self, storage: Storage) -> None:
        fp, messenger = fingerprint(), Messenger()
        tip = await answered_tip(storage, fp, [])
        review = await storage.record_review(tip.id, ReviewDraft(Verdict.STAGED, "mod"))
        await storage.record_answer(
            tip.id, [Told(i, Verdict.STAGED) for i in review.known_item_ids]
        )
        await storage.undo_last_review(tip.id)
        assert await corrector(storage, messenger).run() == 1
        assert "withdrawn" in messenger.sent[0][1]

    async def test_a_correction_that_could_not_be_sent_is_sent_later(
        self, storage: Storage
    ) -> None:
        fp, messenger = fingerprint(), Messenger()
        item = await own_item(storage, fp, Verdict.MISATTRIBUTED)
        await answered_tip(storage, fp, [Told(item, Verdict.MISATTRIBUTED)])
        await own_item(storage, fp, Verdict.EDITED)
        messenger.broken = True
        with pytest.raises(ConnectionError):
            await corrector(storage, messenger).run()
        messenger.broken = False
        assert await corrector(storage, messenger).run() == 1


class TestOpinions:
    async def test_a_verdict_on_a_partners_item_is_our_published_opinion(
        self, storage: Storage
    ) -> None:
        fp = fingerprint()
        pid = await partner(storage, "Alpha")
        await storage.apply_partner_page(pid, [entry(fp, 1, Verdict.MISATTRIBUTED)], "s1")
        theirs = await item_of(storage, fp, "Alpha")
        copy = fingerprint()  # the tip's own picture: another file of the same photo
        tip = await answered_tip(storage, copy, [])
        review = await storage.record_review(
            tip.id, ReviewDraft(Verdict.AUTHENTIC, "mod", about=(theirs,))
        )
        assert len(review.known_item_ids) == 2
        opinions = await storage.opinions_on([theirs])
        assert {(o.newsroom, o.verdict) for o in opinions} == {
            (None, Verdict.AUTHENTIC),
            ("Alpha", Verdict.MISATTRIBUTED),
        }
        for item_id in review.known_item_ids:
            await storage.publish(item_id, "mod")
        keys = {row.key for row in await storage.feed_page(0, 100) if row.live}
        assert entry_key_of(fp) in keys  # the partner reads our word on its own key

        await storage.undo_last_review(tip.id)
        rows = {row.key: row for row in await storage.feed_page(0, 100)}
        assert not rows[entry_key_of(fp)].live  # taken back: a tombstone

    async def test_a_partner_that_disagrees_with_us_is_named(self, storage: Storage) -> None:
        agreed, disputed = fingerprint(), fingerprint()
        ours = await own_item(storage, disputed, Verdict.MISATTRIBUTED)
        await own_item(storage, agreed, Verdict.STAGED)
        pid = await partner(storage, "Beta")
        result = await storage.apply_partner_page(
            pid, [entry(agreed, 1, Verdict.STAGED), entry(disputed, 2, Verdict.AUTHENTIC)], "s2"
        )
        [contest] = result.contested
        assert (contest.item_id, contest.ours, contest.theirs) == (
            ours,
            Verdict.MISATTRIBUTED,
            Verdict.AUTHENTIC,
        )
        notice = contest_notice("Beta", list(result.contested) * 7, t=texts_for("en"))
        assert "Beta" in notice and f"#{ours}" in notice and "and 2 more" in notice
