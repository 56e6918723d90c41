"""Find the picture inside its frame: borders, letterbox bars, caption bands, a screenshot.

Global hashes see the whole frame, so a known photo with a meme caption above it, a black
border around it, or a chat app's screen around it hashes as a different picture. These
rules find the rectangle the photo most likely occupies, so it can be hashed on its own.
They look only at a small greyscale picture and never decide a match: a box is a place to
look, and the match rules (and, for anything weaker than certain, a person) decide.

- **Flat edges** (padding, letterbox bars, a caption band): from each side, lines that are
  mostly one flat value (at least :data:`_BAND_SHARE` of a line within :data:`_BAND_TOLERANCE`
  of the band's own value, so text on the band does not stop it) are the frame, up to
  :data:`_MAX_TRIM` of the picture per side.

A photo inside a screenshot is not found this way: a chat app's dark theme meets a photo's
dark areas without an edge, and its bubbles are rectangles too. Local features find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image

__all__ = ["Box", "BoxKind", "content_boxes"]

#: Within a band, a line is blank when this share of it is within the tolerance of the band's
#: value, and still part of the band (text on it) down to the lower share.
_BLANK = 0.97
_BAND_SHARE = 0.3
_BAND_TOLERANCE = 10
#: Never trim more than this share of the picture from one side.
_MAX_TRIM = 0.45
#: A band thinner than this share of the picture is noise (a JPEG edge, a thin frame line).
_MIN_BAND = 0.015
#: A box must keep at least this share of the picture's area, and this many pixels per side.
_MIN_AREA = 0.08
_MIN_SIDE = 24


class BoxKind(StrEnum):
    """What was found around the picture."""

    FRAMED = "framed"  # flat borders or letterbox bars
    CAPTIONED = "captioned"  # a flat band with text on it


@dataclass(frozen=True, slots=True)
class Box:
    """Where the picture sits, as fractions of the frame's width and height (0-1)."""

    left: float
    top: float
    right: float
    bottom: float
    kind: BoxKind

    def crop(self, image: Image.Image) -> Image.Image:
        w, h = image.size
        return image.crop(
            (
                round(self.left * w),
                round(self.top * h),
                round(self.right * w),
                round(self.bottom * h),
            )
        )

    @property
    def area(self) -> float:
        return (self.right - self.left) * (self.bottom - self.top)


def content_boxes(grey: Image.Image) -> list[Box]:
    """Candidate rectangles for the picture inside ``grey`` (a small "L" picture); empty when
    the picture fills its frame.

    A photo's own margin can be flat too (a dark vignette, a product on white), and cutting it
    moves the box off the picture. So besides the box cut on every side, the box cut only at
    top and bottom (letterbox bars, a caption band) and only at left and right (pillarbox
    bars) are offered when they differ: one of them is usually the picture exactly.
    """
    pixels = np.asarray(grey, dtype=np.int16)
    height, width = pixels.shape
    if min(height, width) < 2 * _MIN_SIDE:
        return []
    cuts = _flat_edges(pixels)
    if cuts is None:
        return []
    (top, t_mark), (bottom, b_mark), (left, l_mark), (right, r_mark) = cuts
    boxes: list[Box] = []
    for t, b, lft, r, marked in (
        (top, bottom, left, right, t_mark or b_mark or l_mark or r_mark),
        (top, bottom, 0, 0, t_mark or b_mark),
        (0, 0, left, right, l_mark or r_mark),
    ):
        box = _box(height, width, t, b, lft, r, marked)
        if box is not None and box not in boxes:
            boxes.append(box)
    return boxes


def _box(height: int, width: int, t: int, b: int, lft: int, r: int, marked: bool) -> Box | None:
    """The box left by these cuts, if it is a real frame's inside and big enough to hash."""
    if not (t or b or lft or r):
        return None
    if height - t - b < _MIN_SIDE or width - lft - r < _MIN_SIDE:
        return None
    if (height - t - b) * (width - lft - r) / (height * width) < _MIN_AREA:
        return None
    kind = BoxKind.CAPTIONED if marked else BoxKind.FRAMED
    return Box(lft / width, t / height, (width - r) / width, (height - b) / height, kind)


def _band_depth(lines: np.ndarray) -> tuple[int, bool]:
    """How many of ``lines`` (outermost first) form a flat band, and whether it carries marks.

    A band starts with a blank line (nearly all of it one value) and goes on through lines
    that are at least partly that value (text on the band) as long as blank lines follow; it
    ends at its last blank line before the first line that is mostly something else.
    """
    value = int(np.median(lines[0]))
    share = (np.abs(lines - value) <= _BAND_TOLERANCE).mean(axis=1)
    limit = int(len(lines) * _MAX_TRIM)
    if share[0] < _BLANK:
        return 0, False
    depth, line = 0, 0
    while line < limit and share[line] >= _BAND_SHARE:
        if share[line] >= _BLANK:
            depth = line + 1
        line += 1
    # Marks between blank lines are text on the band; those after its last blank line are the
    # picture's own edge (or JPEG ringing along it).
    return depth, bool((share[:depth] < _BLANK).any())


def _flat_edges(pixels: np.ndarray) -> list[tuple[int, bool]] | None:
    """The band cut from each side (top, bottom, left, right) and whether it carries text;
    None when no side has a band. Each pair of sides is measured within the other pair's cuts,
    so a letterbox's bars do not make its photo's columns look like a band."""
    height, width = pixels.shape
    top = bottom = left = right = 0
    marks = [False] * 4
    for _ in range(2):
        inner = pixels[:, left : width - right]
        (top, marks[0]), (bottom, marks[1]) = _band_depth(inner), _band_depth(inner[::-1])
        inner = pixels[top : height - bottom]
        (left, marks[2]), (right, marks[3]) = _band_depth(inner.T), _band_depth(inner.T[::-1])
    sides = []
    for depth, size, marked in zip(
        (top, bottom, left, right), (height, height, width, width), marks, strict=True
    ):
        thick = depth >= max(2, _MIN_BAND * size)
        sides.append((depth if thick else 0, marked and thick))
    return sides if any(depth for depth, _ in sides) else None
