"""Per-picture cost of a check against plain Pillow decodes of the same files, side by side.

For every large JPEG in the corpus (>= 3 megapixels by default) it times, interleaved in one run:
a full-size decode, a 1/8-scale decode (``draft``), and the whole check (decode + hashes +
metadata + findings + lookup in a SQLite database of known items). Prints JSON with the
per-file medians and the ratios; the targets are check <= 0.5x full and <= 1.3x 1/8-scale.

It also times the least work libjpeg can do for a file, a 1/8-scale decode of luminance only:
every coefficient must still be Huffman-decoded to find the next block, so this ``floor`` is
what any check that looks at all of the picture's pixels costs at the very least.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from checks.report import analyse
from checks.verdicts import Verdict
from storage import open_storage
from storage.base import KnownItemDraft

ROOT = Path(__file__).resolve().parent.parent


def decode_full(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def decode_eighth(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()


def decode_floor(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (image.width // 8, image.height // 8))
        image.load()


def large_jpegs(images: Path, min_pixels: int) -> list[Path]:
    found = []
    for path in sorted(images.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg") or "malformed" in path.parts:
            continue
        with Image.open(path) as image:
            if image.width * image.height >= min_pixels:
                found.append(path)
    return found


async def run(args: argparse.Namespace) -> dict[str, object]:
    files = large_jpegs(args.data / "images", args.min_pixels)
    with tempfile.TemporaryDirectory() as tmp:
        storage = await open_storage(str(Path(tmp) / "bench.db"))
        # Known items made from the first files, so lookups run against a populated index.
        for path in files[: args.known]:
            fingerprint = analyse(path.read_bytes()).fingerprint
            await storage.upsert_known_item(
                KnownItemDraft(fingerprint=fingerprint, verdict=Verdict.MISATTRIBUTED)
            )

        def timed(fn: Callable[[], object]) -> float:
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1000

        rows = []
        for path in files:
            data = path.read_bytes()
            full, eighth, floor, check = [], [], [], []
            for _ in range(args.repeat):
                full.append(timed(lambda d=data: decode_full(d)))
                eighth.append(timed(lambda d=data: decode_eighth(d)))
                floor.append(timed(lambda d=data: decode_floor(d)))
                start = time.perf_counter()
                report = analyse(data)
                await storage.lookup(report.fingerprint)
                check.append((time.perf_counter() - start) * 1000)
            f, e, lo, c = (statistics.median(x) for x in (full, eighth, floor, check))
            rows.append(
                {
                    "file": str(path.relative_to(args.data)),
                    "megapixels": round(Image.open(path).width * Image.open(path).height / 1e6, 1),
                    "full_ms": round(f, 2),
                    "eighth_ms": round(e, 2),
                    "floor_ms": round(lo, 2),
                    "check_ms": round(c, 2),
                    "check_over_full": round(c / f, 3),
                    "check_over_eighth": round(c / e, 3),
                    "floor_over_full": round(lo / f, 3),
                }
            )
        await storage.close()
    over_full = [r["check_over_full"] for r in rows]
    over_eighth = [r["check_over_eighth"] for r in rows]
    return {
        "files": len(rows),
        "repeat": args.repeat,
        "known_items": min(args.known, len(files)),
        "median_full_ms": round(statistics.median(r["full_ms"] for r in rows), 2),
        "median_eighth_ms": round(statistics.median(r["eighth_ms"] for r in rows), 2),
        "median_floor_ms": round(statistics.median(r["floor_ms"] for r in rows), 2),
        "median_check_ms": round(statistics.median(r["check_ms"] for r in rows), 2),
        "median_check_over_full": statistics.median(over_full),
        "median_check_over_eighth": statistics.median(over_eighth),
        "median_floor_over_full": statistics.median(r["floor_over_full"] for r in rows),
        "files_with_floor_at_or_under_half_full": sum(r["floor_over_full"] <= 0.5 for r in rows),
        "max_check_over_full": max(over_full),
        "max_check_over_eighth": max(over_eighth),
        "targets": {"check_over_full": 0.5, "check_over_eighth": 1.3},
        "per_file": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--min-pixels", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--known", type=int, default=20)
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
