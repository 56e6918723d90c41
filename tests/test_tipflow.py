"""The tip flow's state machine, with no Telegram: a fake messenger, a real database, a fake clock.

What a tipster and the moderators would notice: one card each, whatever fails and however often
the flow runs again; "known" only when certain; nothing lost.
"""

from __future__ import annotations

import errno
import io
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot import workers
from checks.compare_image import side_by_side
from checks.matching import Confidence, MatchKind
from checks.report import analyse
from checks.verdicts import SubmissionStatus, Verdict
from handlers.pacing import DIGEST_SETTLE_SECONDS, ReviewPacer
from handlers.tipflow import TipProcessingFailed
from storage import KnownItemDraft
from storage.tips import ItemStatus, ReviewDraft
from tests.tipdesk import LEASE, Broken, Desk, FakeNotifier, FaultyStorage, open_desk


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with open_desk(tmp_path / "tips.db") as opened:
        yield opened


def photo(seed: int, size: tuple[int, int] = (640, 480), quality: int = 90) -> bytes:
    """A textured picture of its own per seed (PDQ quality well above its gate)."""
    noise = np.random.default_rng(seed).integers(0, 256, (size[1] // 16, size[0] // 16, 3))
    image = Image.fromarray(noise.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def smaller_copy(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize((320, 240)).save(out, "JPEG", quality=60)
    return out.getvalue()


async def known(desk: Desk, data: bytes, verdict: Verdict = Verdict.MISATTRIBUTED) -> None:
    draft = KnownItemDraft(analyse(data).fingerprint, verdict, title="Flood photo from 2011")
    await desk.storage.upsert_known_item(draft)


async def test_a_new_picture_is_answered_and_queued_for_review(desk: Desk) -> None:
    desk.notifier.files["f1"] = photo(1)
    tip = await desk.tip("f1")
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.NEW
    (card,) = desk.notifier.tipster_cards
    assert "New: not seen before" in card
    assert len(desk.notifier.review_cards) == 1 and len(desk.notifier.pictures) == 1
    # The lease is given back: another instance may take the tip at once.
    assert await desk.storage.take_lease(tip, "west", LEASE)


async def test_an_identical_known_file_is_matched_and_not_queued(desk: Desk) -> None:
    data = photo(2)
    await known(desk, data)
    desk.notifier.files["f"] = data
    tip = await desk.tip("f")
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.MATCHED
    (card,) = desk.notifier.tipster_cards
    assert "Known and debunked" in card and "identical file" in card
    assert desk.notifier.review_cards == []


async def test_a_near_copy_is_known_to_the_tipster_and_still_reviewed(desk: Desk) -> None:
    data = photo(3)
    await known(desk, data)
    desk.notifier.files["f"] = smaller_copy(data)
    tip = await desk.tip("f")
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.NEW
    (card,) = desk.notifier.tipster_cards
    assert "Known and debunked" in card and "near-identical copy" in card
    (review,) = desk.notifier.review_cards
    assert "Flood photo from 2011" in review and "certain" in review


async def test_a_picture_that_cannot_be_had_fails_with_a_plain_reason(desk: Desk) -> None:
    tip = await desk.tip("missing")
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.FAILED
    (card,) = desk.notifier.tipster_cards
    assert "could not check" in card and "it could not be checked" in card
    assert desk.notifier.review_cards == []


async def test_running_again_after_it_is_done_sends_nothing(desk: Desk) -> None:
    desk.notifier.files["f"] = photo(4)
    tip = await desk.tip("f")
    await desk.process(tip)
    await desk.process(tip)
    await desk.process(tip, instance="west")
    assert len(desk.notifier.tipster_cards) == 1 and len(desk.notifier.review_cards) == 1


#: Every step that can fail, on either side of the flow; a crash in each is followed by a run
#: that goes through. The two "mark" steps come after their card was sent, so the card goes out
#: again on the next run: at least once, never lost (the only duplicates the flow allows).
STEPS = [
    ("notifier", "download", 1, 1),
    ("notifier", "tell_tipster", 1, 1),
    ("notifier", "post_picture", 1, 1),
    ("notifier", "post_review_card", 1, 1),
    ("storage", "get_submission", 1, 1),
    ("storage", "lookup", 1, 1),
    ("storage", "save_item_result", 1, 1),
    ("storage", "set_status", 1, 1),
    ("storage", "mark_replied", 2, 1),
    ("storage", "mark_review_posted", 1, 2),
]


@pytest.mark.parametrize(("side", "step", "cards", "reviews"), STEPS)
async def test_a_crash_at_any_step_loses_nothing(
    desk: Desk, side: str, step: str, cards: int, reviews: int
) -> None:
    desk.notifier.files["f"] = photo(5)
    tip = await desk.tip("f")
    target: FakeNotifier | FaultyStorage = desk.notifier if side == "notifier" else desk.storage
    target.fail_at = step
    with pytest.raises(TipProcessingFailed) as failure:
        await desk.process(tip)
    assert isinstance(failure.value.__cause__, Broken)
    # The crashed run let go of its lease: the next pass (any instance) finishes the tip.
    await desk.process(tip, instance="west")
    assert await desk.status(tip) is SubmissionStatus.NEW
    assert len(desk.notifier.tipster_cards) == cards
    assert len(desk.notifier.review_cards) == reviews
    assert all("New: not seen before" in card for card in desk.notifier.tipster_cards)
    submission = await desk.storage.get_submission(tip)
    assert submission is not None
    assert submission.replied_at is not None and submission.review_posted_at is not None
    assert await desk.storage.unfinished_submissions() == []


async def test_a_leased_tip_waits_until_the_lease_runs_out(desk: Desk) -> None:
    desk.notifier.files["f"] = photo(6)
    tip = await desk.tip("f")
    assert await desk.storage.take_lease(tip, "east", LEASE)  # east died holding it
    await desk.process(tip, instance="west")
    assert desk.notifier.tipster_cards == []
    desk.clock.advance(LEASE - 1)
    await desk.process(tip, instance="west")
    assert desk.notifier.tipster_cards == []
    desk.clock.advance(2)
    await desk.process(tip, instance="west")
    assert len(desk.notifier.tipster_cards) == 1 and len(desk.notifier.review_cards) == 1


async def test_an_album_part_after_the_card_sends_the_whole_card_again(desk: Desk) -> None:
    first = photo(7)
    await known(desk, first)
    desk.notifier.files |= {"a": first, "b": photo(8)}
    tip = await desk.tip("a", album="album-1")
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.MATCHED
    assert await desk.tip("b", album="album-1") == tip
    await desk.process(tip)
    assert await desk.status(tip) is SubmissionStatus.NEW
    assert len(desk.notifier.tipster_cards) == 2
    last = desk.notifier.tipster_cards[-1]
    assert "Picture 1 of 2" in last and "Picture 2 of 2" in last
    assert len(desk.notifier.review_cards) == 1  # the first card needed none


def test_the_flow_knows_nothing_of_telegram() -> None:
    """The flow runs wherever a messenger is given: importing it must not bring Telegram in."""
    probe = "import sys, handlers.tipflow; print('telegram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def framed(data: bytes, border: int = 120) -> bytes:
    """The picture inside flat black borders, as a repost often shows it."""
    inner = Image.open(io.BytesIO(data))
    canvas = Image.new("RGB", (inner.width + 2 * border, inner.height + 2 * border))
    canvas.paste(inner, (border, border))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    return out.getvalue()


async def test_a_framed_copy_is_shown_where_the_known_picture_sits(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    outlined: list[object] = []

    def spy(*args: object, **kwargs: object) -> bytes:
        outlined.append(kwargs.get("region"))
        return side_by_side(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workers, "side_by_side", spy)
    original = photo(9)
    desk.notifier.files |= {"original": original, "framed": framed(original)}
    first = await desk.tip("original")
    await desk.process(first)
    # The moderators' verdict makes the picture (and its file) a known item.
    await desk.storage.record_review(first, ReviewDraft(Verdict.MISATTRIBUTED, "mod"))
    second = await desk.tip("framed")
    await desk.process(second)
    review = desk.notifier.review_cards[-1]
    assert "the known picture inside borders" in review
    # 120 px of border on each side of 640 x 480: the picture spans 14–86% and 17–83%.
    assert "the known picture is the part across 14–86%, down 17–83%" in review
    assert any("beside known item" in caption for caption in desk.notifier.pictures)
    (region,) = outlined
    assert region == pytest.approx((120 / 880, 120 / 720, 760 / 880, 600 / 720), abs=0.01)


@pytest.mark.shared_data
async def test_a_verdict_after_a_restart_makes_the_picture_findable_cropped(
    tmp_path: Path, images: Path
) -> None:
    """The features a verdict keeps are saved with the tip's result, not held by the process
    that analysed it: a bot restarted between the card and the verdict loses none of them."""
    original = images / "photos" / "Canon_PowerShot_A40.jpg"
    picture = Image.open(original).convert("RGB")
    width, height = picture.size
    cropped = io.BytesIO()
    picture.crop((width // 5, height // 5, width, height)).save(cropped, "JPEG", quality=85)
    async with open_desk(tmp_path / "tips.db") as desk:
        desk.notifier.files["f"] = original.read_bytes()
        tip = await desk.tip("f")
        await desk.process(tip)
        assert await desk.status(tip) is SubmissionStatus.NEW
    async with open_desk(tmp_path / "tips.db") as desk:  # the bot restarted
        assert await desk.storage.lookup(analyse(cropped.getvalue()).fingerprint) == []
        await desk.storage.record_review(tip, ReviewDraft(Verdict.STAGED, "mod"))
        found = await desk.storage.lookup(analyse(cropped.getvalue()).fingerprint)
    assert found and found[0].kind is MatchKind.CROPPED
    assert found[0].confidence is Confidence.CERTAIN


# -- the moderators' chat under a flood -------------------------------------------------------


def digest_counts(notices: list[str]) -> list[int]:
    return [int(m.group(1)) for n in notices if (m := re.match(r"(\d+) new tips? waiting", n))]


async def test_a_flood_gets_cards_within_the_budget_and_digests_for_the_rest(desk: Desk) -> None:
    tips = []
    for n in range(30):
        desk.notifier.files[f"flood-{n}"] = photo(100 + n, size=(320, 240))
        tips.append(await desk.tip(f"flood-{n}"))
    for tip in tips:  # 30 tips within 45 seconds
        await desk.process(tip)
        desk.clock.advance(1.5)
    sent = desk.notifier
    in_the_minute = len(sent.pictures) + len(sent.review_cards) + len(sent.notices)
    assert in_the_minute <= desk.pacer.budget
    assert 0 < len(sent.review_cards) < 30 and sent.notices
    # The chat's minute runs out; the next pass names the tips still held back.
    desk.clock.advance(60)
    await desk.flow("east").post_digest()
    counts = digest_counts(sent.notices)
    assert len(counts) == len(sent.notices)
    assert len(sent.review_cards) + len(counts) <= desk.pacer.budget
    assert len(sent.review_cards) + sum(counts) == 30 and desk.pacer.held == 0
    # Nothing lost: every tip waits in /queue; none is retried.
    queue = await desk.storage.review_queue(limit=50)
    assert sorted(s.id for s in queue) == sorted(tips)
    assert await desk.storage.unfinished_submissions() == []
    before = (len(sent.review_cards), len(sent.notices), len(sent.tipster_cards))
    for tip in tips:
        await desk.process(tip)
    await desk.flow("east").post_digest()
    assert (len(sent.review_cards), len(sent.notices), len(sent.tipster_cards)) == before
    assert len(sent.tipster_cards) == 30


async def test_a_digest_that_fails_is_posted_by_the_next_pass(desk: Desk) -> None:
    desk.pacer.budget = 3  # room for one review (picture and card) and a digest
    for n in range(3):
        desk.notifier.files[f"f{n}"] = photo(200 + n, size=(320, 240))
        await desk.process(await desk.tip(f"f{n}"))
    assert len(desk.notifier.review_cards) == 1 and desk.pacer.held == 2
    desk.clock.advance(DIGEST_SETTLE_SECONDS)
    desk.notifier.fail_at = "post_notice"
    await desk.flow("east").post_digest()  # logged, not raised
    assert desk.notifier.notices == [] and desk.pacer.held == 2
    desk.clock.advance(60)
    await desk.flow("east").post_digest()
    assert digest_counts(desk.notifier.notices) == [2]


def test_the_pacer_keeps_a_slot_for_the_digest_and_slides_with_the_minute() -> None:
    now = [0.0]
    pacer = ReviewPacer(budget=5, clock=lambda: now[0], settle=10)
    assert pacer.admit_review(2) and pacer.admit_review(2)
    assert not pacer.admit_review(1)  # the fifth slot is the digest's
    assert pacer.take_digest() == 0  # not settled yet
    now[0] = 10
    assert pacer.take_digest() == 1 and pacer.take_digest() == 0
    now[0] = 60
    assert pacer.admit_review(2) and pacer.held == 0
    unpaced = ReviewPacer(budget=0)
    assert all(unpaced.admit_review(3) for _ in range(100))


# -- a full media folder ----------------------------------------------------------------------


async def test_at_the_media_budget_pictures_are_checked_and_answered_not_kept(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.media.budget_bytes = 1000  # smaller than any picture
    caplog.set_level(logging.WARNING, logger="handlers.tipflow")
    tips = []
    for n in range(3):
        desk.notifier.files[f"f{n}"] = photo(300 + n)
        tips.append(await desk.tip(f"f{n}"))
        await desk.process(tips[-1])
    assert [await desk.status(tip) for tip in tips] == [SubmissionStatus.NEW] * 3
    assert len(desk.notifier.tipster_cards) == 3 and len(desk.notifier.review_cards) == 3
    assert desk.notifier.pictures == []  # the cards come without the picture
    (notice,) = desk.notifier.notices  # told once, not per picture
    assert "media folder is full" in notice
    for tip in tips:
        submission = await desk.storage.get_submission(tip)
        assert submission is not None
        (item,) = submission.items
        assert item.status is ItemStatus.DONE and item.media_path is None and item.report
    assert await desk.storage.unfinished_submissions() == []
    assert "at its budget" in caplog.text and "not kept" in caplog.text
    assert desk.media.used_bytes() == 0


async def test_a_full_disk_loses_no_tip_and_crashes_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_space(data: bytes, kind: str = "orig") -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(desk.media, "put", no_space)
    caplog.set_level(logging.WARNING, logger="handlers.tipflow")
    data = photo(310)
    await known(desk, data)
    desk.notifier.files |= {"same": data, "near": smaller_copy(data)}
    matched, near = await desk.tip("same"), await desk.tip("near")
    await desk.process(matched)
    await desk.process(near)
    assert await desk.status(matched) is SubmissionStatus.MATCHED
    assert await desk.status(near) is SubmissionStatus.NEW
    assert "Known and debunked" in desk.notifier.tipster_cards[-1]
    assert len(desk.notifier.review_cards) == 1 and len(desk.notifier.notices) == 1
    assert "the disk is full (No space left on device)" in caplog.text
    assert await desk.storage.unfinished_submissions() == []


async def test_another_write_error_still_stops_the_tip_to_be_retried(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(data: bytes, kind: str = "orig") -> str:
        raise OSError(errno.EACCES, "Permission denied")

    desk.notifier.files["f"] = photo(320)
    tip = await desk.tip("f")
    with monkeypatch.context() as patch:
        patch.setattr(desk.media, "put", denied)
        with pytest.raises(TipProcessingFailed):
            await desk.process(tip)
    await desk.process(tip)
    submission = await desk.storage.get_submission(tip)
    assert submission is not None and submission.items[0].media_path is not None
    assert desk.notifier.notices == []
