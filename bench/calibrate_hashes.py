"""Distances between pictures of the corpus: the evidence behind the hash thresholds.

Positives are AugLy's copies of ``dfdc_1.jpg``; negatives are every pair of other corpus
files. Prints JSON: the positive distances (whole frame, mirror, and the nearest of the
query's views: its other turns and flips and its picture inside a frame), a histogram of the
negative distances, every negative pair close enough to need a human look (same scene or
not), and the negative pairs whose nearest *view* comes within the PDQ threshold (each view
is one more chance of a false match).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path

from checks.errors import InvalidInput
from checks.report import analyse
from checks.signals import Fingerprint, Pdq, hamming_hex

ROOT = Path(__file__).resolve().parent.parent


def fingerprints(images: Path) -> dict[str, Fingerprint]:
    out: dict[str, Fingerprint] = {}
    for path in sorted(images.rglob("*")):
        if not path.is_file() or "malformed" in path.parts:
            continue
        try:
            out[str(path.relative_to(images))] = analyse(path.read_bytes()).fingerprint
        except InvalidInput:
            continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--near-pdq", type=int, default=40, help="list negatives within this")
    parser.add_argument("--near-phash", type=int, default=12, help="list negatives within this")
    args = parser.parse_args()
    fps = fingerprints(args.data / "images")
    original = fps["near-duplicates/augly/originals/dfdc_1.jpg"]
    positives = {}
    for name, fp in fps.items():
        if "/transformed/" in name:
            assert fp.pdq and fp.pdq_mirrored and fp.phash and original.pdq and original.phash
            positives[Path(name).name] = {
                "pdq": hamming_hex(original.pdq, fp.pdq),
                "pdq_mirrored": hamming_hex(original.pdq, fp.pdq_mirrored),
                "phash": hamming_hex(original.phash, fp.phash),
                "nearest_view": min(
                    ((hamming_hex(original.pdq, v.pdq), v.kind) for v in fp.views),
                    default=None,
                ),
            }
    others = [n for n in fps if "/transformed/" not in n]
    pdq_hist: Counter[int] = Counter()
    phash_hist: Counter[int] = Counter()
    near = []
    for a, b in itertools.combinations(others, 2):
        fa, fb = fps[a], fps[b]
        if fa.sha256 == fb.sha256:
            continue
        assert fa.pdq and fb.pdq and fa.phash and fb.phash
        d_pdq, d_phash = hamming_hex(fa.pdq, fb.pdq), hamming_hex(fa.phash, fb.phash)
        pdq_hist[d_pdq] += 1
        phash_hist[d_phash] += 1
        if d_pdq <= args.near_pdq or d_phash <= args.near_phash:
            near.append(
                {
                    "a": a,
                    "b": b,
                    "pdq": d_pdq,
                    "phash": d_phash,
                    "quality": [fa.pdq_quality, fb.pdq_quality],
                }
            )
    near.sort(key=lambda r: (r["phash"], r["pdq"]))
    view_hits = []
    for a, b in itertools.permutations(others, 2):
        fa, fb = fps[a], fps[b]
        if fa.sha256 == fb.sha256 or not fb.pdq:
            continue
        for view in fa.views:
            distance = hamming_hex(view.pdq, fb.pdq)
            if distance <= Pdq.threshold:
                view_hits.append({"query": a, "view": view.kind, "known": b, "pdq": distance})
    print(
        json.dumps(
            {
                "files": len(fps),
                "negative_pairs": sum(pdq_hist.values()),
                "positives": positives,
                "negative_phash_histogram": dict(sorted(phash_hist.items())),
                "negative_pdq_histogram_low": {
                    k: v for k, v in sorted(pdq_hist.items()) if k <= 48
                },
                "near_negative_pairs": near,
                "negative_view_hits": view_hits,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
