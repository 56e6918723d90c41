"""Align a known picture onto a query by their local features, then compare the pixels.

Keypoints that agree are not enough: a burst shot, the same landmark from the same spot, or a
poster photographed in another room all share keypoints with a known picture. So a candidate
must pass three tests, and the evidence is kept for :func:`checks.matching.local_confidence`
to decide on:

1. **Geometry.** Matches (Hamming, Lowe's ratio) must agree on one homography (MAGSAC), with
   enough inliers, and the homography must be one a copy can have: bounded scale, shear and
   perspective, the known picture's corners still a convex quadrilateral.
2. **Overlap.** How much of the known picture is in the query (``known_shown``) and how much of
   the query the known picture fills (``query_filled``). A copy holds one inside the other
   (a crop: the query is inside the known; a frame or a screenshot: the known is inside the
   query); two photos that merely overlap do neither.
3. **Pixels.** The query warped into the known picture's frame must look like it: the
   normalised correlation over the overlap, and tile by tile the residual against the tile's
   own detail (a moved subject in a burst shot, or another background behind the same object,
   fails tiles even when the rest agrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from checks.local_features import THUMB, KnownFeatures, QueryFeatures

__all__ = ["Alignment", "align"]

#: Lowe's ratio: the best match must be clearly better than the second best.
_RATIO = 0.8
#: Fewest ratio-test matches worth fitting a homography to.
_MIN_MATCHES = 10
#: MAGSAC's inlier threshold, in query pixels (at QUERY_SIDE).
_REPROJECTION = 4.0
#: A copy's scale against the known picture (side over side), and its distortion.
_MIN_SCALE, _MAX_SCALE = 0.1, 8.0
_MAX_ASPECT_CHANGE = 1.6
_MIN_CORNER_ANGLE = 50.0
#: Tiles of the THUMB frame compared on their own (TILE x TILE pixels); a tile agrees when its
#: residual is at most _TILE_RESIDUAL times its detail (mean gradient, plus _FLAT_DETAIL grey
#: levels so that flat tiles are judged by their noise).
_TILE = 8
#: The aligned query is warped at this many times the thumbnail's side, then shrunk; the
#: outer _RING pixels of the thumbnail, where warping blends in what surrounds the picture,
#: are left out of the tiles.
_FINE = 4
_RING = 2
#: Below this many query pixels on its longer side, the known picture is compared blurred.
_SMALL = THUMB * 3
_BLUR = 0.8
_TILE_RESIDUAL = 0.8
_FLAT_DETAIL = 4.0
#: The pixels bring a placement that lines up (correlation at least _REFINE_CORRELATION) but
#: has a tile worse than _SETTLED_TILE to its exact position: ECC on an _ECC_SIDE template,
#: at most _ECC_STEPS steps, smoothed; refused if a corner moves more than _ECC_MOVE of the
#: picture's extent in the query (or 2 pixels). See docs/calibration.md.
_REFINE_CORRELATION = 0.9
_SETTLED_TILE = 0.15
_ECC_SIDE = 128
_ECC_STEPS = 30
_ECC_EPS = 1e-3
_ECC_SMOOTHING = 3
_ECC_MOVE = 0.03


@dataclass(frozen=True, slots=True)
class Alignment:
    """What aligning one known picture onto a query showed."""

    inliers: int
    #: Share of the known picture that is inside the query's frame.
    known_shown: float
    #: Share of the query's frame the known picture covers.
    query_filled: float
    #: Normalised correlation of the aligned pixels over the overlap (-1..1).
    correlation: float
    #: Share of the overlap's tiles whose pixels agree on their own, the worst tile's residual
    #: against its detail, and how many tiles were compared.
    tiles_agreeing: float
    worst_tile: float
    tiles: int
    #: Turn of the known picture in the query, degrees (clockwise as seen), and how far the
    #: homography is from a similarity (0 for a flat copy; a keystone is ~0.1 and more).
    angle: float
    perspective: float
    #: Where the known picture sits in the query: left, top, right, bottom (fractions).
    region: tuple[float, float, float, float]


def _corners(width: float, height: float) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)


def _plausible(quad: np.ndarray, known_size: tuple[int, int]) -> bool:
    """The known picture's corners mapped into the query: a convex, not too skewed shape."""
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2).astype(np.float32)):
        return False
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    width, height = known_size
    scale = float(np.sqrt(cv2.contourArea(quad) / (width * height)))
    if not _MIN_SCALE <= scale <= _MAX_SCALE:
        return False
    aspect = ((sides[0] + sides[2]) / 2) / max((sides[1] + sides[3]) / 2, 1e-6)
    change = aspect / (width / height)
    if not 1 / _MAX_ASPECT_CHANGE <= change <= _MAX_ASPECT_CHANGE:
        return False
    for i in range(4):
        a, b = quad[i - 1] - quad[i], quad[(i + 1) % 4] - quad[i]
        cos = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))
        if np.degrees(np.arccos(np.clip(cos, -1, 1))) < _MIN_CORNER_ANGLE:
            return False
    return True


def _overlap(quad: np.ndarray, query_size: tuple[int, int]) -> tuple[float, float]:
    """(known_shown, query_filled) from the known corners mapped into the query."""
    width, height = query_size
    frame = _corners(width, height)
    area, _ = cv2.intersectConvexConvex(quad.astype(np.float32), frame)
    quad_area = cv2.contourArea(quad)
    known_shown = float(area / quad_area) if quad_area > 0 else 0.0
    query_filled = float(area / (width * height))
    return known_shown, query_filled


def _warp(homography: np.ndarray, known: KnownFeatures, query: QueryFeatures) -> np.ndarray:
    """The placement as a map from the known picture at _FINE x the thumbnail's side to the
    query's pixels."""
    width, height = known.keypoints.size
    pixels_h, pixels_w = query.pixels.shape
    fine = THUMB * _FINE
    to_known = np.diag([width / fine, height / fine, 1.0])
    qk = query.keypoints
    to_pixels = np.diag([pixels_w / qk.size[0], pixels_h / qk.size[1], 1.0])
    return to_pixels @ homography @ to_known


def _refined(warp: np.ndarray, known: KnownFeatures, query: QueryFeatures) -> np.ndarray | None:
    """The placement brought to the pixels (ECC: the warp that maximises their correlation),
    or None when it will not settle close by. Keypoints place a picture that is small in the
    query, or poor in texture, a pixel or two off; that alone fails a tile. A refinement that
    moves a corner further than a small share of the picture is another placement, not this
    one made exact, and is refused."""
    scale = np.diag([_FINE * THUMB / _ECC_SIDE, _FINE * THUMB / _ECC_SIDE, 1.0])
    start = warp @ scale
    template = cv2.resize(known.thumbnail, (_ECC_SIDE, _ECC_SIDE), interpolation=cv2.INTER_LINEAR)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, _ECC_STEPS, _ECC_EPS)
    try:
        _, found = cv2.findTransformECC(
            template.astype(np.float32),
            query.pixels.astype(np.float32),
            (start / start[2, 2]).astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            None,
            _ECC_SMOOTHING,
        )
    except cv2.error:  # it did not converge: keep the keypoints' placement
        return None
    corners = _corners(_ECC_SIDE, _ECC_SIDE).reshape(-1, 1, 2)
    before = cv2.perspectiveTransform(corners, start).reshape(4, 2)
    after = cv2.perspectiveTransform(corners, found.astype(np.float64)).reshape(4, 2)
    if not np.isfinite(after).all():
        return None
    extent = float((before.max(axis=0) - before.min(axis=0)).max())
    if float(np.linalg.norm(after - before, axis=1).max()) > max(_ECC_MOVE * extent, 2.0):
        return None
    return found.astype(np.float64) @ np.linalg.inv(scale)


def _pixels_agree(
    warp: np.ndarray, known: KnownFeatures, query: QueryFeatures
) -> tuple[float, float, float, int]:
    """Warp the query into the known thumbnail's frame and compare: correlation over the
    overlap; then, after fitting one gain and offset, each tile's residual against its own
    detail (a resampled edge leaves a residual in proportion to its gradient; a changed
    subject leaves far more): the share of tiles within :data:`_TILE_RESIDUAL`, the worst
    tile's ratio, and the number of tiles."""
    # Warp at _FINE x _FINE (bilinear), then shrink to the thumbnail by area: warping straight
    # to 64 px would sample the query without smoothing it, and alias.
    fine = THUMB * _FINE
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    seen = cv2.warpPerspective(query.pixels, warp, (fine, fine), flags=flags)
    mask = cv2.warpPerspective(
        np.full(query.pixels.shape, 255, np.uint8), warp, (fine, fine), flags=flags
    )
    seen = cv2.resize(seen, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    inside = mask > 250
    if inside.sum() < THUMB * THUMB * 0.1:
        return 0.0, 0.0, float("inf"), 0
    a = known.thumbnail.astype(np.float32)
    b = seen.astype(np.float32)
    if _extent(warp, fine) < _SMALL:
        # The known picture is small in the query (a photo in a screenshot): the copy went
        # through more resizing and lost its finest detail, which is not a change. Compare
        # at the detail both sides still have.
        a = cv2.GaussianBlur(a, (3, 3), _BLUR)
        b = cv2.GaussianBlur(b, (3, 3), _BLUR)
    av, bv = a[inside], b[inside]
    ac, bc = av - av.mean(), bv - bv.mean()
    denominator = float(np.sqrt((ac * ac).sum() * (bc * bc).sum()))
    correlation = float((ac * bc).sum() / denominator) if denominator > 0 else 0.0
    gain = float((ac * bc).sum() / max(float((ac * ac).sum()), 1e-6))
    # The residual forgives a misregistration of one thumbnail pixel (1.5% of the picture):
    # a homography from a few dozen keypoints is rarely closer than that.
    fitted = cv2.copyMakeBorder(
        gain * (a - av.mean()) + bv.mean(), 1, 1, 1, 1, cv2.BORDER_REPLICATE
    )
    residual = np.min(
        [
            np.abs(b - fitted[1 + dy : 1 + dy + THUMB, 1 + dx : 1 + dx + THUMB])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ],
        axis=0,
    )
    residual[:_RING, :] = residual[-_RING:, :] = 0
    residual[:, :_RING] = residual[:, -_RING:] = 0
    detail = np.maximum(_gradient(a), _gradient(b) * abs(gain))
    ratios = []
    for y in range(0, THUMB, _TILE):
        for x in range(0, THUMB, _TILE):
            if not inside[y : y + _TILE, x : x + _TILE].all():
                continue
            tile = np.s_[y : y + _TILE, x : x + _TILE]
            ratios.append(residual[tile].mean() / (detail[tile].mean() + _FLAT_DETAIL))
    if not ratios:
        return correlation, 0.0, float("inf"), 0
    found = np.array(ratios)
    return correlation, float((found <= _TILE_RESIDUAL).mean()), float(found.max()), len(found)


def _extent(warp: np.ndarray, side: int) -> float:
    """The longer side, in query pixels, of the box the known picture covers."""
    corners = _corners(side, side).reshape(-1, 1, 2)
    placed = cv2.perspectiveTransform(corners, warp).reshape(4, 2)
    return float((placed.max(axis=0) - placed.min(axis=0)).max())


def _gradient(picture: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1)
    return np.hypot(gx, gy) / 4


def _shape(homography: np.ndarray) -> tuple[float, float]:
    """Turn (degrees) and departure from a similarity of a homography."""
    h = homography / homography[2, 2]
    a, b, c, d = h[0, 0], h[0, 1], h[1, 0], h[1, 1]
    angle = float(np.degrees(np.arctan2(c - b, a + d)))
    scale = np.sqrt(abs(a * d - b * c)) or 1.0
    # A similarity has a == d and b == -c; the rest, with the projective row, is distortion.
    shear = (abs(a - d) + abs(b + c)) / (2 * scale)
    projective = float(np.hypot(h[2, 0], h[2, 1])) * 500
    return angle, float(shear + projective)


def align(known: KnownFeatures, query: QueryFeatures) -> Alignment | None:
    """The evidence that ``known`` appears in ``query``, or None when the keypoints do not even
    agree on a plausible placement."""
    kk, qk = known.keypoints, query.keypoints
    if len(kk) < _MIN_MATCHES or len(qk) < _MIN_MATCHES:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(kk.descriptors, qk.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
    if len(good) < _MIN_MATCHES:
        return None
    src = kk.points[[m.queryIdx for m in good]]
    dst = qk.points[[m.trainIdx for m in good]]
    found = [_evidence(model, known, query) for model in _models(src, dst)]
    placed = [evidence for evidence in found if evidence is not None]
    # A homography fitted to keypoints in one part of a small picture can tilt the rest; a
    # similarity fitted to the same matches is steadier. The one the pixels agree with wins.
    return max(placed, key=lambda e: (e.correlation, e.inliers), default=None)


def _models(src: np.ndarray, dst: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Placements of the known keypoints ``src`` onto the query's ``dst``, with their inliers:
    a homography (MAGSAC) and a similarity (RANSAC)."""
    models = []
    homography, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, _REPROJECTION)
    if homography is not None and mask is not None and int(mask.sum()) >= _MIN_MATCHES:
        models.append((homography, int(mask.sum())))
    similarity, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=_REPROJECTION
    )
    if similarity is not None and mask is not None and int(mask.sum()) >= _MIN_MATCHES:
        models.append((np.vstack([similarity, [0.0, 0.0, 1.0]]), int(mask.sum())))
    return models


def _evidence(
    model: tuple[np.ndarray, int], known: KnownFeatures, query: QueryFeatures
) -> Alignment | None:
    """What one placement shows, or None when it is not one a copy can have."""
    homography, inliers = model
    kk, qk = known.keypoints, query.keypoints
    width, height = kk.size
    quad = cv2.perspectiveTransform(_corners(width, height).reshape(-1, 1, 2), homography)
    quad = quad.reshape(4, 2)
    if not np.isfinite(quad).all() or not _plausible(quad, kk.size):
        return None
    known_shown, query_filled = _overlap(quad, qk.size)
    warp = _warp(homography, known, query)
    pixels = _pixels_agree(warp, known, query)
    if pixels[0] >= _REFINE_CORRELATION and pixels[2] > _SETTLED_TILE:
        # Lines up, but a tile is off: is it the placement or the picture?
        better = _refined(warp, known, query)
        if better is not None:
            pixels = _pixels_agree(better, known, query)
    correlation, tiles_agreeing, worst_tile, tiles = pixels
    angle, perspective = _shape(homography)
    qw, qh = qk.size
    left, top = np.clip(quad.min(axis=0) / (qw, qh), 0, 1)
    right, bottom = np.clip(quad.max(axis=0) / (qw, qh), 0, 1)
    return Alignment(
        inliers=inliers,
        known_shown=round(known_shown, 3),
        query_filled=round(query_filled, 3),
        correlation=round(correlation, 3),
        tiles_agreeing=round(tiles_agreeing, 3),
        worst_tile=round(worst_tile, 2),
        tiles=tiles,
        angle=round(angle, 1),
        perspective=round(perspective, 3),
        region=(
            round(float(left), 3),
            round(float(top), 3),
            round(float(right), 3),
            round(float(bottom), 3),
        ),
    )
