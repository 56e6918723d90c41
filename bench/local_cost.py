"""What local features add to a check, with many known items: time, memory, storage.

Known items: corpus photos (features from the pictures, as at import) among synthetic
distractors whose descriptors are real ORB descriptors of corpus photos, shuffled between
items and lightly perturbed (so the index's cells fill as they would with real pictures, but
no distractor is a picture). Queries: edited copies of the known photos (crop, screenshot,
tilt, keystone, asymmetric crop) and photos that are not known. Each query is checked twice
in one run, side by side: global hashes only, then with local features (decode for features,
ORB, candidate retrieval, alignment of each candidate). Prints JSON.

    python bench/local_cost.py --items 100000
    python bench/local_cost.py --items 1000000 --queries 20
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from edit_recall import load_photos  # noqa: E402
from edits import EDITS, reencode  # noqa: E402
from PIL import Image  # noqa: E402

from checks.alignment import align  # noqa: E402
from checks.local_features import (  # noqa: E402
    KNOWN_FEATURES,
    THUMB,
    Keypoints,
    KnownFeatures,
    describe_known,
)
from checks.matching import judge_alignment, local_confidence  # noqa: E402
from checks.report import analyse  # noqa: E402
from storage.feature_index import FeatureIndex  # noqa: E402

QUERY_EDITS = ("crop 25%", "screenshot", "tilt 4°", "keystone", "crop 20% asymmetric")
#: Bits flipped in each borrowed descriptor of a distractor.
NOISE_BITS = 12


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def held_mb() -> float:
    """Memory the process holds now (resident set), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def descriptor_pool(photos: list[tuple[str, Image.Image]]) -> np.ndarray:
    """Real ORB descriptors: of every photo, whole and at two crops."""
    pool = []
    for _, image in photos:
        w, h = image.size
        for box in ((0, 0, w, h), (0, 0, w * 2 // 3, h * 2 // 3), (w // 3, h // 3, w, h)):
            pool.append(describe_known(image.crop(box)).keypoints.descriptors)
    return np.concatenate(pool)


def distractors(pool: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count * KNOWN_FEATURES, 32) descriptors, borrowed from the pool and perturbed."""
    total = count * KNOWN_FEATURES
    out = pool[rng.integers(0, len(pool), size=total)]
    rows = np.arange(total)
    for _ in range(NOISE_BITS):
        bits = rng.integers(0, 256, size=total)
        out[rows, bits // 8] ^= (1 << (bits % 8)).astype(np.uint8)
    return out


def distractor_record(descriptors: np.ndarray, rng: np.random.Generator) -> bytes:
    """What the database would hold for a distractor: its descriptors, random places."""
    points = rng.uniform(0, 500, size=(len(descriptors), 2)).astype(np.float32)
    thumb = rng.integers(0, 256, size=(THUMB, THUMB), dtype=np.uint8)
    return KnownFeatures(Keypoints(points, descriptors, (500, 375)), thumb).to_bytes()


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "median": round(statistics.median(ms), 2),
        "p95": round(statistics.quantiles(ms, n=20)[-1], 2) if len(ms) > 1 else round(ms[0], 2),
    }


def run(items: int, queries: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    photos = load_photos(139)
    known, unknown = photos[:queries], photos[queries : queries + queries // 2]
    pool = descriptor_pool(photos[queries:])  # distractors never borrow a known photo's
    records: dict[int, bytes] = {}
    for item_id, (_, image) in enumerate(known):
        fingerprint = analyse(reencode(image, quality=92, long_side=4096), known=True).fingerprint
        assert fingerprint.known_features is not None
        records[item_id] = fingerprint.known_features
    stored = [len(r) for r in records.values()]
    start = time.perf_counter()
    noise = distractors(pool, items, rng)
    ids = np.arange(items) + len(known)
    entries = [
        (int(i), noise[n * KNOWN_FEATURES : (n + 1) * KNOWN_FEATURES]) for n, i in enumerate(ids)
    ]
    entries += [(i, KnownFeatures.from_bytes(r).keypoints.descriptors) for i, r in records.items()]
    made = time.perf_counter() - start
    before, peak_before = held_mb(), peak_mb()
    start = time.perf_counter()
    index = FeatureIndex.build(entries)
    built = time.perf_counter() - start
    del entries
    memory = held_mb() - before
    build_peak = max(0.0, peak_mb() - peak_before)

    global_only, full, retrieval, verification, candidates = [], [], [], [], []
    found: dict[str, list[str]] = {name: [] for name in (*QUERY_EDITS, "not known")}
    cases = [(e, i, image) for i, (_, image) in enumerate(known) for e in [QUERY_EDITS[i % 5]]]
    cases += [("not known", None, image) for _, image in unknown]
    for edit, own, image in cases:
        picture = image if own is None else EDITS[edit](image, pick)
        data = reencode(picture, quality=pick.randint(70, 85))
        start = time.perf_counter()
        analyse(data, local=False)
        global_only.append(time.perf_counter() - start)
        start = time.perf_counter()
        query = analyse(data).fingerprint.local
        assert query is not None
        asked = time.perf_counter()
        found_ids = index.candidates(query.keypoints.descriptors)
        middle = time.perf_counter()
        best = "none"
        for item_id in found_ids:
            record = records.get(item_id) or distractor_record(
                noise[(item_id - len(known)) * KNOWN_FEATURES :][:KNOWN_FEATURES], rng
            )
            alignment = align(KnownFeatures.from_bytes(record), query)
            if alignment and judge_alignment(alignment) and item_id == own:
                best = local_confidence(alignment).value
            elif alignment and judge_alignment(alignment):
                best = "wrong item"
        end = time.perf_counter()
        full.append(end - start)
        retrieval.append(middle - asked)
        verification.append(end - middle)
        candidates.append(len(found_ids))
        found[edit].append(best)

    added = [f - g for f, g in zip(full, global_only, strict=True)]
    return {
        "distractor_items": items,
        "known_items": len(known),
        "descriptors": index.descriptors,
        "index_build_s": round(built, 1),
        "distractors_made_s": round(made, 1),
        "index_held_mb": round(memory),
        "index_bytes_per_item": round(memory * 2**20 / (items + len(known))),
        "build_peak_extra_mb": round(build_peak),
        "stored_bytes_per_item": {"median": statistics.median(stored), "max": max(stored)},
        "check_global_only_ms": summary(global_only),
        "check_with_local_ms": summary(full),
        "added_ms": summary(added),
        "retrieval_ms": summary(retrieval),
        "alignment_ms": summary(verification),
        "candidates_per_query": {
            "median": statistics.median(candidates),
            "max": max(candidates),
        },
        "outcome": {
            edit: {v: outcomes.count(v) for v in sorted(set(outcomes))}
            for edit, outcomes in found.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="synthetic distractors")
    parser.add_argument("--queries", type=int, default=40, help="known photos (one copy each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.items, args.queries, args.seed), indent=2))


if __name__ == "__main__":
    main()
