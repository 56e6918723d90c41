"""How fast ``tipline import`` reads the formats other fact-checkers use, beside the manifest.

Writes ``--rows`` random PDQ hashes as ThreatExchange signal lines (``pdq <hex>``, as an HMA
bank shares them, with a comment and collaboration names mixed in) and times
:func:`storage.exchange.import_manifest` (what the CLI runs, less its progress bar) on fresh
SQLite databases, ``--runs`` times; then exports those items as MediaReview JSON-LD and as a
JSON Lines manifest, and times importing each into fresh databases the same way. Medians are
quoted, each run's time is listed. Prints JSON.

    python bench/exchange_formats.py --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from checks.errors import InvalidInput
from checks.report import analyse
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage import open_storage
from storage.exchange import (
    ExportWriter,
    ImportOptions,
    count_records,
    draft_from_row,
    import_manifest,
    read_records,
)

#: Upper bound on --rows and --runs: a larger run belongs to a dedicated machine.
MAX_ROWS = 1_000_000
MAX_RUNS = 9


def fingerprint_of(data: bytes) -> Fingerprint:
    """What the CLI hashes a row's picture with (these rows have none)."""
    return analyse(data).fingerprint


def write_signal_lines(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("# bank export\n")
        for i in range(rows):
            prefix = "'Sample Data' " if i % 10 == 0 else ""
            out.write(f"{prefix}pdq {rng.randbytes(32).hex()}\n")


async def timed_import(db: Path, path: Path, options: ImportOptions) -> dict[str, float | int]:
    """One import into ``db`` (opened, and its index loaded, before the clock starts)."""
    storage = await open_storage(str(db))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        count_records(path, options)  # the CLI counts first, for its progress bar
        summary = await import_manifest(storage, path, fingerprint_of, options=options)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await storage.close()
    return {"seconds": seconds, "cpu_seconds": cpu, **summary.counts()}


def timed_reading(path: Path, options: ImportOptions) -> dict[str, float | int]:
    """The file read and every row checked into a draft, no database: the format's own cost."""
    started, cpu = time.perf_counter(), time.process_time()
    drafts = failed = 0
    for row in read_records(path, options):
        if isinstance(row, InvalidInput):
            failed += 1
            continue
        draft_from_row(row.values, path.parent, fingerprint_of)
        drafts += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "drafts": drafts, "failed": failed}


async def timed_export(db: Path, path: Path, fmt: str) -> float:
    storage = await open_storage(str(db))
    try:
        started = time.perf_counter()
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = ExportWriter(fmt, out)
            async for item in storage.iter_known_items():
                writer.write(item)
            writer.close()
        return time.perf_counter() - started
    finally:
        await storage.close()


def summary_of(runs: list[dict[str, float | int]], rows: int) -> dict[str, object]:
    """Medians of wall and CPU time (on a shared machine, CPU time is the steadier figure)."""
    seconds = [float(r["seconds"]) for r in runs]
    cpu = [float(r["cpu_seconds"]) for r in runs]
    median = statistics.median(seconds)
    last = {k: v for k, v in runs[-1].items() if k not in ("seconds", "cpu_seconds")}
    return {
        "median_seconds": round(median, 3),
        "median_rows_per_second": round(rows / median),
        "median_cpu_seconds": round(statistics.median(cpu), 3),
        "runs_seconds": [round(s, 3) for s in seconds],
        **last,
    }


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    numbers = itertools.count()

    def fresh_db() -> Path:
        return work / f"tipline-{next(numbers)}.db"

    lines = work / "bank.txt"
    write_signal_lines(lines, args.rows, args.seed)
    pytx = ImportOptions(verdict=Verdict.MISATTRIBUTED)
    result: dict[str, object] = {
        "rows": args.rows,
        "runs": args.runs,
        "pytx_file_megabytes": round(lines.stat().st_size / 2**20, 1),
    }
    result["pytx_read_only"] = summary_of(
        [timed_reading(lines, pytx) for _ in range(args.runs)], args.rows
    )
    pytx_runs = []
    for _ in range(args.runs):
        db = fresh_db()
        pytx_runs.append(await timed_import(db, lines, pytx))
    result["pytx_import"] = summary_of(pytx_runs, args.rows)
    result["pytx_reimport_unchanged"] = summary_of([await timed_import(db, lines, pytx)], args.rows)

    for fmt, name in (("mediareview", "known.jsonld"), ("jsonl", "known.jsonl")):
        target = work / name
        export_seconds = await timed_export(db, target, fmt)
        result[f"{fmt}_read_only"] = summary_of(
            [timed_reading(target, ImportOptions()) for _ in range(args.runs)], args.rows
        )
        runs = [await timed_import(fresh_db(), target, ImportOptions()) for _ in range(args.runs)]
        result[f"{fmt}_export_seconds"] = round(export_seconds, 3)
        result[f"{fmt}_file_megabytes"] = round(target.stat().st_size / 2**20, 1)
        result[f"{fmt}_import"] = summary_of(runs, args.rows)
    result["peak_rss_megabytes"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return result


def bounded(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"between 1 and {limit:,}")
        return value

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=bounded(MAX_ROWS), default=100_000)
    parser.add_argument("--runs", type=bounded(MAX_RUNS), default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tipline-exchange-") as work:
        result = asyncio.run(run(args, Path(work)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
