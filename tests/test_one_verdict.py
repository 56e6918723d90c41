"""The command line and the bot say the same thing about the same picture.

Against one database, each kind of match the corpus gives (the identical file, a PDQ near copy,
pHash alone on a low-quality picture, a mirrored copy, a copy inside borders, nothing) is
checked with ``tipline check`` (JSON and terminal card) and sent through the bot's tip flow as a
tip. They must agree on the confidence and the verdict words, and only a certain match may be
called "known".
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter
from typer.testing import CliRunner

from bot.cli import app
from checks.report import analyse
from checks.verdicts import Verdict
from handlers.wording import VERDICT_WORDS
from tests.tipdesk import open_desk

pytestmark = pytest.mark.shared_data

AUGLY = Path("near-duplicates/augly")


def low_quality(source: Path) -> Image.Image:
    """A blurred, washed-out picture: PDQ's quality falls under its gate, so pHash decides."""
    picture = Image.open(source).convert("RGB").filter(ImageFilter.GaussianBlur(6))
    return ImageEnhance.Contrast(picture).enhance(0.1)


def save(picture: Image.Image, path: Path, quality: int) -> Path:
    picture.save(path, "JPEG", quality=quality)
    return path


def headline_of(card: str) -> str:
    """The bold words that open a Telegram card."""
    found = re.search(r"<b>(.*?)\.?</b>", card)
    assert found, card
    return found.group(1)


def terminal_headline(card: str) -> str:
    """The terminal card's headline, its wrapped lines joined: what comes before the table of
    matches (or the format line, when there is none)."""
    body = " ".join(line.strip("│ ").strip() for line in card.splitlines()[1:])
    return re.split(r" (?:item +verdict|Format) ", body, maxsplit=1)[0]


def test_the_cli_and_the_bot_agree(images: Path, tmp_path: Path) -> None:
    original = images / AUGLY / "originals/dfdc_1.jpg"
    washed = save(low_quality(images / AUGLY / "originals/dfdc_2.jpg"), tmp_path / "lq.jpg", 95)
    small = low_quality(images / AUGLY / "originals/dfdc_2.jpg")
    washed_copy = save(small.resize((small.width // 2, small.height // 2)), tmp_path / "c.jpg", 85)
    assert analyse(washed_copy.read_bytes()).fingerprint.pdq_quality < 50

    db = tmp_path / "known.db"
    manifest = tmp_path / "known.jsonl"
    rows = [
        {"image": str(original), "verdict": "misattributed", "title": "Not from this war"},
        {"image": str(washed), "verdict": "authentic", "title": "Fog over the river"},
    ]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    runner = CliRunner()
    imported = runner.invoke(app, ["import", "--db", str(db), str(manifest)])
    assert imported.exit_code == 0, imported.stderr

    copies = images / AUGLY / "transformed"
    cases = {
        original: ("certain", Verdict.MISATTRIBUTED),
        copies / "test_encoding_quality.png": ("certain", Verdict.MISATTRIBUTED),
        washed_copy: ("similar", Verdict.AUTHENTIC),
        copies / "test_hflip.png": ("certain", Verdict.MISATTRIBUTED),
        copies / "test_pad.png": ("certain", Verdict.MISATTRIBUTED),
        images / AUGLY / "originals/dfdc_3.jpg": ("none", None),
    }
    files = [str(path) for path in cases]
    checked = runner.invoke(app, ["check", "--json", "--jobs", "1", "--db", str(db), *files])
    assert checked.exit_code == 0, checked.stderr
    records = {Path(r["file"]): r for r in map(json.loads, checked.stdout.splitlines())}

    async def through_the_bot() -> dict[Path, str]:
        cards = {}
        async with open_desk(db) as desk:
            for number, path in enumerate(cases):
                desk.notifier.files[f"f{number}"] = path.read_bytes()
                tip = await desk.tip(f"f{number}")
                await desk.process(tip)
                cards[path] = desk.notifier.tipster_cards[-1]
        return cards

    bot_cards = asyncio.run(through_the_bot())

    for path, (confidence, verdict) in cases.items():
        record, card = records[path], bot_cards[path]
        terminal = runner.invoke(app, ["check", "--db", str(db), str(path)])
        first_line = terminal_headline(terminal.stdout)
        words = headline_of(card)
        # One confidence, everywhere.
        assert record["confidence"] == confidence, (path.name, record["matches"])
        assert first_line.startswith(words.upper()), (path.name, first_line, words)
        expected_start = {"certain": "Known", "similar": "Similar", "none": "New"}[confidence]
        assert words.startswith(expected_start), (path.name, words)
        assert first_line.startswith(expected_start.upper())
        # The same verdict, in the same words.
        if verdict is None:
            assert record["verdict"] == "new" and record["matches"] == []
            continue
        assert record["verdict"] == verdict.value
        assert record["matches"][0]["confidence"] == confidence
        assert VERDICT_WORDS[verdict] in card and VERDICT_WORDS[verdict] in first_line
