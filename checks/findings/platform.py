"""The platform fingerprint (``NO_METADATA``): was this file re-sent through a messenger?

Messengers and social networks strip metadata and re-encode with libjpeg's standard tables,
resizing to a fixed long side. A JPEG with no EXIF, XMP or IPTC, exactly standard tables, at
most 6 bits per pixel, no Content Credentials and a long side on :data:`PLATFORM_LONG_SIDES`
was probably saved from that platform. The caps, as documented or measured in 2024-2026:
Telegram 1280 (photo) and 2560 (HD photo); WhatsApp 1600 (standard) and 4096 (HD); Signal 1600
(standard, Android since 2021), 2048 (high) and 3072 (Desktop high quality); Facebook 2048;
X/Twitter 4096 (original) and 2048 (large); Instagram 1080 wide. They change over time; a match
is a hint, never proof.
"""

from __future__ import annotations

from checks.findings.model import Finding, FindingCode, Severity
from checks.metadata import C2paState, Metadata

__all__ = ["PLATFORM_LONG_SIDES", "no_metadata_finding"]

#: Long side (pixels) a platform resizes photos to -> who does it (a stable key, named in
#: words by ``handlers/``).
PLATFORM_LONG_SIDES: dict[int, str] = {
    1280: "telegram",
    2560: "telegram_hd",
    1600: "whatsapp_signal",
    2048: "facebook_signal_x",
    3072: "signal_desktop",
    4096: "whatsapp_hd_x",
}
_INSTAGRAM_WIDTH = 1080
#: Re-encoded platform copies are small; above this many bits per pixel, do not guess one.
_PLATFORM_MAX_BITS_PER_PIXEL = 6.0


def _platform_guess(metadata: Metadata, file_size: int) -> dict[str, object] | None:
    """The platform and what matched (``long_side`` or ``width``) when the file looks like a
    platform's re-encode."""
    jpeg = metadata.jpeg
    if jpeg is None or not jpeg.is_standard or metadata.width <= 0 or metadata.height <= 0:
        return None
    if metadata.c2pa.state is not C2paState.NONE:
        return None  # platforms strip Content Credentials along with everything else
    bits_per_pixel = file_size * 8 / (metadata.width * metadata.height)
    if bits_per_pixel > _PLATFORM_MAX_BITS_PER_PIXEL:
        return None
    long_side = max(metadata.width, metadata.height)
    if long_side in PLATFORM_LONG_SIDES:
        return {"platform": PLATFORM_LONG_SIDES[long_side], "long_side": long_side}
    if metadata.width == _INSTAGRAM_WIDTH:
        return {"platform": "instagram", "width": _INSTAGRAM_WIDTH}
    return None


def no_metadata_finding(metadata: Metadata, file_size: int) -> Finding | None:
    if metadata.has_descriptive_metadata:
        return None
    guess = _platform_guess(metadata, file_size)
    if guess is None:
        return Finding(FindingCode.NO_METADATA, Severity.INFO, {})
    quality = metadata.jpeg.ijg_quality if metadata.jpeg else None
    return Finding(FindingCode.NO_METADATA, Severity.NOTICE, {**guess, "quality": quality})
