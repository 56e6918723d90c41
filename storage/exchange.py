"""The known-items exchange format: manifests in (CSV or JSON Lines), the same rows out.

Export writes exactly the columns import reads, so an export imports back unchanged into any
Tipline database. Rows are checked one by one: a bad row is an error with its line number,
never the end of the import.
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
from storage.base import KnownItem, KnownItemDraft

__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_FORMATS",
    "ExportWriter",
    "ManifestRow",
    "draft_from_row",
    "export_row",
    "read_manifest",
]

#: Columns of an export, in order; an import reads these plus ``image``.
EXPORT_FIELDS = (
    "sha256",
    "pdq",
    "pdq_quality",
    "phash",
    "verdict",
    "title",
    "note",
    "fact_check_url",
    "original_date",
    "original_place",
    "source",
)
IMPORT_FIELDS = frozenset((*EXPORT_FIELDS, "image"))
EXPORT_FORMATS = ("jsonl", "csv")
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One data row of a manifest, with the line it starts on (for error messages)."""

    line: int
    values: dict[str, str]


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
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise UnreadableFile(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    with handle:
        if path.suffix.lower() in _JSONL_SUFFIXES:
            yield from _read_jsonl(handle)
        else:
            yield from _read_csv(handle, path)


def _read_jsonl(handle: TextIO) -> Iterator[ManifestRow | InvalidInput]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InvalidInput(f"line {number}: not valid JSON ({exc.msg})")
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
        _check_columns(reader.fieldnames or [], f"{path.name} header")
        start = reader.line_num + 1
        for row in reader:
            if None in row:
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


def export_row(item: KnownItem) -> dict[str, str | int | None]:
    fp, draft = item.fingerprint, item.draft
    return {
        "sha256": fp.sha256,
        "pdq": fp.pdq,
        "pdq_quality": fp.pdq_quality,
        "phash": fp.phash,
        "verdict": draft.verdict.value,
        "title": draft.title,
        "note": draft.note,
        "fact_check_url": draft.fact_check_url,
        "original_date": draft.original_date,
        "original_place": draft.original_place,
        "source": draft.source,
    }


class ExportWriter:
    """Writes export rows one at a time, so a million items never sit in memory at once."""

    def __init__(self, fmt: str, out: TextIO) -> None:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(
                f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
            )
        self._out = out
        self._csv: csv.DictWriter[str] | None = None
        if fmt == "csv":
            self._csv = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            self._csv.writeheader()
        self.count = 0

    def write(self, item: KnownItem) -> None:
        row = export_row(item)
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        else:
            self._out.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1
