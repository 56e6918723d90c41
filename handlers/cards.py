"""Cards as Telegram shows them: HTML, escaped, within Telegram's length limits.

Everything a user or a source typed (titles, notes, captions, channel names) is escaped here;
this module is the only place HTML is put together. Cards are built line by line and cut at a
whole line, never inside a tag, so a long album still gives a valid message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from checks.assessment import Assessment, best_match
from checks.findings import Finding, Severity
from checks.matching import Match
from checks.verdicts import Verdict
from handlers.wording import CLOSENESS, VERDICT_WORDS, headline_words, is_known

__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "PictureView",
    "Provenance",
    "fit_lines",
    "headline",
    "review_caption",
    "review_card",
    "tipster_card",
    "verdict_notice",
]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_SEVERITY_MARK = {Severity.WARNING: "⚠️", Severity.NOTICE: "•", Severity.INFO: "·"}
_HEADLINE_MARK = {
    "Known and verified": "🟢",
    "Known and debunked": "🔴",
    "Known to us, but not resolved": "🟡",
    "Similar to a picture we know": "🟡",
}


@dataclass(frozen=True, slots=True)
class PictureView:
    """One picture of a tip as a card shows it: its assessment, or the plain reason it could
    not be checked."""

    position: int
    assessment: Assessment | None = None
    error: str | None = None

    @property
    def best(self) -> Match | None:
        return self.assessment.best if self.assessment else None

    @property
    def matches(self) -> tuple[Match, ...]:
        return self.assessment.matches if self.assessment else ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.assessment.findings if self.assessment else ()

    @property
    def summary(self) -> str:
        return self.assessment.summary if self.assessment else ""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a forwarded tip came from, as Telegram reported it."""

    origin_type: str
    title: str | None = None
    username: str | None = None
    date: str | None = None


def fit_lines(lines: Sequence[str], limit: int, tail: Sequence[str] = ()) -> str:
    """Join whole lines up to ``limit`` characters, always keeping ``tail`` (the ticket)."""
    tail_text = "\n".join(tail)
    budget = limit - len(tail_text) - (2 if tail_text else 0)
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        cost = len(line) + (1 if kept else 0)
        if used + cost > budget - 40:  # room for the "more" note
            kept.append(f"… {len(lines) - index} more lines not shown")
            break
        kept.append(line)
        used += cost
    body = "\n".join(kept)
    return f"{body}\n\n{tail_text}" if tail_text else body


def headline(pictures: Sequence[PictureView]) -> str:
    """The one line a tipster reads first: "known" only for a certain match."""
    best = best_match(p.assessment for p in pictures if p.assessment)
    if best is None and all(p.error for p in pictures):
        return "❗ <b>We could not check this picture.</b>"
    words = headline_words(best)
    if best is None:
        return f"🆕 <b>{words}.</b> It has been sent to our reviewers."
    if not is_known(best):
        return f"{_HEADLINE_MARK[words]} <b>{words}.</b> A reviewer will confirm."
    return f"{_HEADLINE_MARK[words]} <b>{words}.</b>"


def _match_lines(match: Match) -> list[str]:
    label = "Known item" if is_known(match) else "Similar to"
    lines = [
        f"<b>{label}:</b> {escape(match.title or f'item {match.item_id}')} — "
        f"{escape(VERDICT_WORDS[match.verdict])}",
        f"<b>How close:</b> {CLOSENESS[match.kind]}",
    ]
    if match.fact_check_url:
        lines.append(f'<b>Fact check:</b> <a href="{escape(match.fact_check_url)}">read it</a>')
    original = ", ".join(escape(x) for x in (match.original_date, match.original_place) if x)
    if original:
        lines.append(f"<b>Originally:</b> {original}")
    return lines


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    ordered = sorted(findings, key=lambda f: f.severity.rank)
    return [f"{_SEVERITY_MARK[f.severity]} {escape(f.message)}" for f in ordered]


def _picture_lines(picture: PictureView, count: int) -> list[str]:
    lines = [f"<b>Picture {picture.position} of {count}</b>"] if count > 1 else []
    if picture.error:
        return [*lines, f"❗ {escape(picture.error)}"]
    if picture.best:
        lines += _match_lines(picture.best)
    return lines + _finding_lines(picture.findings)


def tipster_card(ticket: str, pictures: Sequence[PictureView]) -> str:
    """The verdict card a source receives."""
    lines = [headline(pictures), ""]
    for picture in pictures:
        lines += [*_picture_lines(picture, len(pictures)), ""]
    tail = [f"Ticket <code>{escape(ticket)}</code> — send /status {escape(ticket)} to ask later."]
    return fit_lines([ln for ln in lines[:-1]], MESSAGE_LIMIT, tail)


def _provenance_line(provenance: Provenance | None) -> str | None:
    if provenance is None:
        return None
    who = " ".join(
        x
        for x in (
            escape(provenance.title) if provenance.title else None,
            f"@{escape(provenance.username)}" if provenance.username else None,
        )
        if x
    )
    when = f", originally posted {escape(provenance.date)}" if provenance.date else ""
    return f"<b>Forwarded from</b> {escape(provenance.origin_type)} {who or '(hidden)'}{when}"


def review_card(
    ticket: str,
    pictures: Sequence[PictureView],
    *,
    provenance: Provenance | None = None,
    claimed_by: str | None = None,
    note: str | None = None,
    status: str = "new",
) -> str:
    """The moderators' card: everything needed to give a verdict without opening a database."""
    lines = [f"<b>Tip {escape(ticket)}</b> · {len(pictures)} picture(s) · {escape(status)}"]
    if (line := _provenance_line(provenance)) is not None:
        lines.append(line)
    lines.append(f"<b>Claimed by:</b> {escape(claimed_by) if claimed_by else '—'}")
    if note:
        lines.append(f"<b>Note:</b> {escape(note)}")
    for picture in pictures:
        lines.append("")
        head = f"<b>Picture {picture.position}</b>"
        lines.append(f"{head} {escape(picture.summary)}" if picture.summary else head)
        if picture.error:
            lines.append(f"❗ {escape(picture.error)}")
            continue
        for match in picture.matches[:3]:
            lines.append(
                f"Nearest known: #{match.item_id} {escape(match.title)} ({match.verdict.value}) — "
                f"{CLOSENESS[match.kind]}, {match.signal} distance {match.distance}, "
                f"{match.confidence.value}"
            )
        if not picture.matches:
            lines.append("No known item is near.")
        lines += _finding_lines(picture.findings)
    return fit_lines(lines, MESSAGE_LIMIT)


def review_caption(ticket: str, pictures: Sequence[PictureView]) -> str:
    """Short caption for the picture posted to the moderators' chat (1024 characters)."""
    lines = [f"<b>Tip {escape(ticket)}</b>", headline(pictures)]
    return fit_lines(lines, CAPTION_LIMIT)


def verdict_notice(ticket: str, verdict: Verdict, fact_check_url: str | None, note: str) -> str:
    """What a source is told when a moderator has decided about their tip."""
    lines = [
        f"Your tip <code>{escape(ticket)}</code> has been reviewed: "
        f"<b>{escape(VERDICT_WORDS[verdict])}</b>."
    ]
    if note:
        lines.append(escape(note))
    if fact_check_url:
        lines.append(f'<a href="{escape(fact_check_url)}">Read the fact check</a>')
    lines.append("Thank you for sending it.")
    return fit_lines(lines, MESSAGE_LIMIT)
