"""Safe decoding: refuse what is too big or not a picture before spending memory on it.

Only the header is read before the limits are checked, so a decompression bomb costs a few
kilobytes of parsing, never its pixels. JPEGs are decoded at the smallest DCT scale that still
gives the hashes enough pixels (``draft``), which is most of what makes a check cheap.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from checks.errors import CorruptImage, FileTooLarge, ImageTooLarge, UnsupportedFormat

__all__ = [
    "DEFAULT_LIMITS",
    "HASH_SIZE",
    "SUPPORTED_FORMATS",
    "DecodeLimits",
    "decode_for_hashing",
    "mime_type",
    "open_image",
]

pillow_heif.register_heif_opener()

#: Pillow plugins we let parse untrusted bytes; every other format is refused unparsed.
#: (Multi-picture JPEGs, which most phone cameras write, open through the JPEG plugin as MPO.)
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF")
_MIME = {"MPO": "image/jpeg", "HEIF": "image/heic"}
_DRAFTABLE = frozenset({"JPEG", "MPO"})

#: Hashes need no more than this many pixels on the short side (PDQ reduces to 64x64,
#: pHash to 32x32); JPEG draft stops at the largest DCT scale that keeps at least this.
HASH_SIZE = 256
#: Pictures decoded at full size are then reduced to at most this long side before hashing,
#: so every format reaches the hashes at a comparable scale.
_HASH_MAX_SIDE = 512


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on untrusted input. Defaults suit Telegram (20 MB downloads) and phone cameras."""

    max_bytes: int = 50 * 1024 * 1024
    #: Stored pixels for a JPEG, which is decoded at 1/8 scale (200 MP phone sensors exist).
    max_pixels_draftable: int = 250_000_000
    #: Stored pixels for formats decoded at full size: 50 MP RGBA is ~200 MB of memory.
    max_pixels_full: int = 50_000_000


DEFAULT_LIMITS = DecodeLimits()


def mime_type(image: Image.Image) -> str:
    fmt = image.format or ""
    return _MIME.get(fmt) or Image.MIME.get(fmt, "application/octet-stream")


def open_image(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> Image.Image:
    """Parse the header only and enforce the limits; pixels are not decoded yet."""
    if not data:
        raise UnsupportedFormat("the file is empty")
    if len(data) > limits.max_bytes:
        raise FileTooLarge(
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB"
        )
    try:
        with warnings.catch_warnings():
            # Our own limits below decide; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the picture has too many pixels to open safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedFormat(
            "not a picture Tipline can read (JPEG, PNG, WebP, GIF, TIFF or HEIC)"
        ) from exc
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise CorruptImage(f"the picture's header is damaged ({exc})") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"the picture claims an impossible size {width}x{height}")
    limit = (
        limits.max_pixels_draftable if image.format in _DRAFTABLE else limits.max_pixels_full
    )
    if width * height > limit:
        raise ImageTooLarge(
            f"the picture is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit for {image.format} is {limit / 1e6:.0f} megapixels"
        )
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for the hashes; transparent areas become white, as a viewer would show them."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode_for_hashing(image: Image.Image) -> Image.Image:
    """Decode the first frame, upright and small: the picture the hashes and findings see."""
    try:
        if image.format in _DRAFTABLE:
            image.draft("RGB", (HASH_SIZE, HASH_SIZE))
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        rgb = _flatten(upright)
        if max(rgb.size) > _HASH_MAX_SIDE:
            rgb = rgb.copy()
            rgb.thumbnail((_HASH_MAX_SIDE, _HASH_MAX_SIDE), Image.Resampling.BILINEAR)
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError) as exc:
        raise CorruptImage(f"the picture does not decode ({exc})") from exc
    except Image.DecompressionBombError as exc:  # pragma: no cover - caught at open
        raise ImageTooLarge(str(exc)) from exc
    return rgb
