"""The JPEG thumbnail a camera embeds in EXIF IFD1: located at extraction, compared on demand.

Extraction only slices the bytes and reads the thumbnail's frame header. The pixels are decoded
only when a finding compares them with the main picture: a camera writes the thumbnail and the
picture together, and most editors that change the picture leave the old thumbnail behind, so a
thumbnail that shows something else (mirrored, cropped, retouched) betrays the edit.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image

from checks.metadata.containers import frame_size
from checks.metadata.exif import ExifRead
from checks.metadata.model import EmbeddedThumbnail

__all__ = [
    "SAME_PICTURE",
    "ThumbnailComparison",
    "ThumbnailMatch",
    "compare_thumbnail",
    "decode_thumbnail",
    "read_thumbnail",
]

#: Correlation (of 12x12 luminance grids) from which two pictures count as the same. Measured on
#: ../shared/data: every thumbnail of an unedited picture scores >= 0.966 (most >= 0.98); the
#: pictures cropped after shooting score <= 0.87, the mirrored one about 0.4 unflipped.
SAME_PICTURE = 0.93
_GRID = 12
#: Below this many pixels on the short side the main picture says too little to compare.
_MIN_SIDE = 24
#: Pictures larger than this (long side) are sampled down before comparing.
_WORKING_SIDE = 256
#: Grids flatter than this (standard deviation, grey levels) are fog, night or a blank frame.
_MIN_CONTRAST = 3.0
#: Aspect ratios closer than this are the same frame shape.
_ASPECT_TOLERANCE = 0.03
#: Mean grey level under which the strips cut off a thumbnail count as letterbox bars.
_BAR_LEVEL = 40.0

_T = Image.Transpose
#: EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: _T.FLIP_LEFT_RIGHT,
    3: _T.ROTATE_180,
    4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE,
    6: _T.ROTATE_270,
    7: _T.TRANSVERSE,
    8: _T.ROTATE_90,
}
_ROTATIONS = (_T.ROTATE_90, _T.ROTATE_180, _T.ROTATE_270)
_MIRRORS = (_T.FLIP_LEFT_RIGHT, _T.FLIP_TOP_BOTTOM, _T.TRANSPOSE, _T.TRANSVERSE)


_DRAFT_SIDE = 48


def read_thumbnail(exif: ExifRead) -> tuple[EmbeddedThumbnail | None, tuple[str, ...]]:
    """The embedded thumbnail if IFD1 points at a JPEG inside the EXIF block."""
    if exif.tiff is None or exif.thumbnail_span is None:
        return None, ()
    start, length = exif.thumbnail_span
    data = exif.tiff[start : start + length]
    if not data.startswith(b"\xff\xd8"):
        return None, ("thumbnail: IFD1 points at data that is not a JPEG",)
    size = frame_size(data)
    width, height = size if size else (None, None)
    return EmbeddedThumbnail(data=data, width=width, height=height), ()


def decode_thumbnail(thumbnail: EmbeddedThumbnail) -> Image.Image | None:
    """The thumbnail's pixels as RGB, or None when they do not decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(thumbnail.data)) as image:
                if image.width * image.height > 1_000_000:  # a "thumbnail" this big is not one
                    return None
                # The comparison works on a 12x12 grid: a JPEG thumbnail need not decode at
                # full size, so let the DCT scale it down while decoding.
                image.draft("RGB", (_DRAFT_SIDE, _DRAFT_SIDE))
                return image.convert("RGB")
    except Exception:  # any decoder failure means "no usable thumbnail", never an error
        return None


class ThumbnailMatch(StrEnum):
    """How the embedded thumbnail relates to the main picture."""

    SAME = "same"
    #: The same picture turned by a quarter or half turn: rotated by software that did not
    #: update the thumbnail. Harmless, so no finding.
    ROTATED = "rotated"
    MIRRORED = "mirrored"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class ThumbnailComparison:
    """The verdict, the similarity it rests on, and whether the frame's shape changed."""

    match: ThumbnailMatch
    similarity: float
    aspect_changed: bool


def _grid(image: Image.Image) -> np.ndarray | None:
    """A zero-mean, unit-length 12x12 luminance grid; None for a flat picture."""
    pixels = image.convert("L").resize((_GRID, _GRID), Image.Resampling.BOX)
    grid = np.asarray(pixels, dtype=np.float64).ravel()
    if grid.std() < _MIN_CONTRAST:
        return None
    grid -= grid.mean()
    return grid / np.linalg.norm(grid)


def _fit(image: Image.Image, aspect: float, *, centred: bool = False) -> tuple[Image.Image, float]:
    """Cut ``image`` to ``aspect``; return the cut image and the mean grey of what was removed.

    Cameras letterbox a wide frame into a 4:3 thumbnail with bars top and bottom, or all at one
    edge; of the centred cut and the two one-sided ones, the darkest removal is the letterbox.
    ``centred`` forces the centred cut (a camera cropping its thumbnail out of the frame).
    """
    width, height = image.size
    if abs((width / height) / aspect - 1) <= _ASPECT_TOLERANCE:
        return image, 0.0
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    too_tall = width / height < aspect
    keep = max(1, round(width / aspect)) if too_tall else max(1, round(height * aspect))
    lines = grey.mean(axis=1) if too_tall else grey.mean(axis=0)
    extra = len(lines) - keep
    if extra <= 0:  # too few pixels for the shapes to differ by a whole line
        return image, 0.0
    total = float(lines.sum())

    def removed(offset: int) -> float:
        return (total - float(lines[offset : offset + keep].sum())) / extra

    offset = extra // 2 if centred else min((extra // 2, 0, extra), key=removed)
    box = (0, offset, width, offset + keep) if too_tall else (offset, 0, offset + keep, height)
    return image.crop(box), removed(offset)


def _similarity(thumb: Image.Image, picture: Image.Image, picture_grid: np.ndarray) -> float:
    """Best correlation once the frame shapes agree, trying both explanations of a mismatch.

    Either the thumbnail is letterboxed (cut the bars off the thumbnail) or the camera cut its
    4:3 thumbnail out of a wider frame (cut the picture to the thumbnail's shape); Ricoh's
    3:2 cameras do the latter.
    """
    fitted, _ = _fit(thumb, picture.width / picture.height)
    grid = _grid(fitted)
    scores = [float(grid @ picture_grid)] if grid is not None else []
    cut_picture, _ = _fit(picture, thumb.width / thumb.height, centred=True)
    if cut_picture is not picture:
        thumb_grid, cut_grid = _grid(thumb), _grid(cut_picture)
        if thumb_grid is not None and cut_grid is not None:
            scores.append(float(thumb_grid @ cut_grid))
    return max(scores, default=-1.0)


def compare_thumbnail(
    thumbnail: EmbeddedThumbnail,
    picture: Image.Image,
    orientation: int,
    *,
    decoded: Image.Image | None = None,
) -> ThumbnailComparison | None:
    """Compare the thumbnail, turned upright by ``orientation``, with the upright picture.

    ``picture`` is the decoded (small, orientation-corrected) main picture; ``decoded`` is the
    thumbnail's pixels when a caller decoded them already. Returns None when
    there is nothing sound to compare: no decodable thumbnail, a tiny or featureless picture.
    """
    if min(picture.size) < _MIN_SIDE:
        return None
    thumb = decoded if decoded is not None else decode_thumbnail(thumbnail)
    if thumb is None or min(thumb.size) < 8:
        return None
    if orientation in _UPRIGHT:
        thumb = thumb.transpose(_UPRIGHT[orientation])
    if max(picture.size) > _WORKING_SIDE:
        # Callers pass a reduced picture, but a format without draft decoding may arrive full
        # size; nearest sampling keeps this cheap, and the 12x12 box average smooths it anyway.
        scale = _WORKING_SIDE / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.NEAREST)
    picture_grid = _grid(picture)
    if picture_grid is None:
        return None
    picture_aspect = picture.width / picture.height
    _, cut_level = _fit(thumb, picture_aspect)
    shape_differs = abs(thumb.width / thumb.height / picture_aspect - 1) > _ASPECT_TOLERANCE
    aspect_changed = shape_differs and cut_level > _BAR_LEVEL

    upright = _similarity(thumb, picture, picture_grid)
    if upright >= SAME_PICTURE:
        return ThumbnailComparison(ThumbnailMatch.SAME, upright, aspect_changed=False)
    rotated = max(_similarity(thumb.transpose(t), picture, picture_grid) for t in _ROTATIONS)
    if rotated >= SAME_PICTURE:
        return ThumbnailComparison(ThumbnailMatch.ROTATED, rotated, aspect_changed=False)
    mirrored = max(_similarity(thumb.transpose(t), picture, picture_grid) for t in _MIRRORS)
    if mirrored >= SAME_PICTURE:
        return ThumbnailComparison(ThumbnailMatch.MIRRORED, mirrored, aspect_changed)
    return ThumbnailComparison(ThumbnailMatch.DIFFERENT, upright, aspect_changed)
