"""The query picture seen the other ways a copy may show it, each hashed with PDQ.

A copy that circulates is often turned (a phone held sideways), flipped (a mirrored repost),
or framed: inside borders, letterbox bars or under a caption. Hashing the query under each of
the eight turns and flips, and the part of its frame the picture occupies
(:mod:`checks.reframe`), lets the one index of whole known pictures find all of them. Known
items are hashed whole, as they are; only the query gets views.
"""

from __future__ import annotations

from PIL import Image

from checks.decode import shrink
from checks.reframe import content_boxes
from checks.signals import Pdq
from checks.signals.fingerprint import View

__all__ = ["query_views"]

#: The turns and flips other than the identity and the left-right mirror (which the
#: fingerprint carries itself), with the kind of match each one reveals.
_TRANSFORMS = (
    (Image.Transpose.ROTATE_90, "rotated"),
    (Image.Transpose.ROTATE_180, "rotated"),
    (Image.Transpose.ROTATE_270, "rotated"),
    (Image.Transpose.FLIP_TOP_BOTTOM, "mirrored"),
    (Image.Transpose.TRANSPOSE, "mirrored"),
    (Image.Transpose.TRANSVERSE, "mirrored"),
)


def query_views(pixels: Image.Image, work: Image.Image) -> tuple[View, ...]:
    """Views of a query: ``pixels`` at the hash scale, ``work`` at the frame rules' scale (both
    upright greyscale)."""
    views = []
    grey = pixels.convert("L")
    for transpose, kind in _TRANSFORMS:
        hash_, quality = Pdq.hash_picture(grey.transpose(transpose))
        views.append(View(kind=kind, pdq=hash_, pdq_quality=quality))
    for box in content_boxes(work):
        hash_, quality = Pdq.hash_picture(shrink(box.crop(work)))
        region = (box.left, box.top, box.right, box.bottom)
        views.append(View(kind=box.kind.value, pdq=hash_, pdq_quality=quality, region=region))
    return tuple(views)
