"""Reading a manifest (CSV or JSON Lines) and checking each row into a known-item draft.

Rows are checked one by one: a bad row is an error with its line number, never the end of the
import.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from checks.errors import InvalidInput, UnreadableFile
from checks.signals import Fingerprint, Pdq, Phash, Sha256
from checks.verdicts import Verdict
from storage.base import KnownItemDraft
from storage.rows import KNOWN_ITEM_CONTENT

__all__ = [
    "EXPORT_FIELDS",
    "IMPORT_FIELDS",
    "Analyser",
    "ManifestRow",
    "count_manifest_rows",
    "draft_from_row",
    "not_utf8",
    "open_manifest",
    "read_manifest",
]

#: Columns of an export, in order; an import reads these plus ``image``.
EXPORT_FIELDS = KNOWN_ITEM_CONTENT
IMPORT_FIELDS = frozenset((*EXPORT_FIELDS, "image"))
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One data row of a manifest, with the line it starts on (for error messages)."""

    line: int
    values: dict[str, str]
    #: Where the row is, for messages, when its line alone does not say ("review 3").
    label: str = ""

    @property
    def where(self) -> str:
        return self.label or f"line {self.line}"


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _check_columns(columns: Iterable[str], where: str) -> None:
    unknown = sorted(set(columns) - IMPORT_FIELDS)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown column(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(IMPORT_FIELDS))}"
        )


def read_manifest(path: Path) -> Iterator[ManifestRow | InvalidInput]:
    """Yield each row, or an :class:`InvalidInput` naming the line for a row that can't be read.

    An unreadable file or a CSV header with unknown columns raises at once: nothing sensible
    can be imported from it, and a misspelt column would otherwise lose data silently.
    """
    with open_manifest(path) as handle:
        if _is_jsonl(path):
            yield from _read_jsonl(handle)
        else:
            yield from _read_csv(handle, path)


def count_manifest_rows(path: Path) -> int:
    """How many items :func:`read_manifest` will yield, for a progress bar's total.

    Cheaper than reading the rows (a JSON Lines file is only split into lines), so the rows
    need not be held in memory to be counted. A CSV file that cannot be parsed raises here,
    before anything is imported.
    """
    with open_manifest(path) as handle:
        if _is_jsonl(path):
            return sum(1 for line in handle if line.strip())
        return sum(1 for _ in _read_csv(handle, path))


def open_manifest(path: Path) -> TextIO:
    """Open a file to import (any format Tipline reads) as UTF-8 text, lines untranslated."""
    try:
        # Bytes that are not UTF-8 are kept as surrogates, so the line they are on is refused
        # by number rather than the whole import stopping at the first one.
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise UnreadableFile(f"cannot read manifest {path}: {exc.strerror or exc}") from exc


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in _JSONL_SUFFIXES


def not_utf8(number: int, text: str) -> InvalidInput | None:
    """The error for a line whose bytes are not UTF-8 (read with ``surrogateescape``)."""
    bad = next((ord(c) - 0xDC00 for c in text if "\udc80" <= c <= "\udcff"), None)
    if bad is None:
        return None
    return InvalidInput(
        f"line {number}: not UTF-8 text (byte 0x{bad:02x}); save the manifest as UTF-8"
    )


def _read_jsonl(handle: TextIO) -> Iterator[ManifestRow | InvalidInput]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        if (error := not_utf8(number, line)) is not None:
            yield error
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InvalidInput(f"line {number}: not valid JSON ({exc.msg})")
            continue
        except RecursionError:
            yield InvalidInput(f"line {number}: JSON nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield InvalidInput(f"line {number}: expected a JSON object, got {type(obj).__name__}")
            continue
        unknown = sorted(set(obj) - IMPORT_FIELDS)
        if unknown:
            yield InvalidInput(f"line {number}: unknown field(s) {', '.join(unknown)}")
            continue
        yield ManifestRow(number, {k: _text(v) for k, v in obj.items()})


def _read_csv(handle: TextIO, path: Path) -> Iterator[ManifestRow | InvalidInput]:
    reader = csv.DictReader(handle)
    try:
        header = reader.fieldnames or []
        if (error := not_utf8(1, "".join(header))) is not None:
            raise InvalidInput(f"{path.name} header: {error.message.removeprefix('line 1: ')}")
        _check_columns(header, f"{path.name} header")
        start = reader.line_num + 1
        for row in reader:
            error = not_utf8(start, "".join(v for v in row.values() if isinstance(v, str)))
            if error is not None:
                yield error
            elif None in row:
                yield InvalidInput(f"line {start}: more values than columns")
            elif any(v is not None and v.strip() for v in row.values()):
                yield ManifestRow(start, {k: _text(v) for k, v in row.items()})
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"{path.name} line {reader.line_num}: {exc}") from exc


def _optional(values: dict[str, str], key: str) -> str | None:
    return values.get(key) or None


def _quality(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        quality = int(raw)
    except ValueError:
        raise InvalidInput(f"pdq_quality must be a whole number, got {raw!r}") from None
    if not 0 <= quality <= 100:
        raise InvalidInput(f"pdq_quality must be between 0 and 100, got {quality}")
    return quality


def _url(raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"fact_check_url must be an http(s) address, got {raw!r}")
    return raw


Analyser = Callable[[bytes], Fingerprint]


def draft_from_row(
    values: dict[str, str], base_dir: Path, fingerprint_of: Analyser
) -> KnownItemDraft:
    """Turn a manifest row into a draft, or raise ``InvalidInput`` saying what is wrong.

    ``image`` is read relative to the manifest's folder and hashed by ``fingerprint_of``; hash
    columns given beside it must agree with the picture.
    """
    verdict = Verdict.parse(values.get("verdict", ""))
    sha256 = _optional(values, "sha256")
    pdq = _optional(values, "pdq")
    phash = _optional(values, "phash")
    quality = _quality(_optional(values, "pdq_quality"))
    image = _optional(values, "image")
    if image:
        path = (base_dir / image).resolve()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnreadableFile(f"cannot read image {image}: {exc.strerror or exc}") from exc
        computed = fingerprint_of(data)
        if sha256 and Sha256.validate(sha256) != computed.sha256:
            raise InvalidInput(f"sha256 in the row does not match the picture {image}")
        given = Fingerprint(
            sha256=computed.sha256,
            pdq=computed.pdq,
            pdq_quality=computed.pdq_quality,
            phash=computed.phash,
            known_features=computed.known_features,
        )
    else:
        if not (sha256 or pdq or phash):
            raise InvalidInput("a row needs an image or at least one of sha256, pdq, phash")
        given = Fingerprint(
            sha256=Sha256.validate(sha256) if sha256 else None,
            pdq=Pdq.validate(pdq) if pdq else None,
            pdq_quality=quality if pdq else None,
            phash=Phash.validate(phash) if phash else None,
        )
    return KnownItemDraft(
        fingerprint=given,
        verdict=verdict,
        title=values.get("title", ""),
        note=values.get("note", ""),
        fact_check_url=_url(_optional(values, "fact_check_url")),
        original_date=_optional(values, "original_date"),
        original_place=_optional(values, "original_place"),
        source=_optional(values, "source"),
        recorded_by="import",
    )
