"""Hard negatives for local-feature matching: different photographs that share much of a known
picture, which must never be ``certain``.

Made from corpus photos (``../shared/data/images``), each pair a known picture and a query, both
saved as JPEGs the way they would arrive:

- ``overlap``: two views of one scene, the left and right 65% (and top and bottom 65%);
- ``burst moved`` / ``burst person``: the same frame with a subject moved by 10-20% of the
  picture (the hole filled from its surroundings), or a person-sized patch of another photo in
  two places, plus camera shake (1-2% shift, 0.5 degree turn): the background is identical;
- ``stereo twin``: a foreground region shifted further than the background (parallax), a mild
  perspective change and another crop;
- ``poster`` / ``chessboard``: one planar print (a photo, a chessboard) warped into two
  different background photos in two poses.

Then every ordered pair of distinct corpus pictures: how many align at all, how many are
certain or similar, and the aligned pairs themselves (the same landmark, a burst by one camera).
Pictures that are one picture (PDQ within 31 at usable quality) are named and left out. Edited
copies of the same photos are measured alongside, so the margin between copies and hard
negatives is in one report. Prints JSON; every certain hard negative comes with its evidence.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from edit_recall import load_photos
from edits import EDITS, reencode
from PIL import Image, ImageOps

from checks.alignment import Alignment, align
from checks.local_features import KnownFeatures, QueryFeatures, describe_known, describe_query
from checks.matching import Confidence, local_confidence
from checks.signals import Pdq, hamming_hex

IMAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "images"
#: Folders scanned for real pairs of one scene (fuzzed files and AugLy copies left out).
SCAN_FOLDERS = (
    "photos",
    "exif-samples/cameras",
    "exif-samples/exif-org",
    "exif-samples/gps",
    "exif-samples/hdr",
    "exif-samples/mobile",
    "exif-samples/orientation",
    "exif-samples/odd-exif",
    "exif-samples/xmp",
    "phones-and-editors",
    "heic",
    "c2pa",
    "near-duplicates/augly/originals",
)
#: Pictures are made at most this many pixels on the long side (features use less).
WORK_SIDE = 1024
#: Copies of the same photos, measured for the margin.
COPIES = ("crop 25%", "crop 20% asymmetric", "screenshot", "padding 30%", "tilt 6°", "keystone")

Pair = tuple[Image.Image, Image.Image]
Maker = Callable[[np.ndarray, list[np.ndarray], random.Random], Pair]


def fit(image: Image.Image, side: int = WORK_SIDE) -> Image.Image:
    picture = image.convert("RGB")
    if max(picture.size) > side:
        scale = side / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    return picture


def received(picture: Image.Image | np.ndarray, quality: int) -> Image.Image:
    """The picture as it arrives: a JPEG of it, decoded."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    return Image.open(io.BytesIO(reencode(picture, quality=quality))).convert("RGB")


def textured_box(
    pixels: np.ndarray, size: tuple[float, float], rng: random.Random, lower: bool = False
) -> tuple[int, int, int, int]:
    """A box (x, y, w, h) of ``size`` (shares of width and height) over busy pixels: a subject
    is textured, and moving a patch of sky would test nothing."""
    height, width = pixels.shape[:2]
    w, h = round(width * size[0]), round(height * size[1])
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    best, best_score = (0, 0, w, h), -1.0
    for _ in range(12):
        x = rng.randint(0, width - w)
        y = rng.randint((height - h) // 2 if lower else 0, height - h)
        score = float(energy[y : y + h, x : x + w].mean())
        if score > best_score:
            best, best_score = (x, y, w, h), score
    return best


def ellipse(w: int, h: int) -> np.ndarray:
    """A soft-edged elliptical mask, 0..1: a subject's outline, not a rectangle."""
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, min(w, h) / 40))[:, :, None]


def paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Blend ``patch`` into ``canvas`` at (x, y) through an elliptical mask, in place."""
    h, w = patch.shape[:2]
    mask = ellipse(w, h)
    area = canvas[y : y + h, x : x + w].astype(np.float32)
    canvas[y : y + h, x : x + w] = (mask * patch + (1 - mask) * area).astype(np.uint8)


def move(pixels: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> np.ndarray:
    """The subject in ``box`` moved by (dx, dy); where it was, its surroundings fill in."""
    x, y, w, h = box
    hole = np.zeros(pixels.shape[:2], np.uint8)
    cv2.ellipse(hole, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    moved = cv2.inpaint(pixels, hole, 5, cv2.INPAINT_TELEA)
    paste(moved, pixels[y : y + h, x : x + w].astype(np.float32), x + dx, y + dy)
    return moved


def shift_within(start: int, length: int, total: int, share: float, rng: random.Random) -> int:
    """A shift of ``share`` of ``total`` either way that keeps [start, start+length) inside."""
    step = round(total * share)
    ways = [s for s in (step, -step) if start + s >= 0 and start + s + length <= total]
    return rng.choice(ways) if ways else 0


def window(
    pixels: np.ndarray, dx: float, dy: float, angle: float, margin: float = 0.03
) -> np.ndarray:
    """A camera's frame of the scene: turned by ``angle`` degrees, shifted by (dx, dy) shares,
    inside a ``margin`` so that shake never shows an edge."""
    height, width = pixels.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    turned = cv2.warpAffine(pixels, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
    left, top = round(width * (margin + dx)), round(height * (margin + dy))
    w, h = round(width * (1 - 2 * margin)), round(height * (1 - 2 * margin))
    return turned[top : top + h, left : left + w]


def shake(rng: random.Random) -> tuple[float, float, float]:
    """Small camera shake: 1-2% shift each way, a 0.5 degree turn."""
    return (
        rng.choice([-1, 1]) * rng.uniform(0.01, 0.02),
        rng.choice([-1, 1]) * rng.uniform(0.01, 0.02),
        rng.choice([-0.5, 0.5]),
    )


def overlap_sideways(pixels: np.ndarray, _others: list[np.ndarray], _rng: random.Random) -> Pair:
    width = pixels.shape[1]
    left, right = pixels[:, : round(width * 0.65)], pixels[:, round(width * 0.35) :]
    return received(left, 92), received(right, 80)


def overlap_upright(pixels: np.ndarray, _others: list[np.ndarray], _rng: random.Random) -> Pair:
    height = pixels.shape[0]
    top, bottom = pixels[: round(height * 0.65)], pixels[round(height * 0.35) :]
    return received(top, 92), received(bottom, 80)


def burst_moved(pixels: np.ndarray, _others: list[np.ndarray], rng: random.Random) -> Pair:
    height, width = pixels.shape[:2]
    box = textured_box(pixels, (rng.uniform(0.2, 0.3), rng.uniform(0.3, 0.45)), rng)
    dx = shift_within(box[0], box[2], width, rng.uniform(0.1, 0.2), rng)
    dy = shift_within(box[1], box[3], height, rng.uniform(0.0, 0.05), rng)
    later = move(pixels, box, dx, dy)
    return received(window(pixels, 0, 0, 0), 92), received(window(later, *shake(rng)), 80)


def burst_person(pixels: np.ndarray, others: list[np.ndarray], rng: random.Random) -> Pair:
    height, width = pixels.shape[:2]
    donor = cv2.resize(others[0], (width, height), interpolation=cv2.INTER_AREA)
    x, y, w, h = textured_box(donor, (rng.uniform(0.15, 0.25), rng.uniform(0.35, 0.5)), rng)
    person = donor[y : y + h, x : x + w].astype(np.float32)
    at_x, at_y = rng.randint(0, width - w), rng.randint((height - h) // 2, height - h)
    dx = shift_within(at_x, w, width, rng.uniform(0.1, 0.2), rng)
    first, later = pixels.copy(), pixels.copy()
    paste(first, person, at_x, at_y)
    paste(later, person, at_x + dx, at_y)
    return received(window(first, 0, 0, 0), 92), received(window(later, *shake(rng)), 80)


def _warp(pixels: np.ndarray, corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = pixels.shape[:2]
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(source, np.float32(corners))
    return cv2.warpPerspective(
        pixels, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def _crop(pixels: np.ndarray, rng: random.Random, most: float = 0.06) -> np.ndarray:
    height, width = pixels.shape[:2]
    left, right = (round(width * rng.uniform(0, most)) for _ in range(2))
    top, bottom = (round(height * rng.uniform(0, most)) for _ in range(2))
    return pixels[top : height - bottom, left : width - right]


def stereo_twin(pixels: np.ndarray, _others: list[np.ndarray], rng: random.Random) -> Pair:
    """The second eye: the foreground moves 5-9% of the width, the background 1-2%, the view
    turns a little (corners moved 2-4%) and the frame is cropped differently."""
    width = pixels.shape[1]
    box = textured_box(pixels, (rng.uniform(0.3, 0.45), rng.uniform(0.35, 0.55)), rng, lower=True)
    near = move(pixels, box, shift_within(box[0], box[2], width, rng.uniform(0.05, 0.09), rng), 0)
    far = window(near, rng.choice([-1, 1]) * rng.uniform(0.01, 0.02), 0, 0)
    h, w = far.shape[:2]
    jitter = [(rng.uniform(-1, 1) * 0.03 * w, rng.uniform(-1, 1) * 0.03 * h) for _ in range(4)]
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]]) + np.float32(jitter)
    other = _warp(far, corners, (w, h))
    return received(_crop(window(pixels, 0, 0, 0), rng), 92), received(_crop(other, rng), 80)


def chessboard(squares: tuple[int, int] = (9, 7), side: int = 64) -> np.ndarray:
    """A printed chessboard with a white margin of one square."""
    cols, rows = squares
    board = np.full(((rows + 2) * side, (cols + 2) * side, 3), 255, np.uint8)
    for r in range(rows):
        for c in range(cols):
            if (r + c) % 2 == 0:
                board[(r + 1) * side : (r + 2) * side, (c + 1) * side : (c + 2) * side] = 20
    return board


def pose(print_: np.ndarray, scene: np.ndarray, rng: random.Random) -> np.ndarray:
    """The print photographed in the scene: covering 30-60% of it, turned up to 12 degrees,
    one side further away than the other, under the scene's light."""
    height, width = scene.shape[:2]
    ph, pw = print_.shape[:2]
    scale = np.sqrt(rng.uniform(0.3, 0.6) * width * height / (pw * ph))
    scale = min(scale, 0.95 * width / pw, 0.95 * height / ph)
    w, h = pw * scale, ph * scale
    rect = np.float32([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    far = rng.randrange(4)
    squeeze = rng.uniform(0.05, 0.15)
    rect[far] *= 1 - squeeze
    rect[(far + 1) % 4] *= 1 - squeeze
    angle = np.radians(rng.uniform(-12, 12))
    turn = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = rect @ turn.T
    low, high = -quad.min(axis=0), np.float32([width, height]) - quad.max(axis=0)
    centre = np.float32(
        [rng.uniform(low[0], max(low[0], high[0])), rng.uniform(low[1], max(low[1], high[1]))]
    )
    quad = quad + centre
    lit = np.clip(print_.astype(np.float32) * rng.uniform(0.8, 1.05), 0, 255).astype(np.uint8)
    ink = _warp(lit, quad, (width, height))
    source = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    matrix = cv2.getPerspectiveTransform(source, quad)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, (width, height))[:, :, None]
    return (mask * ink + (1 - mask) * scene).astype(np.uint8)


def poster(pixels: np.ndarray, others: list[np.ndarray], rng: random.Random) -> Pair:
    return received(pose(pixels, others[0], rng), 92), received(pose(pixels, others[1], rng), 80)


def board(_pixels: np.ndarray, others: list[np.ndarray], rng: random.Random) -> Pair:
    printed = chessboard()
    return received(pose(printed, others[0], rng), 92), received(pose(printed, others[1], rng), 80)


KINDS: dict[str, Maker] = {
    "overlap left/right 65%": overlap_sideways,
    "overlap top/bottom 65%": overlap_upright,
    "burst moved subject": burst_moved,
    "burst pasted person": burst_person,
    "stereo twin": stereo_twin,
    "poster photo in two scenes": poster,
    "chessboard in two scenes": board,
}


def judge(known: KnownFeatures, query: QueryFeatures) -> tuple[Confidence, Alignment | None]:
    alignment = align(known, query)
    return (local_confidence(alignment) if alignment else Confidence.NONE), alignment


def evidence(alignment: Alignment) -> dict[str, object]:
    return asdict(alignment)


def summary(results: list[tuple[str, Confidence, Alignment | None]]) -> dict[str, object]:
    """Counts per tier, the evidence of every certain pair and of the similar pairs closest
    to certain, and the highest correlation and tile agreement among aligned pairs."""
    counts = Counter(confidence.value for _, confidence, _ in results)
    aligned = [(name, c, a) for name, c, a in results if a is not None]
    similar = sorted(
        ((name, a) for name, c, a in aligned if c is Confidence.SIMILAR),
        key=lambda item: (item[1].tiles_agreeing, item[1].correlation),
        reverse=True,
    )
    return {
        "pairs": len(results),
        "aligned": len(aligned),
        "certain": counts["certain"],
        "similar": counts["similar"],
        "none": counts["none"],
        "highest_correlation": max((a.correlation for _, _, a in aligned), default=None),
        "highest_tiles_agreeing": max((a.tiles_agreeing for _, _, a in aligned), default=None),
        "certain_evidence": [
            {"pair": name, **evidence(a)} for name, c, a in aligned if c is Confidence.CERTAIN
        ],
        "similar_closest": [{"pair": name, **evidence(a)} for name, a in similar[:3]],
    }


def hard_negatives(photos: list[tuple[str, Image.Image]], seed: int) -> dict[str, object]:
    arrays = [np.asarray(fit(image)) for _, image in photos]
    report = {}
    for kind, make in KINDS.items():
        rng = random.Random(f"{seed}:{kind}")
        results = []
        for i, (name, _) in enumerate(photos):
            others = [arrays[(i + 1) % len(arrays)], arrays[(i + 2) % len(arrays)]]
            known, query = make(arrays[i], others, rng)
            results.append((name, *judge(describe_known(known), describe_query(query))))
        report[kind] = summary(results)
    return report


def copies(photos: list[tuple[str, Image.Image]], seed: int) -> dict[str, object]:
    """Edited copies of the same photos: the other side of the margin."""
    report = {}
    for edit in COPIES:
        rng = random.Random(f"{seed}:{edit}")
        results = []
        for name, image in photos:
            picture = fit(image)
            query = received(EDITS[edit](picture, rng), rng.randint(70, 85))
            results.append(
                (name, *judge(describe_known(received(picture, 92)), describe_query(query)))
            )
        aligned = [a for _, _, a in results if a is not None]
        counts = Counter(c.value for _, c, _ in results)
        low = {
            field: min((getattr(a, field) for a in aligned), default=None)
            for field in ("inliers", "correlation", "tiles_agreeing", "tiles")
        }
        report[edit] = {
            "copies": len(results),
            **{tier.value: counts[tier.value] for tier in Confidence},
            "lowest_when_certain": {
                field: min(
                    (getattr(a, field) for _, c, a in results if c is Confidence.CERTAIN),
                    default=None,
                )
                for field in low
            },
        }
    return report


def load_corpus(folders: tuple[str, ...]) -> list[tuple[str, Image.Image]]:
    """Every decodable picture in ``folders``, upright and reduced, named by its path."""
    found = []
    for folder in folders:
        for path in sorted((IMAGES / folder).iterdir()):
            if not path.is_file():
                continue
            try:
                image = ImageOps.exif_transpose(Image.open(io.BytesIO(path.read_bytes())))
                found.append((f"{folder}/{path.name}", fit(image)))
            except (OSError, ValueError, SyntaxError):
                continue
    return found


def corpus_pairs(items: list[tuple[str, Image.Image]]) -> dict[str, object]:
    """Align every picture onto every other. Pairs within PDQ 31 (both usable) are one picture
    and are left out; the rest are distinct photographs and must never be certain."""
    hashes = {name: Pdq.hash_picture(image) for name, image in items}
    known = {name: describe_known(image) for name, image in items}
    queries = {name: describe_query(image) for name, image in items}
    same: list[tuple[str, str, int]] = []
    records = []
    times = []
    for a, _ in items:
        for b, _ in items:
            if a == b:
                continue
            (ha, qa), (hb, qb) = hashes[a], hashes[b]
            distance = hamming_hex(ha, hb)
            if distance <= Pdq.threshold and Pdq.usable(qa) and Pdq.usable(qb):
                if a < b:
                    same.append((a, b, distance))
                continue
            start = time.perf_counter()
            confidence, alignment = judge(known[a], queries[b])
            times.append(time.perf_counter() - start)
            if alignment is not None:
                records.append(
                    {
                        "known": a,
                        "query": b,
                        "pdq_distance": distance,
                        "pdq_usable": Pdq.usable(qa) and Pdq.usable(qb),
                        "confidence": confidence.value,
                        **evidence(alignment),
                    }
                )
    records.sort(key=lambda r: (r["confidence"] != "certain", -r["correlation"]))
    tiers = Counter(r["confidence"] for r in records)
    stored = [len(features.to_bytes()) for features in known.values()]
    return {
        "pictures": len(items),
        "stored_bytes_per_item": {"median": statistics.median(stored), "max": max(stored)},
        "ordered_pairs": len(times),
        "same_picture_left_out": [{"a": a, "b": b, "pdq_distance": d} for a, b, d in same],
        "aligned": len(records),
        "certain": tiers["certain"],
        "similar": tiers["similar"],
        "align_ms_median": round(statistics.median(times) * 1000, 2) if times else None,
        "aligned_pairs": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=30, help="hard negatives per kind")
    parser.add_argument("--photos", type=int, default=60, help="photos for all-pairs")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-scan", action="store_true", help="skip the whole-corpus scan")
    options = parser.parse_args()
    photos = load_photos(max(options.pairs, options.photos))
    report: dict[str, object] = {"work_side": WORK_SIDE, "seed": options.seed}
    report["hard_negatives"] = hard_negatives(photos[: options.pairs], options.seed)
    report["copies_for_margin"] = copies(photos[: options.pairs], options.seed)
    sixty = [(f"photos/{name}", fit(image)) for name, image in photos[: options.photos]]
    report["photos_all_pairs"] = corpus_pairs(sixty)
    if not options.no_scan:
        report["corpus_all_pairs"] = corpus_pairs(load_corpus(SCAN_FOLDERS))
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
