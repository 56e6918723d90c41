"""The ``tipline`` command line, as a script or a newsroom admin would use it."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from bot.cli import app
from storage.exchange import IMPORT_BATCH
from tests.test_decode import png_header_only

runner = CliRunner()


def make_picture(path: Path, seed: int, size: tuple[int, int] = (640, 480)) -> Path:
    image = Image.new("RGB", size, (seed * 40 % 255, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(10):
        x = (i * 53 + seed * 29) % (size[0] - 60)
        draw.rectangle(
            (x, i * 40, x + 80, i * 40 + 50), fill=(255 - i * 20, seed * 60 % 255, i * 25)
        )
    image.save(path, "JPEG", quality=90)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    """The console's output with its line wrapping undone."""
    return " ".join(text.split())


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "known.db")


def test_check_json_fields_and_a_new_picture(tmp_path: Path, db: str) -> None:
    picture = make_picture(tmp_path / "a.jpg", 1)
    code, out, _ = run("check", "--json", "--db", db, str(picture))
    assert code == 0
    (record,) = json_lines(out)
    assert record["file"] == str(picture)
    assert len(record["sha256"]) == 64
    assert len(record["pdq"]) == 64 and isinstance(record["pdq_quality"], int)
    assert len(record["phash"]) == 16
    assert isinstance(record["metadata"], dict)
    assert isinstance(record["findings"], list)
    assert record["matches"] == [] and record["verdict"] == "new"
    assert record["confidence"] == "none"
    assert Path(db).exists(), "a missing SQLite database is created"


def test_bad_files_get_an_error_line_and_exit_2(tmp_path: Path, db: str) -> None:
    good = make_picture(tmp_path / "good.jpg", 2)
    zeros = tmp_path / "zeros.jpg"
    zeros.write_bytes(b"\0" * 1_000_000)
    missing = tmp_path / "missing.jpg"
    code, out, _ = run("check", "--json", "--db", db, str(good), str(zeros), str(missing))
    assert code == 2
    records = json_lines(out)
    assert [r["file"] for r in records] == [str(good), str(zeros), str(missing)]
    assert "error" not in records[0]
    assert records[1]["error"]["code"] == "unsupported_format"
    assert records[2]["error"]["code"] == "unreadable_file"
    assert all(r["error"]["message"] for r in records[1:])


def test_terminal_card_names_the_verdict(tmp_path: Path, db: str) -> None:
    picture = make_picture(tmp_path / "a.jpg", 3)
    code, out, _ = run("check", "--db", db, str(picture))
    assert code == 0
    assert "NEW" in out and str(picture.name) in out


def test_import_then_check_matches_and_import_is_idempotent(tmp_path: Path, db: str) -> None:
    make_picture(tmp_path / "known.jpg", 4)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,verdict,title,fact_check_url,original_date,original_place\n"
        "known.jpg,misattributed,Flood photo is from 2011,https://example.org/fc/1,"
        "2011-03-11,Sendai\n",
        encoding="utf-8",
    )
    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 0, err
    assert "1 created" in err
    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 0 and "1 unchanged" in err and "0 created" in err

    # A smaller, re-encoded copy is recognised as the same picture.
    buffer = io.BytesIO()
    Image.open(tmp_path / "known.jpg").resize((320, 240)).save(buffer, "JPEG", quality=50)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(buffer.getvalue())
    code, out, _ = run("check", "--json", "--db", db, str(copy), str(tmp_path / "known.jpg"))
    assert code == 0
    near, exact = json_lines(out)
    assert near["verdict"] == "misattributed"
    assert near["confidence"] == "certain" and near["matches"][0]["confidence"] == "certain"
    assert near["matches"][0]["kind"] == "near"
    assert near["matches"][0]["title"] == "Flood photo is from 2011"
    assert exact["matches"][0]["kind"] == "exact" and exact["matches"][0]["distance"] == 0
    code, out, _ = run("check", "--db", db, str(copy))
    assert code == 0 and "KNOWN AND DEBUNKED (misattributed: real, but shown" in out


def test_bad_rows_are_reported_by_line_and_the_rest_imported(tmp_path: Path, db: str) -> None:
    manifest = tmp_path / "rows.jsonl"
    good_pdq = "f" * 64
    manifest.write_text(
        "\n".join(
            [
                json.dumps({"pdq": good_pdq, "verdict": "edited", "title": "ok"}),
                json.dumps({"pdq": "xyz", "verdict": "edited"}),
                "{not json",
                json.dumps({"sha256": "a" * 64, "verdict": "fake-news"}),
                json.dumps({"image": "nope.jpg", "verdict": "authentic"}),
                json.dumps({"phash": "0123456789abcdef", "verdict": "Synthetic"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 2
    for line in (2, 3, 4, 5):
        assert f"line {line}:" in err
    assert "unknown verdict" in err and "pdq hash must be 64" in err
    assert "2 created" in err and "4 failed" in err


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        (
            "latin1.csv",
            [b"sha256,verdict,title", b"a" * 64 + b",edited,ok", b"b" * 64 + b",edited,caf\xe9"],
        ),
        (
            "latin1.jsonl",
            [b'{"sha256": "' + b"a" * 64 + b'", "verdict": "edited"}', b'{"title": "caf\xe9"}'],
        ),
    ],
)
def test_a_line_that_is_not_utf8_is_refused_by_number(
    tmp_path: Path, db: str, name: str, lines: list[bytes]
) -> None:
    manifest = tmp_path / name
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 2
    assert f"line {len(lines)}: not UTF-8 text (byte 0xe9)" in err
    assert "1 created" in err and "1 failed" in err


def test_a_manifest_of_several_batches_keeps_its_line_numbers(tmp_path: Path, db: str) -> None:
    total = IMPORT_BATCH * 2 + 500
    rows = [json.dumps({"phash": f"{i:016x}", "verdict": "edited"}) for i in range(total)]
    bad = [1, IMPORT_BATCH, IMPORT_BATCH + 1, total]
    for line in bad:
        rows[line - 1] = json.dumps({"phash": "xyz", "verdict": "edited"})
    rows[9] = rows[4]  # line 10 repeats line 5: the same item, unchanged
    manifest = tmp_path / "partner.jsonl"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 2
    reported = [int(word) for word in re.findall(r"partner\.jsonl: line (\d+):", err)]
    assert reported == bad
    assert f"{total - 5} created, 0 updated, 1 unchanged, 4 failed" in err

    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 2
    assert f"0 created, 0 updated, {total - 4} unchanged, 4 failed" in err


def test_csv_with_a_misspelt_column_is_refused_whole(tmp_path: Path, db: str) -> None:
    manifest = tmp_path / "typo.csv"
    manifest.write_text("sha256,verdict,fact_check_ulr\n" + "a" * 64 + ",edited,x\n")
    code, _, err = run("import", "--db", db, str(manifest))
    assert code == 1
    assert "fact_check_ulr" in err


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_imports_back_unchanged(tmp_path: Path, db: str, fmt: str) -> None:
    manifest = tmp_path / "in.jsonl"
    rows = [
        {"pdq": "0f" * 32, "pdq_quality": "87", "verdict": "staged", "title": "Crowd, «2019»"},
        {"sha256": "b" * 64, "verdict": "authentic", "note": "line one", "source": "AFP"},
        {"phash": "00ff00ff00ff00ff", "verdict": "satire", "original_place": "Kyiv"},
    ]
    manifest.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert run("import", "--db", db, str(manifest))[0] == 0
    first = tmp_path / f"first.{fmt}"
    code, _, err = run("export", "--db", db, "--format", fmt, "--output", str(first))
    assert code == 0 and "exported 3" in err

    other_db = str(tmp_path / "other.db")
    code, _, err = run("import", "--db", other_db, str(first))
    assert code == 0, err
    assert "3 created" in err
    second = tmp_path / f"second.{fmt}"
    assert run("export", "--db", other_db, "--format", fmt, "--output", str(second))[0] == 0
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "from-env.db"
    monkeypatch.setenv("TIPLINE_DATABASE_URL", str(target))
    picture = make_picture(tmp_path / "a.jpg", 5)
    assert run("check", "--json", str(picture))[0] == 0
    assert target.exists()


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    picture = make_picture(tmp_path / "a.jpg", 6)
    code, _, err = run("check", "--db", str(tmp_path / "no" / "such" / "dir.db"), str(picture))
    assert code == 1
    assert "error:" in err and "Traceback" not in err


#: Runs a command and prints its peak memory. Measured from a small parent: a child forked
#: straight from this test process would count this process's pages in its own peak.
_MEASURE_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], check=False).returncode\n"
    "sys.stderr.write(f'peak_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
    "sys.exit(code)\n"
)


_CHECK_JSON = (sys.executable, "-m", "bot", "check", "--json")


def test_bombs_and_zeros_fail_fast_in_little_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(40_000, 40_000))
    zeros = tmp_path / "zeros.jpg"
    zeros.write_bytes(b"\0" * 1_000_000)
    env = {**os.environ, "TIPLINE_DATABASE_URL": str(tmp_path / "t.db")}
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE_PEAK, *_CHECK_JSON, str(bomb), str(zeros)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    peak_mb = int(proc.stderr.rpartition("peak_kb=")[2]) / 1024
    assert proc.returncode == 2, proc.stderr
    records = json_lines(proc.stdout)
    assert records[0]["error"]["code"] == "image_too_large"
    assert "40000x40000" in records[0]["error"]["message"]
    assert records[1]["error"]["code"] == "unsupported_format"
    assert "Traceback" not in proc.stderr
    assert peak_mb < 300


def test_backup_copies_the_database_while_it_is_in_use(tmp_path: Path, db: str) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    for manifest, start in ((first, 1), (second, 26)):
        rows = [{"phash": f"{i:016x}", "verdict": "edited"} for i in range(start, start + 25)]
        manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert run("import", "--db", db, str(first))[0] == 0
    # A reader in the middle of a transaction, as a running bot may be, keeps what is written
    # next in the write-ahead log: the backup must include it all the same.
    reader = sqlite3.connect(db)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM known_items").fetchone()
        assert run("import", "--db", db, str(second))[0] == 0
        copy = tmp_path / "backup.db"
        code, _, err = run("backup", "--db", db, str(copy))
    finally:
        reader.close()
    assert code == 0 and "50 known items" in one_line(err)
    code, out, _ = run("export", "--db", str(copy))
    assert code == 0 and len(json_lines(out)) == 50
    code, _, err = run("backup", "--db", db, str(copy))
    assert code == 1 and "already exists" in one_line(err)  # never overwritten


@pytest.mark.postgres
def test_backup_of_postgresql_points_to_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    code, _, err = run("backup", "--db", postgres_url, str(tmp_path / "b.dump"))
    assert code == 1 and "pg_dump" in one_line(err)
    assert not (tmp_path / "b.dump").exists()
