"""PDQ: Meta's 256-bit perceptual hash, with its quality score and a mirrored twin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pdqhash
from PIL import Image

from checks.signals.base import HashKind

__all__ = ["PDQ_MIN_QUALITY", "PDQ_THRESHOLD", "Pdq", "PdqResult"]

#: Meta's reference operating point (PDQ paper and ThreatExchange): distance <= 31 of 256 bits.
PDQ_THRESHOLD = 31
#: Below this quality the hash of a flat or tiny picture says little; pHash takes over.
PDQ_MIN_QUALITY = 50


@dataclass(frozen=True, slots=True)
class PdqResult:
    """A picture's PDQ, the PDQ of its left-right mirror, and the quality of both."""

    hash: str
    mirrored: str
    quality: int


def _three_channels(image: Image.Image) -> np.ndarray:
    """pdqhash wants three channels and takes their luminance: grey ones give it back."""
    if image.mode == "L":
        return np.repeat(np.asarray(image)[:, :, np.newaxis], 3, axis=2)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _bits_to_hex(bits: np.ndarray) -> str:
    # ThreatExchange's convention: bit 0 of pdqhash's vector is the most significant.
    packed = np.packbits(bits.astype(np.uint8))
    return packed.tobytes().hex()


class Pdq(HashKind):
    """Robust to resizing, re-encoding, colour and light edits; not to crops or rotation."""

    name: ClassVar[str] = "pdq"
    bits: ClassVar[int] = 256
    threshold: ClassVar[int] = PDQ_THRESHOLD
    min_quality: ClassVar[int] = PDQ_MIN_QUALITY
    examples: ClassVar[tuple[str, str]] = (
        "3791cccd33a466776398666693308cf6b3e78cbd3998266d73980cc3673830cd",
        "3791cccd73a466776398666693308ce6b3e78cbd3998266d73980cc3673830cd",
    )

    @classmethod
    def compute(cls, image: Image.Image) -> PdqResult:
        """Hash a picture and its left-right mirror.

        The mirror is hashed from mirrored pixels: ``pdqhash.compute_dihedral``'s mirrored hash
        lies 18-36 bits from the PDQ of a truly mirrored picture (measured), too far to rely on.
        """
        pixels = _three_channels(image)
        hash_, quality = cls.hash_pixels(pixels)
        mirrored, _ = cls.hash_pixels(pixels[:, ::-1])
        return PdqResult(hash=hash_, mirrored=mirrored, quality=quality)

    @classmethod
    def hash_picture(cls, image: Image.Image) -> tuple[str, int]:
        """The PDQ and quality of a picture (no mirror): a query's turned or framed view."""
        return cls.hash_pixels(_three_channels(image))

    @classmethod
    def hash_pixels(cls, pixels: np.ndarray) -> tuple[str, int]:
        """The PDQ and quality of an (h, w, 3) uint8 array."""
        vector, quality = pdqhash.compute(np.ascontiguousarray(pixels))
        return _bits_to_hex(vector), int(quality)

    @classmethod
    def usable(cls, quality: int | None) -> bool:
        """Whether a hash of this quality may decide a match on its own."""
        return quality is not None and quality >= cls.min_quality
