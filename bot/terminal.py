"""The verdict card as a terminal shows it: what ``tipline check`` prints without ``--json``.

Its headline and verdict words come from :mod:`handlers.wording`, like the bot's cards, so the
terminal never calls "known" what the bot calls "similar".
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from checks.assessment import Assessment
from checks.findings import Finding, Severity
from checks.matching import Confidence
from handlers.finding_text import finding_text
from handlers.i18n import DEFAULT_LANGUAGE, texts_for
from handlers.wording import CLOSENESS, VERDICT_WORDS, headline_words

__all__ = ["error_card", "headline", "verdict_card"]

_SEVERITY_STYLE = {Severity.WARNING: "bold red", Severity.NOTICE: "yellow", Severity.INFO: "dim"}
_METADATA_LINES = (
    ("make", "Camera make"),
    ("model", "Camera model"),
    ("serial_number", "Serial number"),
    ("software", "Software"),
    ("datetime_original", "Taken"),
    ("modify_date", "Modified"),
    ("xmp_creator_tool", "Creator tool"),
    ("iptc_caption", "Caption"),
    ("iptc_byline", "By-line"),
)


def headline(assessment: Assessment) -> Text:
    """``KNOWN ...`` only for a certain match, ``SIMILAR ...`` for a similar one, else ``NEW``;
    then the verdict and how close."""
    best = assessment.best
    words = headline_words(best).upper()
    if best is None:
        return Text(f"{words} - a moderator would review it", style="bold cyan")
    detail = f"{words} ({best.verdict.value}: {VERDICT_WORDS[best.verdict]}) - "
    detail += CLOSENESS[best.kind]
    if best.confidence is not Confidence.CERTAIN:
        return Text(f"{detail}; a moderator would confirm it", style="bold yellow")
    if best.verdict.is_debunked:
        return Text(detail, style="bold red")
    return Text(detail, style="bold green" if best.verdict.value == "authentic" else "bold yellow")


def _findings(findings: tuple[Finding, ...]) -> RenderableType:
    # Warnings first: a GPS position in the file matters more to a source than the camera.
    lines = Text()
    for finding in sorted(findings, key=lambda f: f.severity.rank):
        text = finding_text(finding, texts_for(DEFAULT_LANGUAGE, html=False))
        lines.append(f"- {text} ", style=_SEVERITY_STYLE[finding.severity])
        lines.append(f"[{finding.code}]\n", style="dim")
    return lines


def verdict_card(path: Path, assessment: Assessment) -> RenderableType:
    parts: list[RenderableType] = [headline(assessment)]
    if assessment.matches:
        table = Table("item", "verdict", "title", "how close", "confidence", box=None)
        for match in assessment.matches:
            table.add_row(
                str(match.item_id),
                match.verdict.value,
                match.title,
                f"{CLOSENESS[match.kind]} ({match.signal} distance {match.distance})",
                match.confidence.value,
            )
        parts.append(table)
    meta = assessment.metadata
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_row("Format", f"{assessment.format} {assessment.width}x{assessment.height}")
    for key, label in _METADATA_LINES:
        if meta.get(key):
            facts.add_row(label, str(meta[key]))
    parts.append(facts)
    if assessment.findings:
        parts.append(_findings(assessment.findings))
    fp = assessment.fingerprint
    parts.append(Text(f"sha256 {fp.sha256}\npdq {fp.pdq} (quality {fp.pdq_quality})", "dim"))
    return Panel(Group(*parts), title=str(path), title_align="left")


def error_card(path: Path, code: str, message: str) -> RenderableType:
    return Panel(Text(f"{message} [{code}]", style="bold red"), title=str(path), title_align="left")
