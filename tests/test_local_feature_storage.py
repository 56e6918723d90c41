"""Known items' local features in the database, on SQLite and PostgreSQL alike: saved at
import and at a verdict, loaded again by another instance, and used by ``lookup`` to find a
crop or a screenshot of a known picture that global hashes miss."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checks.local_features import (
    KNOWN_FEATURES,
    THUMB,
    Keypoints,
    KnownFeatures,
    describe_both,
    describe_known,
    describe_query,
)
from checks.matching import Confidence, MatchKind
from checks.report import analyse
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from storage import KnownItemDraft, PostgresStorage, SqliteStorage, Storage
from storage import features as feature_repository
from storage.feature_index import EXHAUSTIVE
from storage.tips import ItemOrigin, ItemSource, ItemStatus, ReviewDraft, SubmissionDraft
from tests.storage_backends import fresh_schema, rand_hex

pytestmark = pytest.mark.shared_data


@dataclass
class Backend:
    open: Callable[[], Awaitable[Storage]]


@pytest.fixture
async def backend(backend_server: str | None, tmp_path: Path) -> AsyncIterator[Backend]:
    if backend_server is None:
        path = tmp_path / "tipline.db"
        yield Backend(open=lambda: SqliteStorage.open(path))
        return
    async with fresh_schema(backend_server) as url:
        yield Backend(open=lambda: PostgresStorage.open(url, listen=False))


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def photo(images: Path) -> Image.Image:
    return Image.open(images / "photos" / "Canon_PowerShot_A40.jpg").convert("RGB")


def crop_of(image: Image.Image) -> bytes:
    """A 20% crop from the top-left corner: global hashes no longer see it."""
    w, h = image.size
    return jpeg(image.crop((round(w * 0.2), round(h * 0.2), w, h)))


def in_screenshot(image: Image.Image) -> bytes:
    """The picture at half the width of a white phone screen with a header bar."""
    w, h = image.size
    screen = Image.new("RGB", (w * 2, h * 4), (255, 255, 255))
    screen.paste((7, 94, 84), (0, 0, w * 2, h // 2))
    screen.paste(image, (w // 2, h))
    return jpeg(screen)


def known_draft(data: bytes, title: str, *, features: bool = True) -> KnownItemDraft:
    fingerprint = analyse(data, known=True).fingerprint
    if not features:
        fingerprint = replace(fingerprint, known_features=None)
    return KnownItemDraft(fingerprint, Verdict.STAGED, title=title)


def test_a_tips_two_sets_of_features_found_side_by_side_are_the_usual_ones(
    photo: Image.Image,
) -> None:
    """A tip's analysis finds the features a verdict keeps on another thread: byte for byte
    what an import of the same picture keeps, and the query's as a lookup's."""
    with ThreadPoolExecutor(max_workers=1) as aside:
        query, known = describe_both(photo, aside)
    assert known.to_bytes() == describe_known(photo).to_bytes()
    alone = describe_query(photo)
    assert np.array_equal(query.keypoints.descriptors, alone.keypoints.descriptors)
    assert np.array_equal(query.keypoints.points, alone.keypoints.points)
    assert np.array_equal(query.pixels, alone.pixels)


async def test_a_crop_is_found_by_local_features_and_again_after_reopening(
    backend: Backend, photo: Image.Image
) -> None:
    storage = await backend.open()
    try:
        await storage.upsert_known_item(known_draft(jpeg(photo, 92), "the photo"))
        query = analyse(crop_of(photo)).fingerprint
        matches = await storage.lookup(query)
    finally:
        await storage.close()
    assert matches and matches[0].title == "the photo"
    assert matches[0].kind is MatchKind.CROPPED
    assert matches[0].confidence is Confidence.CERTAIN
    reopened = await backend.open()  # another instance: features come from the database
    try:
        await reopened.features_ready()
        found = await reopened.lookup(analyse(in_screenshot(photo)).fingerprint)
    finally:
        await reopened.close()
    assert found and found[0].kind is MatchKind.SCREENSHOT
    left, top, right, bottom = found[0].region or (0, 0, 1, 1)
    assert (left, top, right, bottom) == pytest.approx((0.25, 0.25, 0.75, 0.5), abs=0.03)


async def test_an_item_imported_by_hash_alone_is_not_found_cropped(
    backend: Backend, photo: Image.Image
) -> None:
    storage = await backend.open()
    try:
        await storage.upsert_known_item(known_draft(jpeg(photo, 92), "hashes", features=False))
        whole = await storage.lookup(analyse(jpeg(photo, 70)).fingerprint)
        cropped = await storage.lookup(analyse(crop_of(photo)).fingerprint)
    finally:
        await storage.close()
    assert whole and whole[0].title == "hashes"
    assert cropped == []


async def test_a_verdict_on_a_tip_makes_its_picture_findable_cropped(
    backend: Backend, photo: Image.Image
) -> None:
    storage = await backend.open()
    try:
        recorded = await storage.record_tip(
            SubmissionDraft(
                ticket="ABCD-EFGH",
                update_id=1,
                tipster="a" * 64,
                sealed_chat=b"sealed",
                items=(ItemSource(ItemOrigin.PHOTO, "file-1", 1, "image/jpeg"),),
            )
        )
        item = recorded.submission.items[0]
        await storage.save_item_result(
            item.id,
            status=ItemStatus.DONE,
            fingerprint=analyse(jpeg(photo, 90), known=True).fingerprint,
            report={"matches": []},
        )
        await storage.set_status(recorded.submission.id, SubmissionStatus.NEW)
        assert await storage.lookup(analyse(crop_of(photo)).fingerprint) == []
        await storage.record_review(
            recorded.submission.id, ReviewDraft(Verdict.STAGED, "m" * 64, "", None)
        )
        found = await storage.lookup(analyse(crop_of(photo)).fingerprint)
    finally:
        await storage.close()
    assert found and found[0].kind is MatchKind.CROPPED
    assert found[0].confidence is Confidence.CERTAIN


def distractor(rng: np.random.Generator) -> Fingerprint:
    """Hashes and features of no picture: random descriptors where a photo's would be."""
    points = rng.uniform(0, 500, size=(KNOWN_FEATURES, 2)).astype(np.float32)
    descriptors = rng.integers(0, 256, size=(KNOWN_FEATURES, 32), dtype=np.uint8)
    thumbnail = rng.integers(0, 256, size=(THUMB, THUMB), dtype=np.uint8)
    features = KnownFeatures(Keypoints(points, descriptors, (500, 375)), thumbnail)
    return Fingerprint(sha256=rand_hex(256), known_features=features.to_bytes())


async def test_a_large_collection_is_indexed_in_the_background(
    backend: Backend, photo: Image.Image
) -> None:
    rng = np.random.default_rng(3)
    items = EXHAUSTIVE // KNOWN_FEATURES + 10
    storage = await backend.open()
    try:
        drafts = [KnownItemDraft(distractor(rng), Verdict.STAGED) for _ in range(items)]
        await storage.upsert_known_items(drafts)
        await storage.upsert_known_item(known_draft(jpeg(photo, 92), "the photo"))
    finally:
        await storage.close()
    reopened = await backend.open()
    try:
        # Learned while the index is being built: kept when the built index takes over.
        late = await reopened.upsert_known_item(
            known_draft(jpeg(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 92), "late")
        )
        await reopened.features_ready()
        found = await reopened.lookup(analyse(crop_of(photo)).fingerprint)
        mirrored = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        late_found = await reopened.lookup(analyse(crop_of(mirrored)).fingerprint)
    finally:
        await reopened.close()
    assert [m.title for m in found][:1] == ["the photo"]
    assert late.item.id in [m.item_id for m in late_found]


async def test_another_instance_reads_many_new_items_features_a_page_at_a_time(
    backend: Backend, photo: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feature_repository, "_PAGE", 2)  # pages of two items: several here
    rng = np.random.default_rng(5)
    writer, reader = await backend.open(), await backend.open()
    try:
        await reader.features_ready()
        await writer.upsert_known_items(
            [KnownItemDraft(distractor(rng), Verdict.STAGED) for _ in range(5)]
        )
        await writer.upsert_known_item(known_draft(jpeg(photo, 92), "the photo"))
        assert await reader.lookup(analyse(crop_of(photo)).fingerprint) == []
        await reader.refresh_index()
        found = await reader.lookup(analyse(crop_of(photo)).fingerprint)
        learned = len(reader.feature_index)
    finally:
        await writer.close()
        await reader.close()
    assert found and found[0].title == "the photo"
    assert found[0].kind is MatchKind.CROPPED
    assert learned == 6
