"""Safe decoding: refuse what is too big or not a picture before spending memory on it.

Only the header is read before the limits are checked, so a decompression bomb costs a few
kilobytes of parsing, never its pixels. JPEGs are decoded at the smallest DCT scale that still
gives the hashes enough pixels (``draft``), and as luminance only, which is all the hashes and
the thumbnail comparison look at: that is most of what makes a check cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pillow_heif
from PIL import Image, UnidentifiedImageError

from checks.errors import CorruptImage, FileTooLarge, ImageTooLarge, UnsupportedFormat

__all__ = [
    "DEFAULT_LIMITS",
    "HASH_SIZE",
    "SUPPORTED_FORMATS",
    "WORK_SIDE",
    "DecodeLimits",
    "decode_for_hashing",
    "decode_reduced",
    "mime_type",
    "open_image",
    "shrink",
    "upright",
]

pillow_heif.register_heif_opener()
# Pillow's own bomb guard is global and its error cannot say what the picture claimed. Every
# untrusted picture goes through open_image, whose limits are checked on the header instead.
Image.MAX_IMAGE_PIXELS = None

#: Pillow plugins we let parse untrusted bytes; every other format is refused unparsed.
#: (Multi-picture JPEGs, which most phone cameras write, open through the JPEG plugin as MPO.)
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF")
_MIME = {"MPO": "image/jpeg", "HEIF": "image/heic"}
_DRAFTABLE = frozenset({"JPEG", "MPO"})

#: The hashes need few pixels (PDQ reduces to 64x64, pHash to 32x32): JPEGs are decoded at
#: 1/8 scale, the cheapest the DCT allows, unless that would leave fewer than this many pixels
#: on the short side, where draft() picks the largest scale that keeps at least this many.
HASH_SIZE = 128
#: Every picture reaches the hashes at most this large on its long side, whatever its format
#: or decode scale. One common scale keeps the hashes of copies at different resolutions close
#: (AugLy copies of a 1920x1080 JPEG: PDQ distance 0-18 at 128 px, 12-28 when the copies
#: reached the hashes at 512 and the JPEG at its 1/8 decode); PDQ works at 64x64 anyway.
_HASH_MAX_SIDE = 128
#: The picture the frame rules look at (borders, caption bands): a crop of it is shrunk to the
#: hash scale, so it needs enough pixels that a box's edges land within a pixel there. A JPEG
#: is decoded at 1/8 scale unless that leaves fewer than half this on the long side.
WORK_SIDE = 512


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
        image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError as exc:
        raise UnsupportedFormat(
            "not a picture Tipline can read (JPEG, PNG, WebP, GIF, TIFF or HEIC)"
        ) from exc
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise CorruptImage(f"the picture's header is damaged ({exc})") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"the picture claims an impossible size {width}x{height}")
    limit = limits.max_pixels_draftable if image.format in _DRAFTABLE else limits.max_pixels_full
    if width * height > limit:
        raise ImageTooLarge(
            f"the picture is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit for {image.format} is {limit / 1e6:.0f} megapixels"
        )
    return image


def _luminance(image: Image.Image) -> Image.Image:
    """Greyscale for the hashes; transparent areas become white, as a viewer would show them.

    PDQ and pHash both reduce a picture to its luminance (ITU-R 601 weights, as JPEG's Y and
    Pillow's "L"), so nothing they see is lost here.
    """
    if image.mode == "L":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background.convert("L")
    if image.mode in ("RGB", "CMYK", "YCbCr", "P", "1"):
        return image.convert("L")
    return image.convert("RGB").convert("L")  # 16-bit and float modes: as a viewer maps them


#: EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112
_WHOLE_FILE = 1 << 30


def decode_reduced(image: Image.Image, long_side: int = WORK_SIDE // 2) -> Image.Image:
    """Decode the first frame's luminance at the least scale the checks need (at least
    ``long_side`` on the long side where the format can skip detail), as stored (not yet
    upright): :func:`shrink` it to the hash scale and to the frame rules' scale."""
    try:
        if image.format in _DRAFTABLE:
            width, height = image.size
            short, long = min(width, height), max(width, height)
            # At least HASH_SIZE on the short side and long_side on the long one, else 1/8.
            wanted = max(short // 8, min(short, max(HASH_SIZE, short * long_side // long)))
            # "L" lets libjpeg skip colour conversion, chroma upsampling and the chroma IDCT
            # (a colour JPEG only; CMYK ones stay CMYK and are converted below).
            image.draft("L", (width * wanted // short, height * wanted // short))
        # One read and one decoder call for the whole file (Pillow's default is 64 KiB
        # chunks): the decoder releases the GIL for all of it, so other threads run meanwhile.
        image.decodermaxblock = _WHOLE_FILE
        image.load()
        return _luminance(image)
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError) as exc:
        raise CorruptImage(f"the picture does not decode ({exc})") from exc


def shrink(picture: Image.Image, side: int = _HASH_MAX_SIDE) -> Image.Image:
    """At most ``side`` pixels on the long side (Lanczos); the hashes take :data:`HASH_SIZE`."""
    if max(picture.size) <= side:
        return picture
    scale = side / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def upright(pixels: Image.Image, orientation: int | None, fmt: str | None) -> Image.Image:
    """Apply the EXIF orientation (HEIF decoders have already applied theirs)."""
    if fmt == "HEIF" or orientation not in _UPRIGHT:
        return pixels
    return pixels.transpose(_UPRIGHT[orientation])


def decode_for_hashing(image: Image.Image) -> Image.Image:
    """Decode the first frame, small, grey and upright: the picture the hashes and findings see.

    The picture is reduced first and turned upright after, on a few thousand pixels: cheaper
    than ``ImageOps.exif_transpose`` on the decoded frame, which also rewrites the EXIF block.
    """
    try:
        orientation = image.getexif().get(_ORIENTATION_TAG)
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise CorruptImage(f"the picture's EXIF block is damaged ({exc})") from exc
    return upright(shrink(decode_reduced(image)), orientation, image.format)
