"""The tip flow's state machine, with no Telegram: a fake messenger, a real database, a fake clock.

What a tipster and the moderators would notice: one card each, whatever fails and however often
the flow runs again; "known" only when certain; nothing lost.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot import workers
from checks.compare_image import side_by_side
from checks.report import analyse
from checks.verdicts import SubmissionStatus, Verdict
from handlers.tipflow import TipProcessingFailed
from storage import KnownItemDraft
from storage.tips import ReviewDraft
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
