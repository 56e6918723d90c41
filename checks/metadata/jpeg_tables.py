"""JPEG quantization tables: an ExifTool-comparable quality estimate and an IJG-standard test.

Cameras ship their own tables; libjpeg (and so most servers, messengers and apps) scales the
IJG standard tables of JPEG Annex K by the quality setting. Tables that are exactly a scaled IJG
pair therefore say "re-encoded by ordinary software", one half of a platform fingerprint.

The estimate reproduces ExifTool's ``JPEGQualityEstimate`` (itself ImageMagick's heuristic): the
reference hash and sum for each quality are derived here from the IJG tables rather than copied,
and the file's hash is taken, as ExifTool takes it, from the tables in stored (zigzag) order.
"""

from __future__ import annotations

from functools import cache

from PIL import Image

from checks.metadata.model import JpegQuantization

__all__ = [
    "IJG_CHROMINANCE",
    "IJG_LUMINANCE",
    "estimate_quality",
    "ijg_quality",
    "read_quantization",
    "reference_thresholds",
    "scaled_table",
]

#: JPEG Annex K tables K.1 and K.2, natural (row-major) order.
IJG_LUMINANCE: tuple[int, ...] = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
IJG_CHROMINANCE: tuple[int, ...] = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32,
)  # fmt: skip

#: Natural index of the coefficient stored at each zigzag position.
_ZIGZAG: tuple[int, ...] = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip

_QUALITIES = range(1, 101)


def scaled_table(base: tuple[int, ...], quality: int) -> tuple[int, ...]:
    """libjpeg's ``jpeg_quality_scaling`` applied to ``base``, clamped to baseline 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(max((value * scale + 50) // 100, 1), 255) for value in base)


@cache
def reference_thresholds(colour: bool) -> tuple[tuple[int, int], ...]:
    """(hash, sum) of the scaled IJG tables for qualities 1..100: ImageMagick's reference rows.

    The hash adds four coefficients (luminance 2 and 53, chrominance 0 and 63, natural order);
    the sum adds every coefficient of the tables.
    """
    rows = []
    for quality in _QUALITIES:
        lum = scaled_table(IJG_LUMINANCE, quality)
        hash_value, total = lum[2] + lum[53], sum(lum)
        if colour:
            chrom = scaled_table(IJG_CHROMINANCE, quality)
            hash_value += chrom[0] + chrom[63]
            total += sum(chrom)
        rows.append((hash_value, total))
    return tuple(rows)


def estimate_quality(tables: tuple[tuple[int, ...], ...]) -> int | None:
    """ExifTool's JPEGQualityEstimate for tables given in natural order (table id order)."""
    tables = tables[:4]
    if not tables or any(len(table) != 64 for table in tables):
        return None
    first = tables[0]
    total = sum(sum(table) for table in tables)
    # ExifTool indexes the stored (zigzag) sequence: positions 2 and 53, then 0 and 63.
    hash_value = first[_ZIGZAG[2]] + first[_ZIGZAG[53]]
    colour = len(tables) > 1
    if colour:
        hash_value += tables[1][_ZIGZAG[0]] + tables[1][_ZIGZAG[63]]
    for index, (ref_hash, ref_sum) in enumerate(reference_thresholds(colour)):
        if hash_value < ref_hash and total < ref_sum:
            continue
        if (hash_value <= ref_hash and total <= ref_sum) or index >= 50:
            return index + 1
        return None
    return None


@cache
def _luminance_by_table() -> dict[tuple[int, ...], int]:
    # Highest quality first, so where two qualities clamp to the same table the higher wins.
    return {scaled_table(IJG_LUMINANCE, q): q for q in reversed(_QUALITIES)}


def ijg_quality(tables: tuple[tuple[int, ...], ...]) -> int | None:
    """The IJG quality whose scaled standard tables these exactly are, else None."""
    if not tables:
        return None
    quality = _luminance_by_table().get(tables[0])
    if quality is None:
        return None
    chroma = scaled_table(IJG_CHROMINANCE, quality)
    return quality if all(table == chroma for table in tables[1:]) else None


def read_quantization(image: Image.Image) -> JpegQuantization | None:
    """The tables Pillow read from the DQT segments at open (JPEG and MPO only)."""
    raw = getattr(image, "quantization", None)
    if not isinstance(raw, dict) or not raw:
        return None
    tables = tuple(tuple(int(v) for v in raw[key]) for key in sorted(raw))
    return JpegQuantization(
        tables=tables, quality_estimate=estimate_quality(tables), ijg_quality=ijg_quality(tables)
    )
