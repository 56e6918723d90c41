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
    """Candidate rectangles for the picture inside ``grey`` (a small "L" picture), best first;
    empty when the picture fills its frame."""
    pixels = np.asarray(grey, dtype=np.int16)
    height, width = pixels.shape
    if min(height, width) < 2 * _MIN_SIDE:
        return []
    trimmed = _flat_edges(pixels)
    return [] if trimmed is None else [trimmed]


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


def _flat_edges(pixels: np.ndarray) -> Box | None:
    """Trim bands from the four sides; each pair of sides is measured within the other pair's
    cuts, so a letterbox's bars do not make its photo's columns look like a band."""
    height, width = pixels.shape
    top = bottom = left = right = 0
    marked = False
    for _ in range(2):
        inner = pixels[:, left : width - right]
        (top, t_marked), (bottom, b_marked) = _band_depth(inner), _band_depth(inner[::-1])
        inner = pixels[top : height - bottom]
        (left, l_marked), (right, r_marked) = _band_depth(inner.T), _band_depth(inner.T[::-1])
        marked = t_marked or b_marked or l_marked or r_marked
    cuts = [
        depth if depth >= max(2, _MIN_BAND * size) else 0
        for depth, size in ((top, height), (bottom, height), (left, width), (right, width))
    ]
    if not any(cuts):
        return None
    t, b, lft, r = cuts
    if height - t - b < _MIN_SIDE or width - lft - r < _MIN_SIDE:
        return None
    if (height - t - b) * (width - lft - r) / (height * width) < _MIN_AREA:
        return None
    kind = BoxKind.CAPTIONED if marked else BoxKind.FRAMED
    return Box(lft / width, t / height, (width - r) / width, (height - b) / height, kind)
