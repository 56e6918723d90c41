"""Builders for Telegram JSON objects (User, Chat, PhotoSize, MessageOrigin, ...).

Each returns the plain dict the Bot API would put on the wire, with every field PTB requires,
so the same dicts serve as API responses, as update payloads and as what tests inspect.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "PHOTO_BOXES",
    "chat_json",
    "hidden_user_origin",
    "image_size",
    "photo_thumbnails",
    "reencode_like_telegram",
    "user_json",
]

JSON = dict[str, Any]

# Telegram's photo size classes by bounding box: s, m, x, y (w = 2560 for HD uploads).
PHOTO_BOXES = (90, 320, 800, 1280)


def user_json(
    user_id: int,
    first_name: str,
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    is_bot: bool = False,
    is_premium: bool | None = None,
) -> JSON:
    """A ``User`` object; optional fields are left out when unset, as Telegram does."""
    data: JSON = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        data["last_name"] = last_name
    if username:
        data["username"] = username
    if language_code:
        data["language_code"] = language_code
    if is_premium:
        data["is_premium"] = True
    return data


def chat_json(
    chat_id: int,
    chat_type: str,
    *,
    title: str | None = None,
    username: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> JSON:
    """A ``Chat`` object (the short form inside messages, not ``ChatFullInfo``)."""
    data: JSON = {"id": chat_id, "type": chat_type}
    if title is not None:
        data["title"] = title
    if username:
        data["username"] = username
    if first_name is not None:
        data["first_name"] = first_name
    if last_name:
        data["last_name"] = last_name
    return data


def hidden_user_origin(name: str, date: int) -> JSON:
    """``MessageOriginHiddenUser``: the author forwards anonymously, only a name is known."""
    return {"type": "hidden_user", "date": date, "sender_user_name": name}


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of an image Pillow can identify, else ``None``."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def photo_thumbnails(data: bytes) -> list[tuple[bytes, int, int]]:
    """Smaller JPEG renditions for each photo size class below the image's own size.

    Telegram serves a photo as several sizes, smallest first; these are the ones below the
    original, re-encoded with Pillow. Empty if the bytes are not an image Pillow can decode.
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


def reencode_like_telegram(data: bytes, box: int = 1280, quality: int = 87) -> bytes | None:
    """What Telegram does to a photo sent as a photo: orient, shrink to ``box``, JPEG, no EXIF."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            base = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    base.thumbnail((box, box))
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
