"""The media store names files by content only; the stripped copy carries no metadata."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from checks.metadata import extract_metadata
from checks.strip import stripped_copy
from storage import open_storage
from storage.media import MediaStore, sweep_unreferenced
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
