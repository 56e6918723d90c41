"""pHash-64 (imagehash): a second opinion, and the fallback when PDQ quality is low."""

from __future__ import annotations

from typing import ClassVar

import imagehash
from PIL import Image

from checks.signals.base import HashKind

__all__ = ["PHASH_THRESHOLD", "Phash"]

#: Largest distance (of 64 bits) counted as the same picture. Calibrated on ../shared/data:
#: see docs/calibration.md for the distances behind this number.
PHASH_THRESHOLD = 4


class Phash(HashKind):
    """DCT hash of a 32x32 greyscale thumbnail, 64 bits."""

    name: ClassVar[str] = "phash"
    bits: ClassVar[int] = 64
    threshold: ClassVar[int] = PHASH_THRESHOLD
    examples: ClassVar[tuple[str, str]] = (
        "a6d98ee10c5b8c5e",
        "a6d98ee10c5b8c5e",
    )

    @classmethod
    def compute(cls, image: Image.Image) -> str:
        return str(imagehash.phash(image, hash_size=8))
