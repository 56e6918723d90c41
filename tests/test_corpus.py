"""The issue's acceptance checks on the real-image corpus: malformed files and near-duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from checks.errors import InvalidInput
from checks.report import analyse

pytestmark = pytest.mark.shared_data

#: AugLy copies that keep the whole frame: global hashes must recognise every one.
WHOLE_FRAME = {
    "test_blur.png": "near",
    "test_brightness.png": "near",
    "test_change_aspect_ratio.png": "near",
    "test_encoding_quality.png": "near",
    "test_grayscale.png": "near",
    "test_overlay_text.png": "near",
    "test_resize.png": "near",
    "test_scale.png": "near",
    "test_hflip.png": "mirrored",
}
#: The copies whose frame changed, with the kind each is named and how sure it is: the crop
#: keeps a quarter of the picture, too little to be sure (a person looks).
FRAME_CHANGING = {
    "test_pad.png": ("framed", "certain"),
    "test_pad_square.png": ("framed", "certain"),
    "test_meme_format.png": ("captioned", "certain"),
    "test_overlay_onto_screenshot.png": ("screenshot", "certain"),
    "test_perspective_transform.png": ("perspective", "certain"),
    "test_rotate.png": ("rotated", "certain"),
    "test_crop.png": ("cropped", "similar"),
}


def test_every_malformed_file_gives_a_result_or_a_clean_error(images: Path) -> None:
    files = sorted(p for p in (images / "malformed").rglob("*") if p.is_file())
    assert len(files) >= 100
    for path in files:
        start = time.perf_counter()
        try:
            report = analyse(path.read_bytes())
            assert report.fingerprint.pdq
        except InvalidInput as exc:
            assert exc.code and exc.message
        assert time.perf_counter() - start < 2.0, path


def test_cli_over_the_malformed_folder_has_no_traceback(images: Path, tmp_path: Path) -> None:
    files = sorted(str(p) for p in (images / "malformed").rglob("*") if p.is_file())
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--json", "--db", str(tmp_path / "t.db"), *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2  # most fuzzed files cannot be analysed
    assert "Traceback" not in proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in records] == files
    for record in records:
        assert ("error" in record) != ("sha256" in record)


def test_augly_copies_match_and_nothing_else_does(images: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "known.db")
    original = images / "near-duplicates/augly/originals/dfdc_1.jpg"
    manifest = tmp_path / "known.jsonl"
    manifest.write_text(
        json.dumps({"image": str(original), "verdict": "misattributed", "title": "dfdc_1"}) + "\n"
    )
    runner = CliRunner()
    imported = runner.invoke(app, ["import", "--db", db, str(manifest)])
    assert imported.exit_code == 0, imported.stderr

    copies = sorted((images / "near-duplicates/augly/transformed").iterdir())
    others = [
        p
        for p in sorted(images.rglob("*"))
        if p.is_file()
        and "malformed" not in p.parts
        and "transformed" not in p.parts
        and p != original
    ]
    result = runner.invoke(
        app, ["check", "--json", "--jobs", "2", "--db", db, *map(str, copies + others)]
    )
    records = {Path(r["file"]): r for r in map(json.loads, result.stdout.splitlines())}
    distances = {
        p.name: [(m["kind"], m["signal"], m["distance"]) for m in records[p]["matches"]]
        for p in copies
    }
    print(json.dumps(distances, indent=1))
    for name, kind in WHOLE_FRAME.items():
        matches = records[images / "near-duplicates/augly/transformed" / name]["matches"]
        assert matches and matches[0]["kind"] == kind, (name, matches)
        assert records[images / "near-duplicates/augly/transformed" / name]["verdict"] == (
            "misattributed"
        )
    for name, (kind, confidence) in FRAME_CHANGING.items():
        matches = records[images / "near-duplicates/augly/transformed" / name]["matches"]
        assert matches, name
        assert (matches[0]["kind"], matches[0]["confidence"]) == (kind, confidence), name
    assert set(WHOLE_FRAME) | set(FRAME_CHANGING) == {p.name for p in copies}
    false_matches = [p for p in others if records[p].get("matches")]
    assert false_matches == []
    assert len(others) > 200
