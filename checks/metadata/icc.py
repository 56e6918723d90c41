"""The ICC colour profile's description ("sRGB IEC61966-2.1", "Display P3", ...).

Read straight from the profile's tag table (a few dozen bytes) rather than through LittleCMS,
which would build a whole colour transform to answer a one-line question. The profile name hints
at the device or software that wrote the file (Apple "Display P3", a camera's own profile).
"""

from __future__ import annotations

from PIL import Image

from checks.metadata.values import strip_trailing

__all__ = ["profile_description", "read_icc_profile"]

_HEADER_SIZE = 128
_MAX_TAGS = 256


def _text_description(profile: bytes, start: int, size: int) -> str | None:
    """ICC v2 ``desc`` (textDescriptionType): a counted ASCII string."""
    if size < 12:
        return None
    count = int.from_bytes(profile[start + 8 : start + 12], "big")
    raw = profile[start + 12 : start + 12 + min(count, size - 12)]
    return raw.split(b"\x00", 1)[0].decode("latin-1") or None


def _multi_localized(profile: bytes, start: int, size: int) -> str | None:
    """ICC v4 ``mluc``: UTF-16BE records; the English one if there is one, else the first."""
    if size < 16:
        return None
    records = int.from_bytes(profile[start + 8 : start + 12], "big")
    record_size = int.from_bytes(profile[start + 12 : start + 16], "big")
    if record_size < 12:
        return None
    chosen = None
    for index in range(min(records, 64)):
        entry = start + 16 + index * record_size
        if entry + 12 > start + size:
            break
        language = profile[entry : entry + 2]
        length = int.from_bytes(profile[entry + 4 : entry + 8], "big")
        offset = int.from_bytes(profile[entry + 8 : entry + 12], "big")
        if chosen is None or language == b"en":
            chosen = (offset, length)
            if language == b"en":
                break
    if chosen is None:
        return None
    offset, length = chosen
    raw = profile[start + offset : start + offset + length]
    return raw.decode("utf-16-be", "replace").split("\x00", 1)[0] or None


def profile_description(profile: bytes) -> str | None:
    """The ``desc`` tag of an ICC profile, or None when absent or damaged."""
    if len(profile) < _HEADER_SIZE + 4:
        return None
    count = int.from_bytes(profile[_HEADER_SIZE : _HEADER_SIZE + 4], "big")
    for index in range(min(count, _MAX_TAGS)):
        entry = _HEADER_SIZE + 4 + index * 12
        if entry + 12 > len(profile):
            return None
        if profile[entry : entry + 4] != b"desc":
            continue
        start = int.from_bytes(profile[entry + 4 : entry + 8], "big")
        size = int.from_bytes(profile[entry + 8 : entry + 12], "big")
        if start + size > len(profile):
            size = len(profile) - start
        kind = profile[start : start + 4]
        if kind == b"desc":
            text = _text_description(profile, start, size)
        elif kind == b"mluc":
            text = _multi_localized(profile, start, size)
        else:
            return None
        return strip_trailing(text) if text else None
    return None


def read_icc_profile(image: Image.Image) -> str | None:
    """The description of the profile embedded in the file (any format Pillow reads)."""
    profile = image.info.get("icc_profile")
    if not isinstance(profile, bytes | bytearray) or not profile:
        return None
    return profile_description(bytes(profile))
