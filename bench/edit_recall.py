"""Recall on the copies that circulate, and false matches, measured through the real check.

Known items are made from corpus photos (``../shared/data/images/photos``); each is then edited
every way ``bench/edits.py`` knows (crop, padding, caption bar, screenshot, rotations, tilts,
keystone, mirror; each re-encoded as a platform would) and checked like a tip: analyse, then
look up in a SQLite database of the known items. Prints JSON: per edit, how many copies were
recognised as their own item (``certain`` and ``similar`` apart), missed, or matched to a
*wrong* item; photos that are not known, which must match nothing; and hard negatives, two
views of one scene that share only part of it (a different photograph of the same place),
which must never be ``certain``. A few corpus photos are one picture twice (a lossy and a
lossless WebP of one animation): a match between them is counted as right, and said so.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from edits import EDITS, reencode
from PIL import Image, ImageOps

from checks.assessment import Assessment
from checks.errors import InvalidInput
from checks.report import analyse
from checks.signals import Pdq, hamming_hex
from checks.verdicts import Verdict
from storage import KnownItemDraft, open_storage

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "images" / "photos"


def load_photos(limit: int) -> list[tuple[str, Image.Image]]:
    """Decodable corpus photos of at least 400 px on the short side, upright, in RGB."""
    found = []
    for path in sorted(PHOTOS.iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
            continue
        try:
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(path.read_bytes())))
            image = image.convert("RGB")
        except OSError:
            continue
        if min(image.size) >= 400:
            found.append((path.name, image))
        if len(found) >= limit:
            break
    return found


def other_views(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Two photographs of one scene that overlap in 30% of it: the left and right 65%."""
    w, h = image.size
    return image.crop((0, 0, round(w * 0.65), h)), image.crop((round(w * 0.35), 0, w, h))


def same_pictures(photos: list[tuple[str, Image.Image]]) -> dict[str, set[str]]:
    """Which corpus photos are one picture (the corpus holds a few: a lossy and a lossless
    WebP of one animation, two files of one photo): whole-frame PDQ within the threshold at
    usable quality. A photo's known item, and the known left view of it, count as its own."""
    hashes = {}
    for name, image in photos:
        fingerprint = analyse(reencode(image, quality=92, long_side=4096)).fingerprint
        hashes[name] = fingerprint
    twins = {name: {name, f"left of {name}"} for name in hashes}
    for a, fa in hashes.items():
        for b, fb in hashes.items():
            if (
                a != b
                and fa.pdq
                and fb.pdq
                and Pdq.usable(fa.pdq_quality)
                and Pdq.usable(fb.pdq_quality)
            ) and hamming_hex(fa.pdq, fb.pdq) <= Pdq.threshold:
                twins[a] |= {b, f"left of {b}"}
    return twins


async def run(
    known_count: int, negatives: int, seed: int, only: list[str] | None = None
) -> dict[str, object]:
    photos = load_photos(known_count + negatives)
    known, unknown = photos[:known_count], photos[known_count:]
    chosen = {name: EDITS[name] for name in only} if only else EDITS
    twins = same_pictures(photos)
    with tempfile.TemporaryDirectory() as folder:
        storage = await open_storage(str(Path(folder) / "known.db"))
        ids: dict[str, int] = {}
        drafts = []
        for name, image in known:
            fingerprint = analyse(
                reencode(image, quality=92, long_side=4096), known=True
            ).fingerprint
            drafts.append(KnownItemDraft(fingerprint, Verdict.MISATTRIBUTED, title=name))
        # Hard negatives: the left view is known, the right view is checked.
        views = [(name, *other_views(image)) for name, image in known[: max(1, known_count // 2)]]
        for name, left, _right in views:
            fingerprint = analyse(
                reencode(left, quality=92, long_side=4096), known=True
            ).fingerprint
            drafts.append(KnownItemDraft(fingerprint, Verdict.STAGED, title=f"left of {name}"))
        for result in await storage.upsert_known_items(drafts):
            ids[result.item.title] = result.item.id

        costs: list[float] = []

        async def check(data: bytes) -> Assessment | None:
            start = time.perf_counter()
            try:
                report = analyse(data)
            except InvalidInput:
                return None
            assessment = Assessment.of(report, await storage.lookup(report.fingerprint))
            costs.append(time.perf_counter() - start)
            return assessment

        per_edit: dict[str, Counter[str]] = {}
        kinds: dict[str, Counter[str]] = {}
        for edit_name, edit in chosen.items():
            # Each edit draws from its own generator: one edit's copies are the same whichever
            # other edits are measured with it.
            rng = random.Random(f"{seed}:{edit_name}")
            tally: Counter[str] = Counter()
            seen: Counter[str] = Counter()
            for name, image in known:
                assessment = await check(reencode(edit(image, rng), quality=rng.randint(70, 85)))
                best = assessment.best if assessment else None
                found = assessment.matches if assessment else ()
                own = [m for m in found if m.title in twins[name]]
                wrong = [m for m in found if m.title not in twins[name]]
                if wrong:
                    tally["wrong"] += 1
                if best is not None and own and best.item_id == own[0].item_id:
                    tally[best.confidence.value] += 1
                    seen[best.kind.value] += 1
                elif not own:
                    tally["missed"] += 1
                else:
                    tally["own_not_first"] += 1
            per_edit[edit_name] = tally
            kinds[edit_name] = seen

        false_matches = corpus_twins = 0
        for name, image in unknown:
            assessment = await check(reencode(image, quality=80))
            found = assessment.matches if assessment else ()
            false_matches += any(m.title not in twins[name] for m in found)
            corpus_twins += bool(found) and all(m.title in twins[name] for m in found)
        hard: Counter[str] = Counter()
        for name, _left, right in views:
            # The right view is a crop of its own photo (known too, and rightly found): only
            # what it says about the left view, the other photograph, counts here.
            assessment = await check(reencode(right, quality=80))
            if assessment is None:
                hard["error"] += 1
                continue
            other = [m for m in assessment.matches if m.title == f"left of {name}"]
            hard[other[0].confidence.value if other else "none"] += 1
        await storage.close()

    def row(tally: Counter[str]) -> dict[str, object]:
        n = len(known)
        recognised = tally["certain"] + tally["similar"]
        return {
            "certain": tally["certain"],
            "similar": tally["similar"],
            "missed": tally["missed"] + tally["own_not_first"],
            "wrong_item": tally["wrong"],
            "recall": round(recognised / n, 3),
            "certain_recall": round(tally["certain"] / n, 3),
        }

    return {
        "known_items": len(known) + len(views),
        "copies_per_edit": len(known),
        "edits": {name: {**row(t), "kinds": dict(kinds[name])} for name, t in per_edit.items()},
        "unknown_photos": len(unknown),
        "unknown_photos_matched": false_matches,
        "unknown_photos_matching_their_corpus_twin": corpus_twins,
        "hard_negatives": {"pairs": len(views), **dict(hard)},
        "check_ms": {
            "median": round(statistics.median(costs) * 1000, 2),
            "p95": round(statistics.quantiles(costs, n=20)[-1] * 1000, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--known", type=int, default=60, help="corpus photos made known items")
    parser.add_argument("--negatives", type=int, default=60, help="photos left unknown")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--edit", action="append", choices=sorted(EDITS), help="measure only this edit (repeat)"
    )
    options = parser.parse_args()
    result = run(options.known, options.negatives, options.seed, options.edit)
    print(json.dumps(asyncio.run(result), indent=1))


if __name__ == "__main__":
    main()
