"""How closely Tipline's metadata extractor agrees with the ExifTool oracle, and what it costs.

Compares ``extract_metadata(...).to_oracle_dict()`` with ``expected-exiftool.json`` for every
file in the oracle, on the fields a verdict card relies on. A (file, field) pair counts when
either side has the field; strings are compared after trimming trailing spaces and NULs, GPS
within 1e-5 degrees. Two documented normalisations apply, and the raw ratio without them is
printed too:

* ``gps_zero_is_no_fix``: Tipline reports an exact 0,0 position as "no fix" (absent), by design.
* ``numeric_string``: ExifTool's JSON prints number-like strings as numbers ("1.00" -> 1.00),
  and the oracle stored them back as text ("1.0"); such strings are compared as numbers.

Also puts every damaged file through extraction (none may raise or be slow), and times
``extract_metadata`` and ``derive_findings`` on the corpus's large JPEGs next to the 1/8-scale
decode they sit beside. Prints one JSON document.

    python bench/metadata_agreement.py [--corpus ../shared/data] [--repeats 30]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from checks.findings import derive_findings
from checks.metadata import extract_metadata
from checks.signals import Pdq

ROOT = Path(__file__).resolve().parent.parent

FIELDS = (
    "make",
    "model",
    "software",
    "datetime_original",
    "gps_latitude",
    "gps_longitude",
    "has_thumbnail",
    "xmp_creator_tool",
    "iptc_caption",
)
GPS_FIELDS = ("gps_latitude", "gps_longitude")
GPS_TOLERANCE = 1e-5
TIMING_FOLDERS = ("exif-samples/hdr", "exif-samples/mobile", "phones-and-editors")
ROBUSTNESS_FOLDERS = ("malformed", "exif-samples/odd-exif")


def _trim(value: Any) -> Any:
    return value.rstrip(" \x00") if isinstance(value, str) else value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(field: str, oracle: Any, ours: Any) -> tuple[bool, str | None]:
    """(agree, normalisation used) for one pair; both already trimmed."""
    if oracle == ours:
        return True, None
    if field in GPS_FIELDS:
        a, b = _as_number(oracle), _as_number(ours)
        if a is not None and b is not None and not isinstance(oracle, str):
            return abs(a - b) <= GPS_TOLERANCE, None
        return False, None
    if isinstance(oracle, str) and isinstance(ours, str):
        a, b = _as_number(oracle), _as_number(ours)
        if a is not None and b is not None and a == b:
            return True, "numeric_string"
    return False, None


def _zero_fix(expected: dict[str, Any]) -> bool:
    return all(_as_number(expected.get(f)) == 0.0 for f in GPS_FIELDS)


def agreement(corpus: Path) -> dict[str, Any]:
    oracle: dict[str, dict[str, Any]] = json.loads(
        (corpus / "expected-exiftool.json").read_text(encoding="utf-8")
    )
    pairs = agreed = raw_agreed = 0
    normalised: dict[str, int] = {"gps_zero_is_no_fix": 0, "numeric_string": 0}
    per_field: dict[str, dict[str, int]] = {f: {"pairs": 0, "agree": 0} for f in FIELDS}
    disagreements: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for relative, expected in oracle.items():
        path = corpus / relative
        try:
            data = path.read_bytes()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = Image.open(io.BytesIO(data))
            ours = extract_metadata(image, data).to_oracle_dict()
        except Exception as exc:  # a bench reports every failure instead of stopping
            errors.append({"file": relative, "error": f"{type(exc).__name__}: {exc}"})
            continue
        zero_fix = _zero_fix(expected)
        for field in FIELDS:
            if field not in expected and field not in ours:
                continue
            pairs += 1
            per_field[field]["pairs"] += 1
            want, got = _trim(expected.get(field)), _trim(ours.get(field))
            ok, rule = _compare(field, want, got)
            raw_agreed += ok and rule is None
            if not ok and field in GPS_FIELDS and zero_fix and got is None:
                ok, rule = True, "gps_zero_is_no_fix"
            if ok:
                agreed += 1
                per_field[field]["agree"] += 1
                if rule:
                    normalised[rule] += 1
            else:
                disagreements.append(
                    {"file": relative, "field": field, "oracle": want, "ours": got}
                )
    return {
        "files": len(oracle),
        "pairs": pairs,
        "agree": agreed,
        "ratio": round(agreed / pairs, 4) if pairs else None,
        "raw_ratio_without_normalisation": round(raw_agreed / pairs, 4) if pairs else None,
        "normalised_pairs": normalised,
        "per_field": per_field,
        "disagreements": disagreements,
        "errors": errors,
    }


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _small_picture(data: bytes) -> Image.Image:
    """The picture as the pipeline hands it to the findings (see checks.decode): drafted to at
    least 256 px (1/8 scale for a camera JPEG), upright, RGB, at most 512 px long."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (256, 256))
    picture = ImageOps.exif_transpose(image).convert("RGB")
    picture.thumbnail((512, 512), Image.Resampling.BILINEAR)
    return picture


def timing(corpus: Path, repeats: int) -> dict[str, Any]:
    files = sorted(
        path
        for folder in TIMING_FOLDERS
        for path in (corpus / "images" / folder).iterdir()
        if path.suffix.lower() in (".jpg", ".jpeg")
    )
    rows = []
    for path in files:
        data = path.read_bytes()
        extract, findings, decode = [], [], []
        small = _small_picture(data)
        quality = Pdq.compute(small).quality
        for _ in range(repeats):
            image = Image.open(io.BytesIO(data))
            start = time.perf_counter()
            metadata = extract_metadata(image, data)
            extract.append(time.perf_counter() - start)
            start = time.perf_counter()
            derive_findings(metadata, small, pdq_quality=quality, file_size=len(data))
            findings.append(time.perf_counter() - start)
            start = time.perf_counter()
            _small_picture(data)
            decode.append(time.perf_counter() - start)
        width, height = Image.open(path).size
        rows.append(
            {
                "file": str(path.relative_to(corpus)),
                "megapixels": round(width * height / 1e6, 1),
                "extract_ms": _median_ms(extract),
                "findings_ms": _median_ms(findings),
                "decode_ms": _median_ms(decode),
            }
        )
    large = [row for row in rows if row["megapixels"] >= 5]
    return {
        "repeats": repeats,
        "files": rows,
        "median_extract_ms": statistics.median(r["extract_ms"] for r in rows),
        "median_findings_ms": statistics.median(r["findings_ms"] for r in rows),
        "median_decode_ms": statistics.median(r["decode_ms"] for r in rows),
        "large_files": len(large),
        "large_median_extract_ms": statistics.median(r["extract_ms"] for r in large),
        "large_median_findings_ms": statistics.median(r["findings_ms"] for r in large),
        "large_median_decode_ms": statistics.median(r["decode_ms"] for r in large),
    }


def robustness(corpus: Path) -> dict[str, Any]:
    """Every damaged file through extraction: none may raise, none may be slow."""
    files = sorted(
        path
        for folder in ROBUSTNESS_FOLDERS
        for path in (corpus / "images" / folder).rglob("*")
        if path.is_file()
    )
    opened = with_problems = 0
    slowest = (0.0, "")
    raised: list[dict[str, str]] = []
    for path in files:
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = Image.open(io.BytesIO(data))
        except Exception:  # refused by the decoder: never reaches metadata extraction
            continue
        opened += 1
        start = time.perf_counter()
        try:
            metadata = extract_metadata(image, data)
        except Exception as exc:  # must not happen; reported, not hidden
            raised.append({"file": str(path.relative_to(corpus)), "error": repr(exc)})
            continue
        elapsed = time.perf_counter() - start
        slowest = max(slowest, (elapsed, str(path.relative_to(corpus))))
        with_problems += bool(metadata.problems)
    return {
        "files": len(files),
        "opened_by_pillow": opened,
        "raised": raised,
        "with_problems": with_problems,
        "slowest_ms": round(slowest[0] * 1000, 3),
        "slowest_file": slowest[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=30, help="timing runs per file")
    parser.add_argument("--no-timing", action="store_true", help="agreement only")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "agreement": agreement(args.corpus),
        "robustness": robustness(args.corpus),
    }
    if not args.no_timing:
        report["timing"] = timing(args.corpus, args.repeats)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
