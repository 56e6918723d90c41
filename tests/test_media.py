"""The media store names files by content only; the stripped copy carries no metadata."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from checks.metadata import extract_metadata
from checks.strip import stripped_copy
from checks.verdicts import SubmissionStatus
from storage import Storage, open_storage
from storage.media import MediaFull, MediaStore, make_room, sweep_unreferenced
from storage.tips import ItemOrigin, ItemSource, ItemStatus, SubmissionDraft


def test_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    store.ensure()
    first = store.put(b"picture bytes")
    assert store.put(b"picture bytes") == first
    assert Path(first).stem == hashlib.sha256(b"picture bytes").hexdigest()
    assert store.get(first) == b"picture bytes"
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "media").rglob("*"))
    assert store.delete(first) and store.get(first) is None and not store.delete(first)


async def test_the_sweep_drops_only_old_files_no_tip_refers_to(tmp_path: Path) -> None:
    # Another instance's retention pass let go of a picture this instance's folder still holds.
    store = MediaStore(tmp_path / "media")
    store.ensure()
    storage = await open_storage(str(tmp_path / "t.db"))
    try:
        kept, orphan, fresh = (store.put(f"picture {n}".encode()) for n in range(3))
        recorded = await storage.record_tip(
            SubmissionDraft(
                ticket="K7QM-2XTD",
                update_id=1,
                tipster="a" * 64,
                sealed_chat=None,
                items=(ItemSource(ItemOrigin.PHOTO, "file-id"),),
            )
        )
        await storage.save_item_result(
            recorded.submission.items[0].id, status=ItemStatus.DONE, media_path=kept
        )
        two_hours_ago = time.time() - 7200
        for path in (kept, orphan):
            os.utime(store.root / path, (two_hours_ago, two_hours_ago))
        leftover = store.root / Path(orphan).parent / ".tmp-crashed"
        leftover.write_bytes(b"half a picture")
        os.utime(leftover, (two_hours_ago, two_hours_ago))

        assert await sweep_unreferenced(store, storage, grace_seconds=3600) == 2
        assert store.get(kept) and store.get(fresh)
        assert store.get(orphan) is None and not leftover.exists()
        # A new tip of an old picture makes its file fresh again, so the sweep spares it.
        os.utime(store.root / kept, (two_hours_ago, two_hours_ago))
        store.put(b"picture 0")
        assert store.files_older_than(3600) == []
    finally:
        await storage.close()


def test_the_budget_refuses_new_bytes_not_known_ones(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media", budget_bytes=100)
    store.ensure()
    first = store.put(b"a" * 60)
    with pytest.raises(MediaFull, match="at its budget"):
        store.put(b"b" * 60)
    assert store.put(b"a" * 60) == first  # already kept: costs nothing
    assert store.used_bytes() == 60 and not any(store.root.rglob(".tmp-*"))
    assert store.claim_full_notice() and not store.claim_full_notice()  # told once
    assert store.delete(first) and store.used_bytes() == 0
    assert store.claim_full_notice()  # room again: a new refusal is news
    store.put(b"b" * 60)
    # A store opened on a folder that already holds pictures counts them, and counts again
    # when asked (another process may share the folder).
    assert MediaStore(store.root, budget_bytes=100).used_bytes() == 60
    (store.root / "ab").mkdir()
    (store.root / "ab" / "cd").mkdir()
    (store.root / "ab" / "cd" / "other.orig").write_bytes(b"c" * 30)
    assert store.used_bytes() == 60 and store.recount() == 90


def test_a_full_disk_is_media_full_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MediaStore(tmp_path / "media")
    store.ensure()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "replace", no_space)
    with pytest.raises(MediaFull, match="the disk is full"):
        store.put(b"picture")
    monkeypatch.undo()
    assert store.used_bytes() == 0 and not any(store.root.rglob("*.*"))


async def _tip_with(storage: Storage, n: int, path: str, status: SubmissionStatus) -> None:
    recorded = await storage.record_tip(
        SubmissionDraft(
            ticket=f"K7QM-2XT{'ABCDEFGH'[n]}",
            update_id=n + 1,
            tipster="a" * 64,
            sealed_chat=None,
            items=(ItemSource(ItemOrigin.PHOTO, f"file-{n}"),),
        )
    )
    item = recorded.submission.items[0]
    await storage.save_item_result(item.id, status=ItemStatus.DONE, media_path=path)
    await storage.set_status(recorded.submission.id, status)


async def test_near_the_budget_the_oldest_closed_pictures_go_first(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media", budget_bytes=1000)
    store.ensure()
    storage = await open_storage(str(tmp_path / "t.db"))
    try:
        open_, closed_old, closed_new, fresh = (store.put(bytes([n]) * 250) for n in range(4))
        await _tip_with(storage, 0, open_, SubmissionStatus.NEW)
        await _tip_with(storage, 1, closed_old, SubmissionStatus.MATCHED)
        await _tip_with(storage, 2, closed_new, SubmissionStatus.REVIEWED)
        for path, hours in ((open_, 4), (closed_old, 3), (closed_new, 2)):
            then = time.time() - hours * 3600
            os.utime(store.root / path, (then, then))
        assert store.near_budget()
        since = datetime(2000, 1, 1, tzinfo=UTC)
        # The open tip's picture is the oldest, yet it stays; one closed picture is enough.
        assert await make_room(store, storage, since, grace_seconds=3600) == 1
        assert store.get(closed_old) is None
        assert store.get(open_) and store.get(closed_new) and store.get(fresh)
        assert store.used_bytes() == 750 and not store.near_budget()
        assert await make_room(store, storage, since, grace_seconds=3600) == 0
        # Past retention, even a waiting tip's picture may go (the oldest first).
        store.put(b"x" * 250)
        later = datetime(2999, 1, 1, tzinfo=UTC)
        assert await make_room(store, storage, later, grace_seconds=3600) == 1
        assert store.get(open_) is None and store.get(closed_new)
        assert MediaStore(store.root).used_bytes() == store.used_bytes() == 750
    finally:
        await storage.close()


def test_paths_cannot_escape_the_folder(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    with pytest.raises(ValueError, match="escapes"):
        store.get("../../etc/passwd")


@pytest.mark.shared_data
def test_stripped_copy_has_no_metadata_and_is_upright(images: Path) -> None:
    original = (images / "exif-samples/gps/DSCN0010.jpg").read_bytes()
    before = extract_metadata(Image.open(io.BytesIO(original)), original)
    assert before.exif.gps is not None and before.exif.make
    clean = stripped_copy(original)
    after = extract_metadata(Image.open(io.BytesIO(clean)), clean)
    assert after.exif.gps is None and not after.exif.make and not after.exif.present
    assert not after.xmp.present and after.thumbnail is None

    rotated = (images / "exif-samples/orientation/landscape_6.jpg").read_bytes()
    upright = Image.open(io.BytesIO(stripped_copy(rotated)))
    assert upright.width > upright.height
