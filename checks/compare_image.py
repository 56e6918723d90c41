"""The side-by-side picture a moderator sees: the submission next to the known item it matched.

A moderator decides "same picture or not" by eye, so both are shown at the same height, each
under a label, with an optional caption saying why they were paired ("PDQ distance 12 —
mirrored copy"). Labels and captions can be user text, so they are flattened to one line and
cut with an ellipsis to fit; nothing overflows and nothing crashes on a long or odd string. The
result stays within Telegram's sendPhoto shape rules (long side bounded, ratio at most 20:1).
"""

from __future__ import annotations

import io
import math
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from checks.signals.fingerprint import Region

__all__ = [
    "BACKGROUND",
    "DEFAULT_MAX_SIDE",
    "side_by_side",
]

DEFAULT_MAX_SIDE = 1280
#: Dark neutral grey: white and black pictures both keep a visible edge against it.
BACKGROUND = (38, 38, 38)
_LABEL = (240, 240, 240)
_CAPTION = (200, 200, 200)
_REGION = (255, 200, 0)
#: Transparent parts of a picture are shown over white, as most viewers do.
_TRANSPARENT_BACKDROP = (255, 255, 255)
#: Small pictures are enlarged to this height at least, so a thumbnail can be compared at all.
_MIN_PICTURE_HEIGHT = 320
#: Telegram refuses photos whose sides differ by more than this factor.
_MAX_RATIO = 20
_MIN_MAX_SIDE = 64
_ELLIPSIS = "…"
#: More user text than this can never be shown on one line; the rest is not even looked at.
_MAX_TEXT = 400
#: Stand-ins for common characters Pillow's default font (ASCII and a little more) lacks.
_STAND_INS = {
    "—": "-", "–": "-", "‒": "-", "―": "-", "−": "-", "‐": "-", "•": "*", "→": "->",
    "←": "<-", "×": "x", "÷": "/", "€": "EUR", "№": "No", "✓": "v",
}  # fmt: skip
_JPEG_QUALITY = 88

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def side_by_side(
    submitted: Image.Image,
    known: Image.Image,
    *,
    left_label: str = "Submitted",
    right_label: str = "Known item",
    caption: str | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
    region: Region | None = None,
) -> bytes:
    """Both pictures at one height, side by side, labelled; a JPEG whose long side <= max_side.

    Pictures are taken as they are (already upright: ``checks.decode`` applies the EXIF
    orientation); any mode is accepted, transparency is shown over white. ``region`` (left,
    top, right, bottom as fractions) outlines where the known picture sits in the submitted
    one, so a moderator sees at once what was compared with what.
    """
    if max_side < _MIN_MAX_SIDE:
        raise ValueError(f"max_side must be at least {_MIN_MAX_SIDE}")
    pictures = (_to_rgb(submitted), _to_rgb(known))
    font_size = max(10, min(24, round(max_side / 60)))
    font = ImageFont.load_default(size=font_size)
    one_line = _Flattener(font)
    pad = max(4, font_size // 2)
    line = _line_height(font)
    label_band = line + pad // 2
    caption_text = one_line(caption) if caption else ""
    caption_band = line + pad // 2 if caption_text else 0
    # Room for a readable label above a very narrow picture.
    min_column = min(6 * font_size, (max_side - 3 * pad) // 4)
    chrome_w, chrome_h = 3 * pad, 2 * pad + label_band + caption_band

    sizes = _common_height(pictures, max_side - chrome_w, max_side - chrome_h, min_column)
    columns = [max(width, min_column) for width, _ in sizes]
    picture_h = max(height for _, height in sizes)
    total_w, total_h = chrome_w + sum(columns), chrome_h + picture_h
    # Telegram's ratio rule: grow the short side with background, never past max_side.
    total_h = min(max(total_h, math.ceil(total_w / _MAX_RATIO)), max_side)
    total_w = min(max(total_w, math.ceil(total_h / _MAX_RATIO)), max_side)

    canvas = Image.new("RGB", (total_w, total_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    top = pad + label_band
    x = pad
    labels = (left_label, right_label)
    regions = (region, None)
    for picture, label, column, size, outline in zip(
        pictures, labels, columns, sizes, regions, strict=True
    ):
        scaled = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        if outline is not None:
            _outline(scaled, outline)
        canvas.paste(scaled, (x + (column - size[0]) // 2, top + (picture_h - size[1]) // 2))
        draw.text((x, pad), _fit(draw, one_line(label), font, column), font=font, fill=_LABEL)
        x += column + pad
    if caption_text:
        text = _fit(draw, caption_text, font, total_w - 2 * pad)
        draw.text((pad, top + picture_h + pad // 2), text, font=font, fill=_CAPTION)

    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def _outline(picture: Image.Image, region: Region) -> None:
    """Draw the region's edge on the picture, in a colour seen on dark and light alike."""
    left, top, right, bottom = (min(1.0, max(0.0, v)) for v in region)
    w, h = picture.size
    box = (
        round(left * (w - 1)),
        round(top * (h - 1)),
        round(right * (w - 1)),
        round(bottom * (h - 1)),
    )
    width = max(2, min(w, h) // 100)
    ImageDraw.Draw(picture).rectangle(box, outline=_REGION, width=width)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as RGB; transparency over white, 16/32-bit greys scaled to 8 bits."""
    if image.width < 1 or image.height < 1:
        raise ValueError("an empty picture cannot be shown")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        low, high = image.getextrema()
        span = (high - low) or 1
        image = image.point(lambda value: (value - low) * 255 / span).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (*_TRANSPARENT_BACKDROP, 255))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return image.convert("RGB")


def _common_height(
    pictures: tuple[Image.Image, Image.Image], room_w: int, room_h: int, min_column: int
) -> list[tuple[int, int]]:
    """Sizes giving both pictures one height, as large as the room allows.

    Small pictures are enlarged to ``_MIN_PICTURE_HEIGHT``. When shapes differ so much that a
    common height would shrink the pictures below half of that (a panorama beside a portrait),
    each is fitted into half the room on its own instead, so neither becomes a sliver.
    """

    def widths(height: int) -> list[int]:
        return [max(1, round(p.width * height / p.height)) for p in pictures]

    def fits(height: int) -> bool:
        return sum(max(w, min_column) for w in widths(height)) <= room_w

    floor = min(_MIN_PICTURE_HEIGHT // 2, room_h)
    if room_h < 1 or not fits(floor):
        half = max(1, (room_w - min_column) // 2)
        return [_fit_box(p.size, half, max(1, room_h)) for p in pictures]
    low, high = floor, min(room_h, max(*(p.height for p in pictures), _MIN_PICTURE_HEIGHT))
    while low < high:  # the largest height that fits; fits() only turns false as height grows
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return [(w, low) for w in widths(low)]


def _fit_box(size: tuple[int, int], box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / size[0], box_h / size[1])
    return max(1, min(box_w, round(size[0] * scale))), max(1, min(box_h, round(size[1] * scale)))


def _line_height(font: Font) -> int:
    box = font.getbbox("Ag|…")
    return int(box[3]) + 2


class _Flattener:
    """User text made drawable on one line with ``font``.

    Line breaks and control characters become spaces. Characters the font has no glyph for
    (Pillow's default font covers little beyond ASCII) get a stand-in: a listed one ("—" as
    "-"), else their unaccented letters ("é" as "e"); with neither they stay, drawn as a box.
    """

    def __init__(self, font: Font) -> None:
        self._font = font
        self._missing = self._mask("\ue000")  # a private-use character: the font's "no glyph"
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        cleaned = "".join(self._char(char) for char in text[:_MAX_TEXT])
        return " ".join(cleaned.split())

    def _mask(self, char: str) -> tuple[tuple[int, int], bytes]:
        mask = self._font.getmask(char)
        return mask.size, bytes(mask)

    def _has(self, char: str) -> bool:
        return char.isspace() or self._mask(char) != self._missing

    def _char(self, char: str) -> str:
        if not char.isprintable():
            return " "
        if char not in self._cache:
            if self._has(char):
                stand_in = char
            elif char in _STAND_INS:
                stand_in = _STAND_INS[char]
            else:
                base = "".join(
                    part
                    for part in unicodedata.normalize("NFKD", char)
                    if not unicodedata.combining(part) and self._has(part)
                )
                stand_in = base or char
            self._cache[char] = stand_in
        return self._cache[char]


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    """``text`` if it fits in ``width`` pixels, else its longest prefix that fits plus "…"."""
    if draw.textlength(text, font=font) <= width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if draw.textlength(text[:middle].rstrip() + _ELLIPSIS, font=font) <= width:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return _ELLIPSIS if draw.textlength(_ELLIPSIS, font=font) <= width else ""
    return text[:low].rstrip() + _ELLIPSIS
