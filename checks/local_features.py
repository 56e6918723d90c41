"""Local features: the small, distinctive spots of a picture that survive a crop, a tilt or a
screenshot, where a hash of the whole frame does not.

A known item keeps :data:`KNOWN_FEATURES` ORB keypoints of its upright picture (at most
:data:`KNOWN_SIDE` pixels on the long side; those of the finest octaves spread over the
picture, so that a crop keeps some) and a :data:`THUMB` x :data:`THUMB` greyscale
thumbnail, so a copy can be aligned onto it and its pixels compared (:mod:`checks.alignment`).
A query keeps more keypoints (:data:`QUERY_FEATURES`, at up to :data:`QUERY_SIDE` pixels: the
known picture may fill only part of it) and its greyscale pixels at :data:`QUERY_PIXELS`.

A tip's picture needs both: the query's to be looked up, and the known item's kept for a verdict.
:func:`describe_both` finds the second on another thread while the first are found (OpenCV and
Pillow let go of the GIL): on a free core they add little to the time to a tip's card, and the
tip's result is saved with them, so a verdict given after a restart still has them.

ORB is weight-free, binary (matched by Hamming distance, so candidates come from a binary index)
and fast enough on two cores; SIFT found a few more tilts but costs four times as much per
picture and its float descriptors are four times larger.
"""

from __future__ import annotations

import io
import struct
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from checks.errors import InvalidInput

__all__ = [
    "KNOWN_FEATURES",
    "KNOWN_SIDE",
    "QUERY_FEATURES",
    "QUERY_PIXELS",
    "QUERY_SIDE",
    "THUMB",
    "Keypoints",
    "KnownFeatures",
    "QueryFeatures",
    "describe_both",
    "describe_known",
    "describe_query",
]

KNOWN_FEATURES = 160
KNOWN_SIDE = 512
QUERY_FEATURES = 1500
QUERY_SIDE = 768
QUERY_PIXELS = 768
THUMB = 64
#: Bytes of one ORB descriptor.
DESCRIPTOR_BYTES = 32
#: JPEG quality of the stored thumbnail: 85 keeps the largest record under 8 KB (90: 8.5 KB).
_THUMB_QUALITY = 85
#: A known item's keypoints on the _FINE_OCTAVES finest octaves are chosen from _SPREAD_POOL
#: times as many candidates, at most _SPREAD_CAP of them in one cell of a _SPREAD_GRID x
#: _SPREAD_GRID grid (see :func:`_fine_spread_over` and docs/calibration.md).
_FINE_OCTAVES = 2
_SPREAD_POOL = 4
_SPREAD_GRID = 4
_SPREAD_CAP = 0.15

_MAGIC = b"TLF1"
_HEADER = struct.Struct("<4sHHH")


@dataclass(frozen=True, slots=True, eq=False)
class Keypoints:
    """Keypoint positions (float32, n x 2, in pixels of a picture ``size`` wide and high) and
    their ORB descriptors (uint8, n x 32)."""

    points: np.ndarray
    descriptors: np.ndarray
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True, slots=True, eq=False)
class KnownFeatures:
    """What a known item keeps to be found again in a reframed copy."""

    keypoints: Keypoints
    #: Greyscale THUMB x THUMB, the whole picture squeezed to a square.
    thumbnail: np.ndarray

    def to_bytes(self) -> bytes:
        """A compact form for the database: 5.8 KB of keypoints and a 1.2-2.2 KB JPEG thumbnail."""
        kp = self.keypoints
        width, height = kp.size
        positions = np.clip(np.round(kp.points * 64), 0, 65535).astype("<u2")
        thumb = io.BytesIO()
        Image.fromarray(self.thumbnail, "L").save(thumb, "JPEG", quality=_THUMB_QUALITY)
        return b"".join(
            (
                _HEADER.pack(_MAGIC, width, height, len(kp)),
                positions.tobytes(),
                np.ascontiguousarray(kp.descriptors, dtype=np.uint8).tobytes(),
                thumb.getvalue(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> KnownFeatures:
        """The inverse of :meth:`to_bytes`; a damaged value is an input error, not a crash."""
        (width, height), positions, descriptors, rest = _read_keypoints(data)
        try:
            thumbnail = np.asarray(Image.open(io.BytesIO(rest)).convert("L"), dtype=np.uint8)
            if thumbnail.shape != (THUMB, THUMB):
                raise ValueError("thumbnail of the wrong size")
        except (ValueError, OSError) as exc:
            raise InvalidInput(f"stored local features are damaged: {exc}") from exc
        points = positions.astype(np.float32) / 64
        return cls(Keypoints(points, descriptors, (width, height)), thumbnail)

    @staticmethod
    def descriptors_in(data: bytes) -> np.ndarray:
        """Only the descriptors of a stored record, its thumbnail left undecoded: what the
        descriptor index loads for every item at start."""
        return _read_keypoints(data)[2]


def _read_keypoints(data: bytes) -> tuple[tuple[int, int], np.ndarray, np.ndarray, bytes]:
    """A record's size, positions (n x 2, 1/64 px), descriptors and the bytes after them."""
    try:
        magic, width, height, count = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a feature record")
        start = _HEADER.size
        end = start + count * 4
        positions = np.frombuffer(data[start:end], dtype="<u2").reshape(count, 2)
        stop = end + count * DESCRIPTOR_BYTES
        descriptors = np.frombuffer(data[end:stop], dtype=np.uint8).reshape(count, DESCRIPTOR_BYTES)
    except (ValueError, struct.error) as exc:
        raise InvalidInput(f"stored local features are damaged: {exc}") from exc
    return (width, height), positions, descriptors, data[stop:]


@dataclass(frozen=True, slots=True, eq=False)
class QueryFeatures:
    """A query's keypoints, and its greyscale pixels to compare aligned known pictures with."""

    keypoints: Keypoints
    #: Greyscale, at most QUERY_PIXELS on the long side, the same frame as the keypoints.
    pixels: np.ndarray


def _grey(picture: Image.Image, side: int) -> np.ndarray:
    grey = picture.convert("L")
    if max(grey.size) > side:
        scale = side / max(grey.size)
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)


def _detect(
    grey: np.ndarray, count: int, levels: int = 8
) -> tuple[Keypoints, np.ndarray, np.ndarray]:
    """ORB keypoints on ``levels`` octaves of the pyramid, and each one's octave and strength
    (ORB's Harris response)."""
    orb = cv2.ORB_create(
        nfeatures=count, nlevels=levels, edgeThreshold=15, patchSize=31, fastThreshold=10
    )
    found, descriptors = orb.detectAndCompute(grey, None)
    height, width = grey.shape
    if descriptors is None or not found:
        empty = np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
        none = np.zeros(0)
        return Keypoints(np.zeros((0, 2), np.float32), empty, (width, height)), none, none
    points = np.array([k.pt for k in found], dtype=np.float32)
    octaves = np.array([k.octave for k in found], dtype=int)
    strength = np.array([k.response for k in found])
    return Keypoints(points, descriptors, (width, height)), octaves, strength


def _orb(grey: np.ndarray, count: int) -> Keypoints:
    return _detect(grey, count)[0]


def describe_known(picture: Image.Image) -> KnownFeatures:
    """Features of a known item's upright picture (any size; it is reduced here)."""
    grey = _grey(picture, KNOWN_SIDE)
    thumb = cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    keypoints, octaves, _ = _detect(grey, KNOWN_FEATURES)
    # Fewer than asked: the picture has no more keypoints to offer, so there is nothing to
    # choose again (and flat pictures keep exactly what was measured for them).
    if len(keypoints) == KNOWN_FEATURES:
        keypoints = _fine_spread_over(grey, keypoints, octaves)
    return KnownFeatures(keypoints, thumb)


def _fine_spread_over(grey: np.ndarray, keypoints: Keypoints, octaves: np.ndarray) -> Keypoints:
    """The known keypoints of the finest octaves chosen again, spread over the picture.

    ORB gives each octave its share of keypoints and takes the strongest, which crowd where
    the picture is busiest (a thermal picture's label box, the strip of town under a dusk
    sky); a crop that cuts that part away leaves nothing to match. A screenshot shows the
    picture smaller, and only the coarser octaves' keypoints survive that: those stay as ORB
    chose them. The finest octaves' share is filled from more candidates, strongest first,
    at most :data:`_SPREAD_CAP` of it from one cell of a :data:`_SPREAD_GRID` grid."""
    coarse = octaves >= _FINE_OCTAVES
    share = len(keypoints) - int(coarse.sum())
    if share == 0:
        return keypoints
    pool, _, strength = _detect(grey, share * _SPREAD_POOL, levels=_FINE_OCTAVES)
    strongest = np.argsort(-strength, kind="stable")
    width, height = keypoints.size
    column = np.minimum(pool.points[:, 0] * _SPREAD_GRID // width, _SPREAD_GRID - 1)
    row = np.minimum(pool.points[:, 1] * _SPREAD_GRID // height, _SPREAD_GRID - 1)
    cells = (row * _SPREAD_GRID + column).astype(int)
    cap = max(1, int(np.ceil(share * _SPREAD_CAP)))
    taken = np.zeros(_SPREAD_GRID * _SPREAD_GRID, int)
    chosen: list[int] = []
    passed: list[int] = []
    for i in strongest:
        if taken[cells[i]] < cap:
            taken[cells[i]] += 1
            chosen.append(int(i))
        else:
            passed.append(int(i))
    picks = (chosen + passed)[:share]
    return Keypoints(
        np.concatenate([keypoints.points[coarse], pool.points[picks]]),
        np.concatenate([keypoints.descriptors[coarse], pool.descriptors[picks]]),
        keypoints.size,
    )


def describe_query(picture: Image.Image) -> QueryFeatures:
    """Features of a submitted upright picture (any size; it is reduced here)."""
    grey = _grey(picture, QUERY_SIDE)
    keypoints = _orb(grey, QUERY_FEATURES)
    height, width = grey.shape
    if max(width, height) > QUERY_PIXELS:
        scale = QUERY_PIXELS / max(width, height)
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(grey, small, interpolation=cv2.INTER_AREA)
    else:
        pixels = grey
    return QueryFeatures(keypoints, pixels)


def describe_both(picture: Image.Image, aside: Executor) -> tuple[QueryFeatures, KnownFeatures]:
    """:func:`describe_query` and :func:`describe_known` of one upright picture, the second run on
    ``aside`` (a thread) while the first runs here."""
    # One greyscale copy that only these two read (both take luminance alone, so they find
    # the same features as from the picture itself): a Pillow image is not shared safely
    # with a thread while its owner may still load or change it.
    grey = picture.convert("L")
    known = aside.submit(describe_known, grey)
    try:
        query = describe_query(grey)
    finally:
        stored = known.result()
    return query, stored
