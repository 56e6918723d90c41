"""The verdict card as a terminal shows it: what ``tipline check`` prints without ``--json``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from checks.findings import Finding, Severity
from checks.matching import Match, MatchKind
from checks.report import Report
from checks.verdicts import Verdict

__all__ = ["error_card", "verdict_card"]

_SEVERITY_STYLE = {Severity.WARNING: "bold red", Severity.NOTICE: "yellow", Severity.INFO: "dim"}
_KIND_WORDS = {
    MatchKind.EXACT: "identical file",
    MatchKind.NEAR: "near-identical copy",
    MatchKind.MIRRORED: "mirrored copy",
}
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


def _headline(matches: list[Match]) -> Text:
    if not matches:
        return Text("NEW - not seen before; a moderator would review it", style="bold cyan")
    best = matches[0]
    if best.verdict is Verdict.AUTHENTIC:
        return Text(f"KNOWN AND VERIFIED - {_KIND_WORDS[best.kind]}", style="bold green")
    if best.verdict.is_debunked:
        return Text(
            f"KNOWN AND DEBUNKED ({best.verdict.value}) - {_KIND_WORDS[best.kind]}",
            style="bold red",
        )
    return Text(f"KNOWN ({best.verdict.value}) - {_KIND_WORDS[best.kind]}", style="bold yellow")


def _findings(findings: tuple[Finding, ...]) -> RenderableType:
    # Warnings first: a GPS position in the file matters more to a source than the camera.
    order = {Severity.WARNING: 0, Severity.NOTICE: 1, Severity.INFO: 2}
    lines = Text()
    for finding in sorted(findings, key=lambda f: order[f.severity]):
        lines.append(f"- {finding.message} ", style=_SEVERITY_STYLE[finding.severity])
        lines.append(f"[{finding.code}]\n", style="dim")
    return lines


def verdict_card(path: Path, report: Report, matches: list[Match]) -> RenderableType:
    parts: list[RenderableType] = [_headline(matches)]
    if matches:
        table = Table("item", "verdict", "title", "how close", box=None, pad_edge=False)
        for match in matches:
            table.add_row(
                str(match.item_id),
                match.verdict.value,
                match.title,
                f"{_KIND_WORDS[match.kind]} ({match.signal} distance {match.distance})",
            )
        parts.append(table)
    meta = report.metadata.to_oracle_dict()
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_row("Format", f"{report.format} {report.width}x{report.height}")
    for key, label in _METADATA_LINES:
        if meta.get(key):
            facts.add_row(label, str(meta[key]))
    parts.append(facts)
    if report.findings:
        parts.append(_findings(report.findings))
    fp = report.fingerprint
    parts.append(Text(f"sha256 {fp.sha256}\npdq {fp.pdq} (quality {fp.pdq_quality})", "dim"))
    return Panel(Group(*parts), title=str(path), title_align="left")


def error_card(path: Path, code: str, message: str) -> RenderableType:
    return Panel(Text(f"{message} [{code}]", style="bold red"), title=str(path), title_align="left")
