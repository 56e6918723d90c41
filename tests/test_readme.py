"""The README's promises hold: CI runs its test command, and every setting is documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, missing


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_ci_runs_the_readme_test_command() -> None:
    _, test_command = readme_commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tests_part = test_command.split("&& ", 2)[-1]  # after the shared install step
    assert tests_part in ci


def test_every_setting_is_in_env_example_and_readme() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    assert "TIPLINE_DATABASE_URL" in names
    for name in names:
        assert f"`{name}`" in readme, name


@pytest.mark.shared_data
def test_the_first_command_shows_a_newcomer_what_tipline_does(
    shared_data: Path, tmp_path: Path
) -> None:
    """Its import and check, run as written (a fresh database), show known copies found each
    way Tipline finds them, and a new picture."""
    if not (ROOT.parent / "shared" / "data").is_dir():
        missing(f"the README's paths need ../shared/data beside the checkout ({ROOT.parent})")
    first = readme_commands()[0]
    tipline_part = first.split("&& ", 2)[-1].replace(
        ".venv/bin/tipline", f"{sys.executable} -m bot"
    )
    env = {**os.environ, "TIPLINE_DATABASE_URL": str(tmp_path / "fresh.db"), "COLUMNS": "200"}
    proc = subprocess.run(
        ["bash", "-c", tipline_part],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    headlines = [line.strip("│ ") for line in proc.stdout.splitlines() if "│ " in line]
    for start in ("KNOWN AND DEBUNKED", "SIMILAR", "NEW"):
        assert any(line.startswith(start) for line in headlines), (start, proc.stdout)
    text = " ".join(proc.stdout.split())
    for way in (
        "identical file",
        "mirrored copy",
        "inside borders",
        "with a caption added",
        "a screenshot containing the known picture",
        "photographed at an angle",
    ):
        assert way in text, (way, proc.stdout)
    assert "GPS" in proc.stdout
