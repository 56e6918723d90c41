"""The import loop: rows of any import format saved in batches, one transaction each.

A million-row manifest costs a few hundred statements rather than a million; a batch the
database refuses is redone row by row so that only the bad rows fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from checks.errors import InvalidInput, TiplineError
from storage.base import KnownItemDraft, Storage, UpsertResult
from storage.errors import Conflict, StorageError, StorageUnavailable
from storage.exchange.formats import ImportFormat, ImportOptions, read_records, resolve_format
from storage.exchange.manifest import Analyser, draft_from_row

__all__ = ["IMPORT_BATCH", "ImportSummary", "import_manifest"]

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
    #: Where the row is, for messages: "line 12" (or "review 3" in a JSON-LD document).
    where: str
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
    options: ImportOptions | None = None,
    batch_size: int = IMPORT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a file in batches; running it again changes nothing.

    The file is a manifest, MediaReview JSON-LD or ThreatExchange lines (``options`` say which,
    or it is told from the file, and give the verdict those lines lack). Bad rows are counted
    and reported by line, and the rest go on. Each batch is committed on its own, so an outage
    loses at most the batch in flight (and running the import again finishes the job).
    ``progress`` is told how many more rows have been read.
    """
    summary = ImportSummary()
    pending: list[_Pending] = []
    unreported, last_report = 0, time.monotonic()
    for entry in _entries(path, fingerprint_of, options or ImportOptions()):
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


#: Who "recorded" an item imported from a hash bank (ThreatExchange lines).
BANK_AUTHOR = "import-bank"


def _entries(
    path: Path, fingerprint_of: Analyser, options: ImportOptions
) -> Iterator[_Pending | _Refused]:
    """The file's rows as drafts, or why not. Reading and hashing pictures block the event
    loop, which an import has to itself."""
    base_dir = path.resolve().parent
    # A hash bank's lines are shared under its collaboration's terms: they are recorded under
    # an author of their own, which the feed does not publish by default (imported
    # fact-checks, which are public, are).
    bank = resolve_format(path, options) is ImportFormat.PYTX
    for position, row in enumerate(read_records(path, options)):
        if isinstance(row, InvalidInput):
            yield _Refused(position, row.message)
            continue
        try:
            draft = draft_from_row(row.values, base_dir, fingerprint_of)
            if bank:
                draft = dataclasses.replace(draft, recorded_by=BANK_AUTHOR)
        except InvalidInput as exc:
            yield _Refused(position, f"{row.where}: {exc.message}")
        else:
            yield _Pending(position, row.where, draft)


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
        summary.fail(entry.position, f"{entry.where}: {exc.message}")
