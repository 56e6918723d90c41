"""How fast the near-duplicate index answers, at a newsroom-sized database and beyond.

Builds an index of random PDQ / pHash items (with planted near-duplicates, so lookups
find things), times ``candidates()`` per query in three passes (the tail over all look-ups,
and the tail of each query's median), and does the same by brute force on a sample of the
queries, checking both give the same answer. Also times ``pdq_candidates`` with 12 hashes a call
(a picture's transforms and reframings), and how fast the machine read memory at random
before and after, in a child process (``random_read_ns``). Prints JSON.

    python bench/index_lookup.py --items 1000000 --queries 1000
    python bench/index_lookup.py --items 10000000 --clustered
    python bench/index_lookup.py --items 10000000 --clustered --full-tail
    python bench/index_lookup.py --items 1000000 --from-sqlite /tmp/tipline-1m.db

``--full-tail`` builds the index from all but the last items, then adds those as the most
recent additions the index holds outside its main tables before it rebuilds them, and
measures lookups there (``full_tail``); adds one item more, which starts the rebuild, and
times that call and the lookups made while the rebuild runs (``rebuild``); then measures
again with nothing outside the main tables (the top-level figures). It works with an index
that rebuilds in the call that adds (it then has no ``wait``), as the index once did.

``--from-sqlite`` instead measures opening a SQLite database and loading its index (filling
the file through the storage API first if it holds fewer items: slow, once).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from checks.matching import Candidate
from checks.signals import Fingerprint, Pdq, Phash
from checks.verdicts import Verdict
from storage import FingerprintBatch, KnownItemDraft, NearDuplicateIndex, SqliteStorage

#: Share of items that are near-duplicates of an earlier item (clusters, as in real data).
PLANTED = 0.02
#: Share of items whose PDQ quality is too low to decide alone.
LOW_QUALITY = 0.05
#: Items per picture with ``--clustered``.
CLUSTER = 100


def random_words(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    return np.frombuffer(rng.bytes(rows * width * 8), dtype=np.uint64).reshape(rows, width).copy()


def flip_many(rng: np.random.Generator, words: np.ndarray, most: int) -> None:
    """Flip between 0 and ``most`` random bits of each row of ``words`` (n, w), in place."""
    rows, width = words.shape
    counts = rng.integers(0, most + 1, size=rows)
    everything = np.arange(rows)
    for j in range(most):  # a bit drawn twice flips back: "up to" ``most``
        pick = everything[counts > j]
        bits = rng.integers(0, width * 64, size=len(pick))
        words[pick, bits // 64] ^= np.uint64(1) << (bits % 64).astype(np.uint64)


def flip_bits(rng: np.random.Generator, words: np.ndarray, most: int) -> np.ndarray:
    """A copy of ``words`` (w,) with between 0 and ``most`` random bits flipped."""
    out = words.copy()
    bits = words.size * 64
    for bit in rng.choice(bits, size=int(rng.integers(0, most + 1)), replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def to_hex(words: np.ndarray) -> str:
    return words.astype(">u8").tobytes().hex()


def make_items(rng: np.random.Generator, count: int, clustered: bool = False) -> FingerprintBatch:
    """Random items; the last PLANTED share are near copies of earlier ones.

    ``clustered``: every item is a near copy (0-20 PDQ bits, 0-4 pHash bits flipped) of one of
    ``count / CLUSTER`` pictures, as when a few pictures circulate in many versions.
    """
    if clustered:
        bases = max(1, count // CLUSTER)
        source = rng.integers(0, bases, size=count)
        pdq = random_words(rng, bases, 4)[source]
        phash = random_words(rng, bases, 1)[source]
        flip_many(rng, pdq, 20)
        flip_many(rng, phash, Phash.threshold)
    else:
        pdq, phash = random_words(rng, count, 4), random_words(rng, count, 1)
        planted = int(count * PLANTED)
        source = rng.integers(0, count - planted, size=planted)
        pdq[count - planted :] = pdq[source]
        phash[count - planted :] = phash[source]
        flip_many(rng, pdq[count - planted :], Pdq.threshold)
        flip_many(rng, phash[count - planted :], Phash.threshold)
    quality = rng.integers(Pdq.min_quality, 101, size=count).astype(np.int16)
    quality[rng.random(count) < LOW_QUALITY] = 20
    present = np.ones(count, dtype=bool)
    return FingerprintBatch(
        ids=np.arange(1, count + 1, dtype=np.int64),
        pdq=pdq,
        has_pdq=present,
        pdq_quality=quality,
        phash=phash,
        has_phash=present,
    )


def make_queries(
    rng: np.random.Generator, items: FingerprintBatch, count: int
) -> list[Fingerprint]:
    """A mix: near copies, identical files, mirrors, and pictures not in the index (the
    identical file's SHA-256 is the database's to find; here it counts by its hashes)."""
    queries = []
    for i in range(count):
        row = int(rng.integers(0, len(items)))
        pdq, phash = items.pdq[row], items.phash[row]
        kind = ("near", "identical", "mirrored", "miss", "near")[i % 5]
        mirror = random_words(rng, 1, 4)[0], random_words(rng, 1, 1)[0]
        if kind == "mirrored":
            mirror = flip_bits(rng, pdq, Pdq.threshold), flip_bits(rng, phash, 8)
        if kind in ("mirrored", "miss"):
            pdq, phash = random_words(rng, 1, 4)[0], random_words(rng, 1, 1)[0]
        elif kind == "near":
            pdq, phash = flip_bits(rng, pdq, Pdq.threshold), flip_bits(rng, phash, 8)
        queries.append(
            Fingerprint(
                pdq=to_hex(pdq),
                pdq_quality=90,
                phash=to_hex(phash),
                pdq_mirrored=to_hex(mirror[0]),
                phash_mirrored=to_hex(mirror[1]),
            )
        )
    return queries


def timings(
    lookup: Callable[[Fingerprint], list[Candidate]],
    queries: list[Fingerprint],
    keep: int,
    passes: int = 1,
) -> tuple[dict[str, object], list[list[Candidate]], list[int]]:
    """Each look-up timed, over ``passes`` passes through the queries; the answers to the
    first ``keep`` queries (to check against brute force), and how many candidates each
    query had.

    The other answers are dropped, as a bot drops them once judged: a thousand kept answers
    would make the collector's passes over them (0.6 ms each, seven in a thousand look-ups)
    part of the times. With several passes, the tail of each query's median time is printed
    too: a query that is slow in itself is slow in every pass, while a stall of the machine
    (a shared one has them) lands on one pass of one query.
    """
    times, cpu, answers, counts = [], [], [], []
    for round_ in range(passes):
        for query in queries:
            started, started_cpu = time.perf_counter(), time.thread_time()
            found = lookup(query)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            times.append((time.perf_counter() - started) * 1000)
            if round_ == 0:
                counts.append(len(found))
                if len(answers) < keep:
                    answers.append(found)
    result: dict[str, object] = {"queries": len(queries), "passes": passes}
    result.update(summarise(times, cpu))
    if passes > 1:
        each = sorted(statistics.median(times[i :: len(queries)]) for i in range(len(queries)))
        result["each_query_median"] = {"p95_ms": share(each, 0.95), "p99_ms": share(each, 0.99)}
    return result, answers, counts


def summarise(times: list[float], cpu: list[float]) -> dict[str, float]:
    """Median and tail of wall-clock times, and of the CPU time the thread used: on a shared
    machine the gap between the two is time spent waiting for a core."""
    times, cpu = sorted(times), sorted(cpu)
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": share(times, 0.95),
        "p99_ms": share(times, 0.99),
        "max_ms": round(times[-1], 3),
        "cpu_median_ms": round(statistics.median(cpu), 3),
        "cpu_p99_ms": share(cpu, 0.99),
    }


def share(ordered: list[float], fraction: float) -> float:
    """The value that ``fraction`` of the sorted ``ordered`` lie at or under (nearest rank)."""
    return round(ordered[int(fraction * (len(ordered) - 1))], 3)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def pdq_words(query: Fingerprint) -> np.ndarray:
    assert query.pdq is not None
    return np.frombuffer(bytes.fromhex(query.pdq), dtype=">u8").astype(np.uint64)


def bench_pdq_batch(
    index: NearDuplicateIndex, rng: np.random.Generator, queries: list[Fingerprint], brute: int
) -> dict[str, object]:
    """``pdq_candidates`` with 12 hashes a call (hex in, as a query's views come): the query's
    PDQ and 11 variants (flipped bits)."""
    if not hasattr(index, "pdq_candidates"):
        return {}
    batches = []
    for query in queries:
        base = pdq_words(query)
        batch = np.tile(base, (12, 1))
        flip_many(rng, batch[1:], 40)
        batches.append(batch)
    times, cpu, answers = [], [], []
    for batch in batches:
        hexes = [to_hex(words) for words in batch]
        started, started_cpu = time.perf_counter(), time.thread_time()
        found = index.pdq_candidates(hexes)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        times.append((time.perf_counter() - started) * 1000)
        if len(answers) < brute:  # the rest dropped, as in timings()
            answers.append(found)
    agree = True
    live = index.live()
    for batch, found in zip(batches[:brute], answers, strict=True):
        for words, candidates in zip(batch, found, strict=True):
            d = np.bitwise_count(live.pdq ^ words).sum(axis=1)
            hit = (d <= Pdq.threshold) & live.has_pdq
            truth = dict(zip(live.ids[hit].tolist(), d[hit].tolist(), strict=True))
            agree &= truth == {c.item_id: c.pdq_distance for c in candidates}
    return {
        "calls": len(batches),
        **summarise(times, cpu),
        "same_answers": bool(agree),
        "brute_force_checked_calls": min(brute, len(batches)),
    }


def answer_key(found: list[Candidate]) -> set[tuple[object, ...]]:
    return {(c.item_id, c.mirrored, c.pdq_distance, c.phash_distance) for c in found}


def measure(
    index: NearDuplicateIndex,
    rng: np.random.Generator,
    queries: list[Fingerprint],
    brute_queries: int,
) -> dict[str, object]:
    """Lookups timed, the first ``brute_queries`` also by brute force, and the memory."""
    fast, answers, counts = timings(index.candidates, queries, brute_queries, passes=3)
    slow, truth, _ = timings(index.candidates_brute_force, queries[:brute_queries], brute_queries)
    agree = all(answer_key(a) == answer_key(b) for a, b in zip(answers, truth, strict=True))
    return {
        "items": len(index),
        "layout": layout_of(index),
        "index_megabytes": round(index.nbytes / 2**20, 1),  # MiB, as every "megabytes" here
        "index_bytes": index.nbytes,
        "multi_index": fast,
        "brute_force": slow,
        "same_answers": agree,
        "queries_with_candidates": round(sum(c > 0 for c in counts) / len(counts), 3),
        "mean_candidates": round(statistics.mean(counts), 2),
        "pdq_candidates_12": bench_pdq_batch(index, rng, queries[:200], brute=5),
    }


def largest_tail(items: int) -> int:
    """How many of ``items`` can be recent additions outside the main tables, at most: a
    ``tail_fraction``th of the rest, or ``min_tail`` (the defaults of this index and of the
    one before it, which rebuilt in the call that passed that bound)."""
    defaults = NearDuplicateIndex()
    fraction, least = defaults._tail_fraction, defaults._min_tail
    tail = min(items, max(least, items // (fraction + 1)))
    while tail > max(least, (items - tail) // fraction):
        tail -= 1
    return tail


def layout_of(index: NearDuplicateIndex) -> dict[str, object]:
    """Where the index keeps its items (for one without ``layout``: its tables' slots and the
    rest, compared whole)."""
    layout = getattr(index, "layout", None)
    if layout is not None:
        return dict(layout)
    return {"main": index._built, "tail": index._n - index._built}


def fill_tail(index: NearDuplicateIndex, rest: FingerprintBatch) -> dict[str, object]:
    """Add ``rest`` as recent additions: all but the last ``tail_limit`` first (then waits
    for the tables built over them), those last (compared whole until the next build)."""
    wait = getattr(index, "wait", None)
    started = time.perf_counter()
    if wait is None:
        index.add_batch(rest)
    else:
        whole = min(index.tail_limit, len(rest))
        index.add_batch(rest.take(np.arange(len(rest) - whole)))
        wait()
        index.add_batch(rest.take(np.arange(len(rest) - whole, len(rest))))
    return {"added": len(rest), "add_and_build_seconds": round(time.perf_counter() - started, 3)}


def bench_rebuild(
    index: NearDuplicateIndex,
    extra: FingerprintBatch,
    queries: list[Fingerprint],
    most_seconds: float = 120,
) -> dict[str, object]:
    """Add ``extra``, which starts the rebuild of the main tables, and time that call, then
    lookups while the rebuild runs (at most ``most_seconds``), then the rest of the rebuild."""
    before = len(index)
    started = time.perf_counter()
    index.add_batch(extra)
    added = time.perf_counter() - started
    layout = getattr(index, "layout", None)
    during: dict[str, object] | None = None
    if layout is not None and layout.get("building"):
        times, cpu, until = [], [], time.perf_counter() + most_seconds
        while index.layout["building"] and time.perf_counter() < until:
            for query in queries[:100]:
                lookup, lookup_cpu = time.perf_counter(), time.thread_time()
                index.candidates(query)
                cpu.append((time.thread_time() - lookup_cpu) * 1000)
                times.append((time.perf_counter() - lookup) * 1000)
        during = {"queries": len(times), **summarise(times, cpu)} if times else None
    waited = time.perf_counter()
    getattr(index, "wait", lambda: None)()
    return {
        "add_call_seconds": round(added, 3),
        "lookups_while_rebuilding": during,
        "rebuild_seconds": round(time.perf_counter() - started, 3),
        "left_after_lookups_seconds": round(time.perf_counter() - waited, 3),
        "nothing_lost": len(index) == before + len(extra)
        and all(int(i) in index for i in extra.ids.tolist()),
    }


#: Run in a child process, so that its gibibyte counts in no figure of this one.
_GAUGE = """
import time, numpy as np
words = np.ones(2**27, dtype=np.uint64)
picks = np.random.default_rng(0).integers(0, len(words), size=(15, 100_000))
times = []
for row in picks:
    started = time.perf_counter()
    words.take(row)
    times.append(time.perf_counter() - started)
print(round(sorted(times)[7] / 100_000 * 1e9, 2))
"""


def random_read_ns() -> float:
    """How fast this machine reads memory at random just now: ns per 8-byte word gathered
    from 1 GiB (median of 15 gathers of 100,000). A look-up at 10 million items is mostly
    such reads, and on a shared machine their speed drifts by tens of percent within an
    hour: read the look-up times beside this figure from the same run."""
    done = subprocess.run([sys.executable, "-c", _GAUGE], capture_output=True, check=True)
    return float(done.stdout)


def bench_index(args: argparse.Namespace) -> dict[str, object]:
    gauge_before = random_read_ns()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    items = make_items(rng, args.items, args.clustered)
    made = time.perf_counter() - started
    queries = make_queries(rng, items, args.queries)
    tail = largest_tail(len(items)) if args.full_tail else 0
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    index = NearDuplicateIndex.from_batches([items.take(np.arange(len(items) - tail))])
    build = time.perf_counter() - started
    gc.collect()
    built_rss = round(rss_mb() - before, 1)
    build_peak = round(peak_rss_mb() - before, 1)
    result: dict[str, object] = {
        "items": args.items,
        "clustered": args.clustered,
        "make_items_seconds": round(made, 1),
        "build_seconds": round(build, 3),
        "index_rss_delta_megabytes": built_rss,
        "build_peak_over_start_megabytes": build_peak,
    }
    if args.full_tail:
        filled = fill_tail(index, items.take(np.arange(len(items) - tail, len(items))))
        result["full_tail"] = {**filled, **measure(index, rng, queries, args.brute_queries)}
        extra = dataclasses.replace(make_items(rng, 1), ids=np.array([args.items + 1]))
        result["rebuild"] = bench_rebuild(index, extra, queries)
    # What every instance's refresh does after a partner re-imports a fifth of the database.
    again = items.take(np.arange(min(len(items), 200_000)))
    started = time.perf_counter()
    assert index.add_batch(again) == 0
    result["readd_200k_unchanged_seconds"] = round(time.perf_counter() - started, 3)
    del items, again
    gc.collect()
    result.update(measure(index, rng, queries, args.brute_queries))
    result["peak_rss_megabytes"] = peak_rss_mb()
    result["random_read_ns"] = {"before": gauge_before, "after": random_read_ns()}
    return result


async def bench_sqlite_load(args: argparse.Namespace) -> dict[str, object]:
    path = Path(args.from_sqlite)
    storage = await SqliteStorage.open(path)
    try:
        have = await storage.count_known_items()
        if have < args.items:
            rng = np.random.default_rng(args.seed)
            started = time.perf_counter()
            batch = make_items(rng, args.items - have)
            for row in range(len(batch)):
                fp = Fingerprint(
                    sha256=to_hex(random_words(rng, 1, 4)[0]),
                    pdq=to_hex(batch.pdq[row]),
                    pdq_quality=int(batch.pdq_quality[row]),
                    phash=to_hex(batch.phash[row]),
                )
                draft = KnownItemDraft(fp, Verdict.MISATTRIBUTED, title=f"item {row}")
                await storage.upsert_known_item(draft)
                if row % 100_000 == 0:
                    print(f"filled {have + row} items", file=sys.stderr)
            print(f"filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        await storage.close()
    del storage  # so the timed load does not share memory with the filling one
    started = time.perf_counter()
    storage = await SqliteStorage.open(path)
    load = time.perf_counter() - started
    try:
        count = len(storage.index)
    finally:
        await storage.close()
    return {
        "database": str(path),
        "items": count,
        "open_and_load_seconds": round(load, 3),
        "peak_rss_megabytes": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--brute-queries", type=int, default=50, help="queries also run by brute force"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--clustered", action="store_true", help="near copies of few pictures (1 per 100 items)"
    )
    parser.add_argument(
        "--full-tail",
        action="store_true",
        help="also measure with the most recent additions outside the main tables, and rebuild",
    )
    parser.add_argument("--from-sqlite", metavar="PATH", help="measure loading from a database")
    args = parser.parse_args()
    result = asyncio.run(bench_sqlite_load(args)) if args.from_sqlite else bench_index(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
