"""ThreatExchange file-exchange lines: ``pdq <hex>``, one signal a line, as HMA banks share them.

python-threatexchange reads and writes these files (its local-file exchange: the signal type,
a space, the signal); ``threatexchange hash`` prints the same, and ``threatexchange dataset -P``
may put the collaboration's name first, quoted (``'Sample Data' pdq <hex>``), and metadata after;
``dataset -P --csv`` writes ``collab,signal_type,signal_str,category,tags``. All of these are
read: blank lines and ``#`` comments are passed over, the signal type is matched in any case,
and whatever follows the hash on a line is ignored.

Only ``pdq`` (a picture's PDQ, in ThreatExchange's bit order, which is Tipline's) becomes a
known item; every other signal type (``video_md5``, ``url``, ...) is refused by line. The lines
carry no verdict, so the import is given one for all of them; a CSV row whose opinion is
``NEGATIVE_CLASS`` (the collaboration says the hash is *not* what it lists) is refused rather
than given that verdict.
"""

from __future__ import annotations

import ast
import csv
import itertools
import re
from collections.abc import Iterator
from typing import TextIO

from checks.errors import InvalidInput
from checks.verdicts import Verdict
from storage.exchange.manifest import ManifestRow, not_utf8

__all__ = ["OTHER_SIGNAL_TYPES", "PDQ", "count_pytx", "looks_like_pytx", "read_pytx"]

PDQ = "pdq"
#: Signal types python-threatexchange names (``SignalType.get_name()``) other than PDQ:
#: recognised so that a line of one is refused as "not a picture PDQ", not as garbage.
OTHER_SIGNAL_TYPES = frozenset(
    {
        "clip",
        "md5",
        "pdq_ocr",
        "photo_md5",
        "raw_text",
        "text_md5",
        "tlsh",
        "trend_query",
        "url",
        "url_md5",
        "video_md5",
        "video_sha256",
        "video_tmk_pdqf",
    }
)
_CSV_COLUMNS = ("collab", "signal_type", "signal_str")
_NEGATIVE = "NEGATIVE_CLASS"
#: A collaboration's name as ``dataset -P`` prints it: a Python string literal, then space.
_COLLAB = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s+""")
_BARE_HASH = re.compile(r"[0-9a-fA-F]{32,64}")


def looks_like_pytx(first_line: str) -> bool:
    """Whether a file's first non-blank line is a signal line, a comment or the CSV header."""
    text = first_line.strip()
    if text.startswith("#") or _is_csv_header(text):
        return True
    _, rest = _collaboration(text)
    words = rest.split()
    if len(words) == 1:
        return _BARE_HASH.fullmatch(words[0]) is not None
    return bool(words) and words[0].lower() in (OTHER_SIGNAL_TYPES | {PDQ})


def read_pytx(
    handle: TextIO, verdict: Verdict, source: str | None = None
) -> Iterator[ManifestRow | InvalidInput]:
    """Each ``pdq`` signal as a manifest row with ``verdict``, or why a line is refused.

    ``source`` is every item's source; without it, a line's collaboration name is.
    """
    lines = (
        (n, text)
        for n, text in enumerate(handle, start=1)
        if text.strip() and not text.lstrip().startswith("#")
    )
    first = next(lines, None)
    if first is None:
        return
    if _is_csv_header(first[1].strip()):
        yield from _read_csv(first, lines, verdict, source)
        return
    for number, text in itertools.chain([first], lines):
        yield _read_line(number, text, verdict, source)


def count_pytx(handle: TextIO) -> int:
    """How many signal lines (or CSV rows) a file holds, for a progress bar's total."""
    count = 0
    for text in handle:
        stripped = text.strip()
        if stripped and not stripped.startswith("#") and not _is_csv_header(stripped):
            count += 1
    return count


def _is_csv_header(text: str) -> bool:
    return tuple(c.strip() for c in text.split(",")[:3]) == _CSV_COLUMNS


def _collaboration(text: str) -> tuple[str | None, str]:
    """The quoted collaboration name a line may start with, and the rest of the line."""
    match = _COLLAB.match(text)
    if match is None:
        return None, text
    try:
        name = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None, text
    return str(name), text[match.end() :]


def _read_line(
    number: int, text: str, verdict: Verdict, source: str | None
) -> ManifestRow | InvalidInput:
    where = f"line {number}"
    if (error := not_utf8(number, text)) is not None:
        return error
    collaboration, rest = _collaboration(text.strip())
    words = rest.split(None, 2)
    if len(words) < 2:
        if words and _BARE_HASH.fullmatch(words[0]):
            return InvalidInput(
                f"{where}: a hash without its signal type; write it as 'pdq {words[0]}'"
            )
        return InvalidInput(f"{where}: expected '<signal type> <hash>', e.g. 'pdq <64 hex>'")
    return _row(number, words[0], words[1], verdict, source or collaboration)


def _row(
    number: int, kind: str, signal: str, verdict: Verdict, source: str | None
) -> ManifestRow | InvalidInput:
    where = f"line {number}"
    kind = kind.strip().lower()
    if kind != PDQ:
        if kind in OTHER_SIGNAL_TYPES:
            return InvalidInput(
                f"{where}: signal type {kind} is not a picture's PDQ; only pdq lines are imported"
            )
        return InvalidInput(f"{where}: unknown signal type {kind!r}; only pdq lines are imported")
    values = {"pdq": signal, "verdict": verdict.value}
    if source:
        values["source"] = source
    return ManifestRow(number, values)


def _read_csv(
    first: tuple[int, str],
    lines: Iterator[tuple[int, str]],
    verdict: Verdict,
    source: str | None,
) -> Iterator[ManifestRow | InvalidInput]:
    """``threatexchange dataset -P --csv``: a row per signal and collaboration, with the
    collaboration's opinion (``category``)."""
    numbers: list[int] = []

    def texts() -> Iterator[str]:
        for number, text in lines:
            numbers.append(number)
            yield text

    columns = [name.strip() for name in next(csv.reader([first[1]]))]
    reader = csv.DictReader(texts(), fieldnames=columns)
    try:
        for row in reader:
            number = numbers[-1] if numbers else first[0]
            text = ",".join(v for v in row.values() if isinstance(v, str))
            if (error := not_utf8(number, text)) is not None:
                yield error
            elif _NEGATIVE in (row.get("category") or "").upper():
                yield InvalidInput(
                    f"line {number}: the collaboration's opinion is {_NEGATIVE} (this hash is "
                    "not what it lists); not imported"
                )
            else:
                collab = (row.get("collab") or "").strip() or None
                yield _row(
                    number,
                    row.get("signal_type") or "",
                    (row.get("signal_str") or "").strip(),
                    verdict,
                    source or collab,
                )
    except csv.Error as exc:
        raise InvalidInput(f"line {numbers[-1] if numbers else first[0]}: {exc}") from exc
