"""A copy of a picture with nothing but its pixels: what moderators may forward onwards.

Re-encoding from decoded pixels drops EXIF (GPS, serial numbers), XMP, IPTC, ICC-embedded
strings, C2PA manifests and trailing data: anything that could lead back to a source.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from checks.decode import DEFAULT_LIMITS, DecodeLimits, open_image
from checks.errors import CorruptImage

__all__ = ["stripped_copy"]

_MAX_SIDE = 2560  # Telegram shows photos at most this large; more pixels add nothing here


def stripped_copy(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> bytes:
    """JPEG of the upright picture, at most 2560 px on its long side, with no metadata."""
    image = open_image(data, limits)
    try:
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", (_MAX_SIDE, _MAX_SIDE))
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        rgb = upright.convert("RGB")
        rgb.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.LANCZOS)
        clean = Image.new("RGB", rgb.size)
        clean.paste(rgb)  # a fresh image carries no info dict from the original
        out = io.BytesIO()
        clean.save(out, "JPEG", quality=90, optimize=True)
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImage(f"the picture does not decode ({exc})") from exc
    return out.getvalue()
