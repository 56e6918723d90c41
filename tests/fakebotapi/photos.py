"""What Telegram makes of a picture sent as a photo: its size and its smaller renditions."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["PHOTO_BOXES", "image_size", "photo_thumbnails"]

# Telegram's photo size classes by bounding box: a photo arrives as every size below its own.
PHOTO_BOXES = (90, 320, 800, 1280)


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of an image Pillow can identify, else ``None``."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def photo_thumbnails(data: bytes) -> list[tuple[bytes, int, int]]:
    """JPEG renditions for each photo size class below the image's own size, smallest first.

    They are why a bot must read ``photo[-1]``: the first size is a 90 px thumbnail.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            base = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return []
    out: list[tuple[bytes, int, int]] = []
    for box in PHOTO_BOXES:
        if max(base.size) <= box:
            break
        thumb = base.copy()
        thumb.thumbnail((box, box))
        buf = io.BytesIO()
        thumb.save(buf, "JPEG", quality=80)
        out.append((buf.getvalue(), thumb.width, thumb.height))
    return out
