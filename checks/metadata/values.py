"""Turn the odd shapes metadata values arrive in into plain text and numbers.

Pillow hands EXIF values over as ``str`` (decoded as Latin-1), ``bytes``, ``IFDRational`` (NaN when
the denominator is zero), tuples of any of those, or huge integers from corrupt files. Everything
that reads a tag goes through these helpers, so one corrupt value yields ``None`` rather than an
exception, and text reads the same way whichever container it came from.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

__all__ = ["as_float", "as_int", "as_text", "decode_text", "strip_trailing"]

#: Characters ExifTool drops from the end of a string value (and Pillow does not).
_TRAILING = " \x00\t\r\n"


def strip_trailing(text: str) -> str:
    """Drop trailing spaces and NULs, as ExifTool prints strings."""
    return text.rstrip(_TRAILING)


def decode_text(raw: bytes) -> str:
    """Bytes of unknown encoding as text: UTF-8 when they are valid UTF-8, else Latin-1.

    Latin-1 never fails, so this never raises; real-world EXIF strings are ASCII or UTF-8 and a
    Latin-1 fallback keeps the rest legible.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def as_text(value: Any) -> str | None:
    """A tag value as text, cut at the first NUL and trimmed at the end, or None.

    Pillow decodes EXIF ASCII as Latin-1; re-encoding recovers the bytes so a UTF-8 maker name
    (or a Chinese model string) reads correctly. A value that is not text at all (a number, a
    rational) is rendered with ``str`` so a wrongly typed tag still shows what it holds.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            text = decode_text(value.encode("latin-1"))
        except UnicodeEncodeError:
            text = value
    elif isinstance(value, bytes | bytearray):
        text = decode_text(bytes(value))
    elif isinstance(value, tuple | list):
        if not value:
            return None
        if all(isinstance(v, int) and 0 <= v < 256 for v in value):
            return as_text(bytes(value))
        return as_text(value[0])
    else:
        text = str(value)
    return strip_trailing(text.split("\x00", 1)[0])


def as_float(value: Any) -> float | None:
    """A finite float from an int, float or rational; NaN and infinities (0/0, x/0) give None."""
    if isinstance(value, tuple | list):
        return as_float(value[0]) if len(value) == 1 else None
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any, *, low: int | None = None, high: int | None = None) -> int | None:
    """An integer in ``[low, high]`` from an int, an integral float or rational, or a tuple."""
    if isinstance(value, tuple | list):
        return as_int(value[0], low=low, high=high) if len(value) >= 1 else None
    if isinstance(value, bytes) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        try:
            value = int(value.strip("\x00 "))
        except ValueError:
            return None
    number = as_float(value) if not isinstance(value, int) else value
    if number is None or isinstance(number, bool):
        return None
    if isinstance(number, float):
        if not number.is_integer():
            return None
        number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number
