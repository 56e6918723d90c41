"""The media store names files by content only; the stripped copy carries no metadata."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from checks.metadata import extract_metadata
from checks.strip import stripped_copy
from storage.media import MediaStore


def test_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    store.ensure()
    first = store.put(b"picture bytes")
    assert store.put(b"picture bytes") == first
    assert Path(first).stem == hashlib.sha256(b"picture bytes").hexdigest()
    assert store.get(first) == b"picture bytes"
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "media").rglob("*"))
    assert store.delete(first) and store.get(first) is None and not store.delete(first)


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
