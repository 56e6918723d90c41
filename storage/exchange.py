"""The known-items exchange format: manifests in (CSV or JSON Lines), the same rows out.

Export writes exactly the columns import reads, so an export imports back unchanged into any
Tipline database. Rows are checked one by one: a bad row is an error with its line number,
never the end of the import. Good rows are saved in batches (one transaction each), so a
million-row manifest costs a few hundred statements rather than a million.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from checks.errors import InvalidInput, TiplineError, UnreadableFile
from checks.signals import Fingerprint, Pdq, Phash, Sha256
from checks.verdicts import Verdict
from storage.base import KnownItem, KnownItemDraft, Storage, UpsertResult
from storage.errors import Conflict, StorageError, StorageUnavailable
from storage.rows import KNOWN_ITEM_CONTENT, known_item_content

__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_FORMATS",
    "IMPORT_BATCH",
    "ExportWriter",
    "ImportSummary",
    "ManifestRow",
    "count_manifest_rows",
    "draft_from_row",
    "export_row",
    "import_manifest",
    "read_manifest",
]

#: Columns of an export, in order; an import reads these plus ``image``.
EXPORT_FIELDS = KNOWN_ITEM_CONTENT
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
    with _open_manifest(path) as handle:
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
    with _open_manifest(path) as handle:
        if _is_jsonl(path):
            return sum(1 for line in handle if line.strip())
        return sum(1 for _ in _read_csv(handle, path))


def _open_manifest(path: Path) -> TextIO:
    try:
        # Bytes that are not UTF-8 are kept as surrogates, so the line they are on is refused
        # by number rather than the whole import stopping at the first one.
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise UnreadableFile(f"cannot read manifest {path}: {exc.strerror or exc}") from exc


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in _JSONL_SUFFIXES


def _not_utf8(number: int, text: str) -> InvalidInput | None:
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
        if (error := _not_utf8(number, line)) is not None:
            yield error
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
        header = reader.fieldnames or []
        if (error := _not_utf8(1, "".join(header))) is not None:
            raise InvalidInput(f"{path.name} header: {error.message.removeprefix('line 1: ')}")
        _check_columns(header, f"{path.name} header")
        start = reader.line_num + 1
        for row in reader:
            error = _not_utf8(start, "".join(v for v in row.values() if isinstance(v, str)))
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
    return dict(zip(EXPORT_FIELDS, known_item_content(item.draft), strict=True))


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


# -- import -----------------------------------------------------------------------------------

#: Rows per transaction. Large enough to share a round trip and a commit among many rows, and
#: (SQLite) each index page a batch touches is written once per commit: at 200,000 items,
#: 5,000 rows a batch import a fifth faster than 1,000. Small enough that SQLite's write lock
#: is held for a fraction of a second and a refused batch is quick to redo row by row.
IMPORT_BATCH = 5_000
#: A batch that deadlocked with another writer (a moderator's verdict) is tried this often.
_ATTEMPTS = 3
#: Seconds between progress reports: often enough for a bar, rarely enough to cost nothing.
_PROGRESS_EVERY = 0.1


@dataclass(slots=True)
class ImportSummary:
    """What an import did: counts per outcome, and each failed row's line and reason."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    #: (position in the manifest, message) per failed row, in the order they were found.
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Messages for the failed rows (each starts with its line), in manifest order: a row
        the database refused is found after the rows read behind it."""
        return [message for _, message in sorted(self.failures, key=lambda f: f[0])]

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }

    def fail(self, position: int, message: str) -> None:
        self.failed += 1
        self.failures.append((position, message))

    def record(self, result: UpsertResult) -> None:
        if result.created:
            self.created += 1
        elif result.updated:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass(frozen=True, slots=True)
class _Pending:
    """A good row waiting for its batch."""

    position: int
    line: int
    draft: KnownItemDraft


@dataclass(frozen=True, slots=True)
class _Refused:
    """A row that could not be read or made into a draft."""

    position: int
    message: str


async def import_manifest(
    storage: Storage,
    path: Path,
    fingerprint_of: Analyser,
    *,
    batch_size: int = IMPORT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a manifest in batches; running it again changes nothing.

    Bad rows are counted and reported by line, and the rest go on. Each batch is committed on
    its own, so an outage loses at most the batch in flight (and running the import again
    finishes the job). ``progress`` is told how many more rows have been read.
    """
    summary = ImportSummary()
    pending: list[_Pending] = []
    unreported, last_report = 0, time.monotonic()
    for entry in _entries(path, fingerprint_of):
        unreported += 1
        if isinstance(entry, _Refused):
            summary.fail(entry.position, entry.message)
        else:
            pending.append(entry)
        if len(pending) >= batch_size:
            await _save(storage, pending, summary)
            pending = []
        if progress is not None and time.monotonic() - last_report >= _PROGRESS_EVERY:
            progress(unreported)
            unreported, last_report = 0, time.monotonic()
    if pending:
        await _save(storage, pending, summary)
    if progress is not None and unreported:
        progress(unreported)
    return summary


def _entries(path: Path, fingerprint_of: Analyser) -> Iterator[_Pending | _Refused]:
    """The manifest's rows as drafts, or why not. Reading and hashing pictures block the event
    loop, which an import has to itself."""
    base_dir = path.resolve().parent
    for position, row in enumerate(read_manifest(path)):
        if isinstance(row, InvalidInput):
            yield _Refused(position, row.message)
            continue
        try:
            draft = draft_from_row(row.values, base_dir, fingerprint_of)
        except InvalidInput as exc:
            yield _Refused(position, f"line {row.line}: {exc.message}")
        else:
            yield _Pending(position, row.line, draft)


async def _save(storage: Storage, batch: list[_Pending], summary: ImportSummary) -> None:
    """Save one batch; if the database refuses it, find the rows it refuses one by one."""
    drafts = [entry.draft for entry in batch]
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            results = await storage.upsert_known_items(drafts)
        except Conflict:
            if attempt == _ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * attempt)
        except StorageUnavailable:
            raise
        except (StorageError, InvalidInput) as exc:
            await _save_one_by_one(storage, batch, summary, exc)
            return
        else:
            for result in results:
                summary.record(result)
            return


async def _save_one_by_one(
    storage: Storage, batch: list[_Pending], summary: ImportSummary, cause: TiplineError
) -> None:
    """The batch's rows on their own, each refused one reported by line.

    If every row is refused, the fault is the database's rather than the rows': ``cause``
    is raised, as a single-row import would have stopped on its first row.
    """
    refused: list[tuple[_Pending, TiplineError]] = []
    for entry in batch:
        try:
            summary.record(await storage.upsert_known_item(entry.draft))
        except (StorageUnavailable, Conflict):
            raise
        except (StorageError, InvalidInput) as exc:
            refused.append((entry, exc))
    if len(refused) == len(batch):
        raise cause
    for entry, exc in refused:
        summary.fail(entry.position, f"line {entry.line}: {exc.message}")
