"""Every hash of one picture, together: what is stored for a known item and what is looked up."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from checks.local_features import QueryFeatures
from checks.signals.pdq import Pdq
from checks.signals.phash import Phash
from checks.signals.sha256 import Sha256

__all__ = ["Fingerprint", "Region", "View", "compute_fingerprint"]

#: Where a picture sits in another: left, top, right, bottom as fractions of its width and height.
Region = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class View:
    """The query seen another way (turned, flipped, or the part of its frame the picture
    occupies), hashed with PDQ. ``kind`` is the :class:`checks.matching.MatchKind` a match
    through this view is; ``region`` is where the picture sits in the query (fractions of its
    width and height: left, top, right, bottom), for views of a part of the frame."""

    kind: str
    pdq: str
    pdq_quality: int
    region: Region | None = None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Hashes of one picture. Any may be missing when a known item was imported by hash."""

    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    phash: str | None = None
    #: Only computed for a query (a stored item is never looked up by its mirror); the
    #: mirror's pHash decides for the mirrored candidates when PDQ quality is too low to.
    pdq_mirrored: str | None = None
    phash_mirrored: str | None = None
    #: Only for a query: its other turns and flips, and its picture inside a frame.
    views: tuple[View, ...] = ()
    #: Only for a query: its local features, to find a known picture cropped, tilted or
    #: inside a screenshot (:mod:`checks.alignment`).
    local: QueryFeatures | None = field(default=None, compare=False, repr=False)
    #: What a picture keeps as a known item to be found by its local features
    #: (:meth:`checks.local_features.KnownFeatures.to_bytes`); computed when asked for.
    known_features: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.sha256 is None and self.pdq is None and self.phash is None:
            raise ValueError("a fingerprint needs at least one of sha256, pdq, phash")

    @property
    def identity(self) -> str:
        """The first of sha256, pdq, phash, named (``sha256:...``): what tells one stored
        picture from another, in this database and between newsrooms."""
        if self.sha256:
            return f"sha256:{self.sha256}"
        if self.pdq:
            return f"pdq:{self.pdq}"
        return f"phash:{self.phash}"


def compute_fingerprint(
    data: bytes, image: Image.Image, *, sha256: str | None = None
) -> Fingerprint:
    """Hash the file's bytes (unless ``sha256`` is already known) and its upright, reduced
    RGB pixels."""
    pdq = Pdq.compute(image)
    return Fingerprint(
        sha256=sha256 or Sha256.compute(data),
        pdq=pdq.hash,
        pdq_quality=pdq.quality,
        phash=Phash.compute(image),
        pdq_mirrored=pdq.mirrored,
        phash_mirrored=Phash.compute(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    )
