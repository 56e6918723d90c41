"""How fast ``tipline import`` loads a partner's database of known items, batched and row by row.

Writes ``--rows`` synthetic hash-only rows (random SHA-256, PDQ and pHash with a verdict) to a
temporary JSON Lines manifest and times :func:`storage.exchange.import_manifest`, what the CLI
runs, on fresh SQLite databases, and on PostgreSQL if one answers at ``--postgres`` (in
schemas of its own, dropped afterwards, so the tests' database is left as it was). In the same
run it times the row-by-row path the import used before (one ``upsert_known_item`` per row)
on the first ``--single-rows`` rows, and the batched path on those same rows, side by side.
Prints JSON.

    python bench/import_speed.py --rows 200000
    python bench/import_speed.py --rows 1000000 --single-rows 50000 --no-postgres
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg

from checks.errors import InvalidInput
from checks.report import analyse
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage import open_storage
from storage.base import KnownItemDraft, Storage
from storage.exchange import (
    IMPORT_BATCH,
    ImportSummary,
    count_manifest_rows,
    draft_from_row,
    import_manifest,
    read_manifest,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the throwaway PostgreSQL schema lives in the test suite

from tests.storage_backends import fresh_schema  # noqa: E402

#: Upper bound on --rows: a larger run belongs to a dedicated machine, not to this script.
MAX_ROWS = 2_000_000
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

Importer = Callable[[Storage, Path], Awaitable[ImportSummary]]
Measure = dict[str, float]


def fingerprint_of(data: bytes) -> Fingerprint:
    """What the CLI hashes a row's picture with (these rows have none)."""
    return analyse(data).fingerprint


def write_manifest(path: Path, rows: int, seed: int) -> None:
    """Hash-only rows, as a partner's export of debunked pictures would be."""
    rng = random.Random(seed)
    verdicts = [v.value for v in Verdict]
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            row = {
                "sha256": rng.randbytes(32).hex(),
                "pdq": rng.randbytes(32).hex(),
                "pdq_quality": str(rng.randint(50, 100)),
                "phash": rng.randbytes(8).hex(),
                "verdict": verdicts[i % len(verdicts)],
            }
            out.write(json.dumps(row) + "\n")


def head(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for _, line in zip(range(rows), lines, strict=False):
            out.write(line)


def drafts_of(path: Path) -> Iterator[KnownItemDraft | str]:
    """Each row's draft, or the message for a row that has none."""
    base_dir = path.resolve().parent
    for row in read_manifest(path):
        if isinstance(row, InvalidInput):
            yield row.message
            continue
        try:
            yield draft_from_row(row.values, base_dir, fingerprint_of)
        except InvalidInput as exc:
            yield f"line {row.line}: {exc.message}"


async def one_by_one(storage: Storage, path: Path) -> ImportSummary:
    """The import as it was before batching: the rows read into a list (for the progress
    bar's total), then each drafted and upserted on its own."""
    summary = ImportSummary()
    for position, entry in enumerate(list(drafts_of(path))):
        if isinstance(entry, str):
            summary.fail(position, entry)
        else:
            summary.record(await storage.upsert_known_item(entry))
    return summary


async def batched(storage: Storage, path: Path) -> ImportSummary:
    """The import as the CLI runs it now (less the progress bar)."""
    count_manifest_rows(path)
    return await import_manifest(storage, path, fingerprint_of)


async def timed(storage: Storage, importer: Importer, path: Path, rows: int) -> Measure:
    started = time.perf_counter()
    summary = await importer(storage, path)
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "us_per_row": round(seconds / rows * 1e6, 1),
        "rows_per_second": round(rows / seconds),
        **summary.counts(),
    }


async def postgres_problem(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except Exception as exc:  # any failure means "no server here"; the reason is reported
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def bench_backend(
    fresh: Callable[[], AbstractAsyncContextManager[str]],
    full: Path,
    subset: Path,
    args: argparse.Namespace,
) -> dict[str, object]:
    """Each measurement on a database of its own, opened (and its index loaded) untimed."""

    async def measure(importer: Importer, path: Path, rows: int, times: int) -> list[Measure]:
        async with fresh() as url:
            storage = await open_storage(url)
            try:
                return [await timed(storage, importer, path, rows) for _ in range(times)]
            finally:
                await storage.close()

    (single,) = await measure(one_by_one, subset, args.single_rows, 1)
    (same_rows,) = await measure(batched, subset, args.single_rows, 1)
    whole, again = await measure(batched, full, args.rows, 2)
    return {
        "single_row": single,
        "batched_same_rows": same_rows,
        "batched": whole,
        "reimport_unchanged": again,
        "speedup_same_rows": round(single["us_per_row"] / same_rows["us_per_row"], 1),
    }


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    full, subset = work / "manifest.jsonl", work / "subset.jsonl"
    started = time.perf_counter()
    write_manifest(full, args.rows, args.seed)
    head(full, subset, args.single_rows)
    result: dict[str, object] = {
        "rows": args.rows,
        "single_rows": args.single_rows,
        "batch_size": IMPORT_BATCH,
        "manifest_megabytes": round(full.stat().st_size / 2**20, 1),
        "generate_seconds": round(time.perf_counter() - started, 3),
    }
    numbers = itertools.count()

    @asynccontextmanager
    async def sqlite_file() -> AsyncIterator[str]:
        yield str(work / f"tipline-{next(numbers)}.db")

    result["sqlite"] = await bench_backend(sqlite_file, full, subset, args)
    if args.no_postgres:
        result["postgres"] = {"skipped": "--no-postgres"}
    elif problem := await postgres_problem(args.postgres):
        result["postgres"] = {"skipped": f"not reachable at {args.postgres} ({problem})"}
    else:
        result["postgres"] = await bench_backend(
            lambda: fresh_schema(args.postgres, prefix="tipline_bench_"), full, subset, args
        )
    result["peak_rss_megabytes"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return result


def bounded_rows(text: str) -> int:
    rows = int(text)
    if not 1 <= rows <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_ROWS:,}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=bounded_rows, default=200_000)
    parser.add_argument(
        "--single-rows",
        type=bounded_rows,
        default=20_000,
        help="rows imported one by one (the old path), and batched for comparison",
    )
    parser.add_argument("--postgres", default=POSTGRES_URL, metavar="URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.single_rows = min(args.single_rows, args.rows)
    with tempfile.TemporaryDirectory(prefix="tipline-import-") as work:
        result = asyncio.run(run(args, Path(work)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
