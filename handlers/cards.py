"""Cards as Telegram shows them: HTML, escaped, translated, within Telegram's length limits.

Everything a user or a source typed (titles, notes, captions, channel names) is escaped and
isolated here (see :class:`handlers.i18n.Texts`); this module is the only place HTML is put
together. Each card is written in its reader's language: the tipster's for their cards, the
newsroom's for the moderators'. Cards are built line by line and cut at a whole line, never
inside a tag, so a long album still gives a valid message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from checks.assessment import Assessment, Side, best_match
from checks.findings import Finding, Severity
from checks.matching import Match, Region
from checks.verdicts import Verdict
from handlers.finding_text import finding_text
from handlers.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Safe, Texts, texts_for
from handlers.wording import CLOSENESS, VERDICT_WORDS, error_reason, headline_words, is_known

__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "PictureView",
    "Provenance",
    "fit_lines",
    "headline",
    "region_line",
    "review_caption",
    "review_card",
    "telegram_length",
    "tipster_card",
    "verdict_notice",
]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_ENGLISH = texts_for(DEFAULT_LANGUAGE)
_SEVERITY_MARK = {Severity.WARNING: "⚠️", Severity.NOTICE: "•", Severity.INFO: "·"}
_HEADLINE_MARK = {
    "Known and verified": "🟢",
    "Known and debunked": "🔴",
    "Known to us, but not resolved": "🟡",
    "Similar to a picture we know": "🟡",
}
#: Telegram's kinds of forward origin, as a moderator reads them.
_ORIGIN_WORDS = {
    "channel": N_("channel"),
    "chat": N_("group"),
    "user": N_("person"),
    "hidden_user": N_("person"),
}


@dataclass(frozen=True, slots=True)
class PictureView:
    """One picture of a tip as a card shows it: its assessment, or the error (``code``,
    ``message``) that kept it from being checked."""

    position: int
    assessment: Assessment | None = None
    error: Mapping[str, str] | None = None

    @property
    def best(self) -> Match | None:
        return self.assessment.best if self.assessment else None

    @property
    def matches(self) -> tuple[Match, ...]:
        return self.assessment.matches if self.assessment else ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.assessment.findings if self.assessment else ()


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a forwarded tip came from, as Telegram reported it."""

    origin_type: str
    title: str | None = None
    username: str | None = None
    date: str | None = None


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units). Of the HTML source, this is an upper
    bound of the message's length: tags and entities only make the source longer."""
    return len(text.encode("utf-16-le")) // 2


def fit_lines(
    lines: Sequence[str], limit: int, tail: Sequence[str] = (), *, t: Texts = _ENGLISH
) -> str:
    """Join whole lines up to ``limit`` (as Telegram counts), always keeping ``tail``."""
    tail_text = "\n".join(tail)
    budget = limit - telegram_length(tail_text) - (2 if tail_text else 0)
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        cost = telegram_length(line) + (1 if kept else 0)
        left = len(lines) - index
        more = t.ngettext("… {n} more line not shown", "… {n} more lines not shown", left)
        if used + cost > budget - telegram_length(more) - 1:
            kept.append(more)
            break
        kept.append(line)
        used += cost
    body = "\n".join(kept)
    return f"{body}\n\n{tail_text}" if tail_text else body


def headline(pictures: Sequence[PictureView], *, t: Texts = _ENGLISH) -> str:
    """The one line a tipster reads first: "known" only for a certain match."""
    best = best_match(p.assessment for p in pictures if p.assessment)
    if best is None and all(p.error for p in pictures):
        return "❗ " + t._("<b>We could not check this picture.</b>")
    words = headline_words(best)
    if best is None:
        return "🆕 " + t._("<b>New: not seen before.</b> It has been sent to our reviewers.")
    if any(p.assessment is not None and p.assessment.disputed for p in pictures):
        # Newsrooms disagree: say so, never pick one side's verdict for the tipster.
        return "⚖️ " + t._(
            "<b>Newsrooms disagree about this picture.</b> A reviewer will look at it."
        )
    mark = _HEADLINE_MARK[words]
    if not is_known(best):
        return f"{mark} " + t._("<b>Similar to a picture we know.</b> A reviewer will confirm.")
    return f"{mark} " + t._("<b>{words}.</b>", words=t._(words))


def _match_lines(match: Match, t: Texts) -> list[str]:
    title = match.title or t._("item {number}", number=match.item_id)
    verdict = t._(VERDICT_WORDS[match.verdict])
    if is_known(match):
        first = t._("<b>Known item:</b> {title} — {verdict}", title=title, verdict=verdict)
    else:
        first = t._("<b>Similar to:</b> {title} — {verdict}", title=title, verdict=verdict)
    closeness = t._(CLOSENESS[match.kind])
    lines = [first]
    if match.newsroom is not None:
        # A partner's verdict is theirs: say whose it is.
        lines.append(
            t._("<b>According to:</b> {newsroom}, a partner newsroom", newsroom=match.newsroom)
        )
    lines.append(t._("<b>How we recognised it:</b> {closeness}", closeness=closeness))
    if match.fact_check_url:
        lines.append(
            t._(
                '<b>Fact check:</b> <a href="{url}">read it</a>',
                url=t.attribute(match.fact_check_url),
            )
        )
    original = [x for x in (match.original_date, match.original_place) if x]
    if original:
        lines.append(t._("<b>Originally:</b> {when_where}", when_where=t.join(original)))
    return lines


def _finding_lines(findings: Sequence[Finding], t: Texts) -> list[str]:
    ordered = sorted(findings, key=lambda f: f.severity.rank)
    return [f"{_SEVERITY_MARK[f.severity]} {finding_text(f, t)}" for f in ordered]


def _error_line(error: Mapping[str, str], t: Texts) -> str:
    reason = t._(error_reason(error.get("code")))
    return "❗ " + t._("We could not check this picture: {reason}.", reason=reason)


def _picture_lines(picture: PictureView, count: int, t: Texts) -> list[str]:
    lines = []
    if count > 1:
        lines.append(
            t._("<b>Picture {position} of {count}</b>", position=picture.position, count=count)
        )
    if picture.error is not None or picture.assessment is None:
        return [*lines, _error_line(picture.error or {}, t)]
    if picture.best:
        lines += _match_lines(picture.best, t)
    lines += _dispute_lines(picture.assessment.disputed, t)
    return lines + _finding_lines(picture.findings, t)


def _dispute_lines(sides: Sequence[Side], t: Texts) -> list[str]:
    """Each side of a dispute, named: ours first, then each partner."""
    if not sides:
        return []
    lines = [t._("<b>Newsrooms disagree:</b>")]
    for side in sides:
        verdict = t._(VERDICT_WORDS[side.verdict])
        if side.newsroom is None:
            lines.append(t._("• this newsroom: {verdict}", verdict=verdict))
        else:
            lines.append(t._("• {newsroom}: {verdict}", newsroom=side.newsroom, verdict=verdict))
    return lines


def tipster_card(ticket: str, pictures: Sequence[PictureView], *, t: Texts = _ENGLISH) -> str:
    """The verdict card a source receives, in their language."""
    lines = [headline(pictures, t=t), ""]
    for picture in pictures:
        lines += [*_picture_lines(picture, len(pictures), t), ""]
    tail = [
        t._(
            "Ticket {ticket} — send {command} to ask later.",
            ticket=t.ticket(ticket),
            command=t.ltr(f"/status {ticket}"),
        )
    ]
    return fit_lines(lines[:-1], MESSAGE_LIMIT, tail, t=t)


def _provenance_line(provenance: Provenance | None, t: Texts) -> str | None:
    if provenance is None:
        return None
    names = [
        t.user(x)
        for x in (
            provenance.title,
            f"@{provenance.username}" if provenance.username else None,
        )
        if x
    ]
    who = Safe(" ".join(names)) if names else t._("(hidden)")
    kind = _ORIGIN_WORDS.get(provenance.origin_type)
    origin = t._(kind) if kind else t.user(provenance.origin_type)
    if provenance.date:
        return t._(
            "<b>Forwarded from</b> {origin} {who}, originally posted {date}",
            origin=origin,
            who=who,
            date=t.ltr(provenance.date),
        )
    return t._("<b>Forwarded from</b> {origin} {who}", origin=origin, who=who)


def region_line(region: Region, t: Texts) -> str:
    """Where the known picture sits in the submitted one, in words a moderator can check by eye.
    The corner it is measured from is named: in a right-to-left language "across" could start
    at the right."""
    left, top, right, bottom = (round(100 * min(1.0, max(0.0, v))) for v in region)
    return t._(
        "Where: the known picture is the part across {left}–{right}%, down {top}–{bottom}% "
        "(measured from the top left).",
        left=left,
        right=right,
        top=top,
        bottom=bottom,
    )


def _summary(assessment: Assessment, t: Texts) -> str:
    size = t.ltr(f"{assessment.format} {assessment.width}x{assessment.height}")
    camera = assessment.camera
    return f"{size}, {t.user(camera)}" if camera else size


def review_card(
    ticket: str,
    pictures: Sequence[PictureView],
    *,
    t: Texts = _ENGLISH,
    tipster_language: str | None = None,
    provenance: Provenance | None = None,
    claimed_by: str | None = None,
    note: str | None = None,
    status: str = "new",
) -> str:
    """The moderators' card, in the newsroom's language: everything needed to give a verdict
    without opening a database, and the language to answer the tipster in."""
    lines = [
        t.ngettext(
            "<b>Tip {ticket}</b> · {n} picture · {status}",
            "<b>Tip {ticket}</b> · {n} pictures · {status}",
            len(pictures),
            ticket=t.ltr(ticket),
            status=t.ltr(status),
        )
    ]
    if tipster_language in LANGUAGES:
        language = LANGUAGES[tipster_language]
        lines.append(
            t._(
                "<b>Tipster's language:</b> {language} ({native})",
                language=Safe(language.name_in(t.code)),
                native=t.user(language.native),
            )
        )
    if (line := _provenance_line(provenance, t)) is not None:
        lines.append(line)
    lines.append(t._("<b>Claimed by:</b> {moderator}", moderator=claimed_by or Safe("—")))
    if note:
        lines.append(t._("<b>Note:</b> {note}", note=note))
    for picture in pictures:
        lines.append("")
        head = t._("<b>Picture {position}</b>", position=picture.position)
        if picture.assessment is not None:
            head = Safe(f"{head} {_summary(picture.assessment, t)}")
        lines.append(head)
        if picture.error is not None or picture.assessment is None:
            error = picture.error or {}
            detail = error.get("message")  # technical, in English: for the journalists only
            line = _error_line(error, t)
            lines.append(f"{line} ({t.user(detail)})" if detail else line)
            continue
        for match in picture.matches[:3]:
            lines.append(
                t._(
                    "Nearest known: #{number} {title} ({verdict}) — {closeness}, {signal} "
                    "distance {distance}, {confidence}",
                    number=match.item_id,
                    title=match.title,
                    verdict=t.ltr(match.verdict.value),
                    closeness=t._(CLOSENESS[match.kind]),
                    signal=t.ltr(match.signal),
                    distance=match.distance,
                    confidence=t.ltr(match.confidence.value),
                )
            )
            if match.region is not None:
                lines.append(region_line(match.region, t))
            if match.newsroom is not None:
                lines.append(
                    t._(
                        "<b>According to:</b> {newsroom}, a partner newsroom",
                        newsroom=match.newsroom,
                    )
                )
        if not picture.matches:
            lines.append(t._("No known item is near."))
        lines += _dispute_lines(picture.assessment.disputed, t)
        lines += _finding_lines(picture.findings, t)
    return fit_lines(lines, MESSAGE_LIMIT, t=t)


def review_caption(ticket: str, pictures: Sequence[PictureView], *, t: Texts = _ENGLISH) -> str:
    """Short caption for the picture posted to the moderators' chat (1024 characters)."""
    lines = [t._("<b>Tip {ticket}</b>", ticket=t.ltr(ticket)), headline(pictures, t=t)]
    return fit_lines(lines, CAPTION_LIMIT, t=t)


def verdict_notice(
    ticket: str,
    verdict: Verdict,
    fact_check_url: str | None,
    note: str,
    *,
    t: Texts = _ENGLISH,
) -> str:
    """What a source is told, in their language, when a moderator has decided about their tip.
    The note is the moderator's own words, shown as written."""
    lines = [
        t._(
            "Your tip {ticket} has been reviewed: <b>{verdict}</b>.",
            ticket=t.ticket(ticket),
            verdict=t._(VERDICT_WORDS[verdict]),
        )
    ]
    if note:
        lines.append(t.user(note, isolate=False))  # a line of its own: no direction to keep
    if fact_check_url:
        lines.append(
            t._('<a href="{url}">Read the fact check</a>', url=t.attribute(fact_check_url))
        )
    lines.append(t._("Thank you for sending it."))
    return fit_lines(lines, MESSAGE_LIMIT, t=t)
