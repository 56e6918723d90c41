"""The date rule (``DATES_INCONSISTENT``): catch edits and bad clocks, not ordinary files.

A file is flagged for any of:

* taken (DateTimeOriginal, else CreateDate) more than a minute *after* last modified
  (ModifyDate): cameras write them together, so the order is only reversed by a tool that
  rewrote one of them;
* any of the three dates more than a day in the future (a day covers every time zone);
* taken and digitised (CreateDate) more than a day apart: normal for scanned film, otherwise a
  sign that one date was edited.

When both dates carry an EXIF offset (OffsetTime*), they are compared in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import Metadata

__all__ = ["dates_finding"]

_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_SLACK_ORDER = timedelta(minutes=1)
_SLACK_FUTURE = timedelta(days=1)
_SLACK_DIGITISED = timedelta(days=1)


def _parse_date(text: str | None, offset: str | None) -> datetime | None:
    """An EXIF date as a datetime (aware when an offset is given); None for blanks and zeros."""
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()))  # EXIF: local, zone unknown
    except ValueError:
        return None
    offset_match = _OFFSET.match(offset or "")
    if offset_match:
        sign = -1 if offset_match.group(1) == "-" else 1
        delta = timedelta(hours=int(offset_match.group(2)), minutes=int(offset_match.group(3)))
        moment = moment.replace(tzinfo=timezone(sign * delta))
    return moment


def _difference(later: datetime, earlier: datetime) -> timedelta:
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return later - earlier


def dates_finding(metadata: Metadata, now: datetime) -> Finding | None:
    exif = metadata.exif
    original = _parse_date(exif.datetime_original, exif.offset_time_original)
    digitised = _parse_date(exif.create_date, exif.offset_time_digitized)
    modified = _parse_date(exif.modify_date, exif.offset_time)
    taken, taken_text = original, exif.datetime_original
    if taken is None:
        taken, taken_text = digitised, exif.create_date
    # Which rules fired, and the dates (as the file writes them) that made them fire.
    params: dict[str, object] = {}
    reasons: list[str] = []
    if taken and modified and _difference(taken, modified) > _SLACK_ORDER:
        reasons.append("taken_after_modified")
        params.update(taken=taken_text, modified=exif.modify_date)
    # EXIF wall-clock times may be up to 14 h ahead of UTC; the day of slack covers that.
    utc_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    latest_possible = utc_now + _SLACK_FUTURE
    future = [
        text
        for text, moment in (
            (exif.datetime_original, original),
            (exif.create_date, digitised),
            (exif.modify_date, modified),
        )
        if moment and moment.replace(tzinfo=None) > latest_possible
    ]
    if future:
        reasons.append("future")
        params["future"] = future[0]
    if original and digitised and abs(_difference(original, digitised)) > _SLACK_DIGITISED:
        reasons.append("digitised_apart")
        params.update(original=exif.datetime_original, digitised=exif.create_date)
    if not reasons:
        return None
    return Finding(FindingCode.DATES_INCONSISTENT, Severity.NOTICE, {"reasons": reasons, **params})
