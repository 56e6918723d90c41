"""Local-feature matching on real photos: reframed copies are found, and said how; different
photographs of the same scene never pass for certain; stored features survive the database.

The copies and the hard negatives are made here from a few corpus photos (``bench/
hard_negatives.py`` measures the same kinds on many more); each query is saved as a JPEG, as
it would arrive.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from checks.alignment import Alignment, align
from checks.errors import InvalidInput
from checks.local_features import KnownFeatures, describe_known, describe_query
from checks.matching import Confidence, MatchKind, judge_alignment, local_confidence

#: Textured camera photos of three different scenes (each is a background for the others).
PHOTOS = ("Canon_EOS_D60.jpg", "Canon_PowerShot_A40.jpg", "Casio_EX-Z3.jpg")
#: How far a found region may be from where the known picture really is (fractions).
REGION_TOLERANCE = 0.05


#: A phone screenshot is tall: at QUERY_SIDE on its long side the photo in it is ~200 px wide.
SCREENSHOT_CASES = PHOTOS[:3]
BURST_CASES = PHOTOS

Box = tuple[float, float, float, float]


@pytest.fixture(scope="module")
def photos(images: Path) -> dict[str, Image.Image]:
    """The photos, upright, in RGB, at most 1024 px on the long side."""
    found = {}
    for name in PHOTOS:
        picture = ImageOps.exif_transpose(Image.open(images / "photos" / name)).convert("RGB")
        picture.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
        found[name] = picture
    return found


def received(picture: Image.Image | np.ndarray, quality: int = 80) -> Image.Image:
    """The picture as it arrives: saved as a JPEG and decoded again."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def aligned(known: Image.Image, query: Image.Image) -> Alignment | None:
    return align(describe_known(known), describe_query(query))


def tier(known: Image.Image, query: Image.Image) -> Confidence:
    alignment = aligned(known, query)
    return local_confidence(alignment) if alignment else Confidence.NONE


def warp_into(
    picture: np.ndarray, corners: list[tuple[float, float]], canvas: np.ndarray
) -> np.ndarray:
    """``picture`` drawn onto a copy of ``canvas`` with its corners at ``corners`` (clockwise
    from top left): a print or a screen photographed at an angle."""
    height, width = picture.shape[:2]
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(source, np.float32(corners))
    size = (canvas.shape[1], canvas.shape[0])
    ink = cv2.warpPerspective(picture, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size)[:, :, None]
    return (mask * ink + (1 - mask) * canvas).astype(np.uint8)


def assert_found(alignment: Alignment | None, kind: MatchKind, region: Box) -> None:
    assert alignment is not None
    assert local_confidence(alignment) is Confidence.CERTAIN, alignment
    way = judge_alignment(alignment)
    assert way is not None and way.kind is kind, (way, alignment)
    found = way.region or (0.0, 0.0, 1.0, 1.0)
    assert np.allclose(found, region, atol=REGION_TOLERANCE), (found, region)


# Copies that change the frame: found for certain, with the kind and the region.


@pytest.mark.shared_data
@pytest.mark.parametrize("name", PHOTOS)
def test_a_crop_is_found(photos: dict[str, Image.Image], name: str) -> None:
    picture = photos[name]
    w, h = picture.size
    # 12% off the left, 4% off the top, 2% off the right, 9% off the bottom.
    crop = picture.crop((round(w * 0.12), round(h * 0.04), round(w * 0.98), round(h * 0.91)))
    # The known picture reaches past every edge of a crop: it fills the whole query.
    assert_found(aligned(picture, received(crop)), MatchKind.CROPPED, (0.0, 0.0, 1.0, 1.0))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", SCREENSHOT_CASES)
def test_a_screenshot_frame_is_found(photos: dict[str, Image.Image], name: str) -> None:
    picture = photos[name]
    w, h = picture.size
    screen = Image.new("RGB", (round(w / 0.55), round(w / 0.55 * 19.5 / 9)), (236, 229, 221))
    screen.paste((7, 94, 84), (0, 0, screen.width, screen.width // 7))
    left, top = round(screen.width * 0.3), screen.width // 7 + 40
    screen.paste(picture, (left, top))
    truth = (
        left / screen.width,
        top / screen.height,
        (left + w) / screen.width,
        (top + h) / screen.height,
    )
    assert_found(aligned(picture, received(screen)), MatchKind.SCREENSHOT, truth)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", PHOTOS)
def test_a_keystone_is_found(photos: dict[str, Image.Image], name: str) -> None:
    """A screen photographed from the side: the right edge shorter, on a grey desk."""
    picture = np.asarray(photos[name])
    h, w = picture.shape[:2]
    canvas = np.full((round(h * 1.25), round(w * 1.25), 3), 90, np.uint8)
    x0, y0, x1, y1 = w * 0.1, h * 0.1, w * 1.15, h * 1.15
    squeeze = (y1 - y0) * 0.09
    corners = [(x0, y0), (x1, y0 + squeeze), (x1, y1 - squeeze), (x0, y1)]
    query = received(warp_into(picture, corners, canvas))
    truth = (x0 / canvas.shape[1], y0 / canvas.shape[0], x1 / canvas.shape[1], y1 / canvas.shape[0])
    assert_found(aligned(photos[name], query), MatchKind.PERSPECTIVE, truth)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", PHOTOS)
def test_a_tilt_is_found(photos: dict[str, Image.Image], name: str) -> None:
    """Turned 5 degrees on a white page, with a margin around it."""
    picture = photos[name]
    turned = picture.rotate(5, Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    margin = (round(turned.width * 0.08), round(turned.height * 0.08))
    query = ImageOps.expand(turned, border=margin, fill=(255, 255, 255))
    truth = (
        margin[0] / query.width,
        margin[1] / query.height,
        1 - margin[0] / query.width,
        1 - margin[1] / query.height,
    )
    alignment = aligned(picture, received(query))
    assert_found(alignment, MatchKind.ROTATED, truth)
    # The angle's size is measured; its sign is the image's (y down): PIL's counter-clockwise
    # turn comes out negative.
    assert alignment is not None and abs(abs(alignment.angle) - 5) < 1.0


# Different photographs of one scene: they line up, but never for certain.


def busiest(pixels: np.ndarray, size: tuple[float, float]) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) of ``size`` (shares of the frame) over the busiest pixels, on a
    coarse grid: the subject, where moving it matters."""
    height, width = pixels.shape[:2]
    w, h = round(width * size[0]), round(height * size[1])
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
    boxes = [
        (x, y, w, h)
        for x in range(0, width - w + 1, max(1, (width - w) // 6))
        for y in range(0, height - h + 1, max(1, (height - h) // 6))
    ]
    return max(boxes, key=lambda b: float(energy[b[1] : b[1] + h, b[0] : b[0] + w].mean()))


def burst(picture: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Two frames of a burst: the subject (a quarter of the width, 40% of the height) moves
    15% of the width, its old place shows what was around it, and the camera shakes (1.5%
    shift, half a degree)."""
    first = np.asarray(picture)
    height, width = first.shape[:2]
    x, y, w, h = busiest(first, (0.25, 0.4))
    dx = round(width * 0.15) * (1 if x + w + round(width * 0.15) <= width else -1)
    hole = np.zeros((height, width), np.uint8)
    cv2.ellipse(hole, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    later = cv2.inpaint(first, hole, 5, cv2.INPAINT_TELEA)
    subject = np.zeros((h, w), np.float32)
    cv2.ellipse(subject, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(subject, (0, 0), 3)[:, :, None]
    area = later[y : y + h, x + dx : x + dx + w].astype(np.float32)
    later[y : y + h, x + dx : x + dx + w] = mask * first[y : y + h, x : x + w] + (1 - mask) * area
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 0.5, 1.0)
    turn[:, 2] += (width * 0.015, height * 0.015)
    later = cv2.warpAffine(later, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
    inner = (
        slice(round(height * 0.03), round(height * 0.97)),
        slice(round(width * 0.03), round(width * 0.97)),
    )
    return received(first[inner], 92), received(later[inner])


def poster_in(
    poster: Image.Image, scene: Image.Image, corners: list[tuple[float, float]]
) -> Image.Image:
    """``poster`` printed and photographed in ``scene``, its corners at ``corners`` (shares of
    the scene's width and height)."""
    canvas = np.asarray(scene)
    height, width = canvas.shape[:2]
    at = [(x * width, y * height) for x, y in corners]
    return received(warp_into(np.asarray(poster), at, canvas))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", BURST_CASES)
def test_a_burst_shot_is_never_certain(photos: dict[str, Image.Image], name: str) -> None:
    known, query = burst(photos[name])
    assert tier(known, query) is not Confidence.CERTAIN, aligned(known, query)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", PHOTOS)
def test_a_poster_in_another_scene_is_never_certain(
    photos: dict[str, Image.Image], name: str
) -> None:
    """The same print in two rooms, in two poses: the print lines up, the rooms do not."""
    first, second = (photos[other] for other in PHOTOS if other != name)
    poster = photos[name]
    known = poster_in(poster, first, [(0.15, 0.1), (0.85, 0.15), (0.8, 0.85), (0.2, 0.9)])
    query = poster_in(poster, second, [(0.25, 0.2), (0.9, 0.1), (0.95, 0.9), (0.3, 0.8)])
    assert tier(known, query) is not Confidence.CERTAIN, aligned(known, query)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", PHOTOS)
def test_overlapping_views_are_never_certain(photos: dict[str, Image.Image], name: str) -> None:
    """Two views of one scene sharing 30% of it: the left and right 65%, the top and bottom."""
    picture = photos[name]
    w, h = picture.size
    left, right = picture.crop((0, 0, round(w * 0.65), h)), picture.crop((round(w * 0.35), 0, w, h))
    top, bottom = picture.crop((0, 0, w, round(h * 0.65))), picture.crop((0, round(h * 0.35), w, h))
    for known, query in ((left, right), (right, left), (top, bottom), (bottom, top)):
        alignment = aligned(received(known, 92), received(query))
        # They do line up (this is a hard negative, not an easy one), only never for certain.
        assert alignment is not None
        assert local_confidence(alignment) is not Confidence.CERTAIN, alignment


# Stored features and pictures without any (no corpus needed).


def drawn_scene(seed: int = 3) -> Image.Image:
    """A busy drawn picture: many corners for ORB, the same every run."""
    rng = np.random.default_rng(seed)
    canvas = np.full((480, 640, 3), 200, np.uint8)
    for _ in range(120):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, 600, 2))
        w, h = (int(v) for v in rng.integers(8, 60, 2))
        if rng.random() < 0.5:
            cv2.rectangle(canvas, (x, y % 440), (x + w, y % 440 + h), colour, -1)
        else:
            cv2.circle(canvas, (x, y % 440), w // 2, colour, 2)
    return Image.fromarray(canvas)


@pytest.mark.shared_data
def test_a_crop_without_the_part_where_detail_crowds_is_found(images: Path) -> None:
    """A thermal camera's picture has its sharpest detail in a label box at the top left and
    little elsewhere: a crop that leaves the box out must still be found."""
    picture = ImageOps.exif_transpose(Image.open(images / "photos" / "FLIR.jpg")).convert("RGB")
    width, height = picture.size
    crop = picture.crop((round(0.2 * width), 0, width, round(0.8 * height)))
    assert tier(picture, received(crop)) is Confidence.CERTAIN


def test_known_features_survive_the_database() -> None:
    picture = drawn_scene()
    features = describe_known(picture)
    again = KnownFeatures.from_bytes(features.to_bytes())
    kp, kq = features.keypoints, again.keypoints
    assert len(kp) == len(kq) > 100
    assert kq.size == kp.size
    assert np.array_equal(kq.descriptors, kp.descriptors)
    # Positions are kept to 1/64 pixel; the thumbnail as a JPEG at quality 85 (off by a few
    # grey levels on average, far under what a tile's residual is judged against).
    assert np.abs(kq.points - kp.points).max() <= 1 / 128 + 1e-6
    assert np.abs(again.thumbnail.astype(int) - features.thumbnail.astype(int)).mean() < 4


@pytest.mark.shared_data
def test_stored_features_still_find_a_crop(photos: dict[str, Image.Image]) -> None:
    picture = photos[PHOTOS[0]]
    stored = KnownFeatures.from_bytes(describe_known(picture).to_bytes())
    w, h = picture.size
    crop = received(picture.crop((round(w * 0.1), 0, w, round(h * 0.9))))
    alignment = align(stored, describe_query(crop))
    assert alignment is not None and local_confidence(alignment) is Confidence.CERTAIN


def damaged(data: bytes) -> list[bytes]:
    """Ways a stored value breaks: empty, cut anywhere, wrong magic, a wrong count, garbage."""
    header = struct.calcsize("<4sHHH")
    count = struct.unpack_from("<4sHHH", data)[3]
    thumb = header + count * 36
    return [
        b"",
        data[:5],
        b"XXXX" + data[4:],
        data[: header + 7],
        data[: thumb - 3],
        data[:thumb],
        data[: thumb + 40],
        data[:header] + b"\xff" * (len(data) - header),
        struct.pack("<4sHHH", b"TLF1", 10, 10, count + 1) + data[header:],
    ]


def test_damaged_features_are_an_input_error() -> None:
    data = describe_known(drawn_scene()).to_bytes()
    assert KnownFeatures.from_bytes(data).keypoints.size == (512, 384)
    for number, value in enumerate(damaged(data)):
        with pytest.raises(InvalidInput, match="damaged"):
            KnownFeatures.from_bytes(value)
            pytest.fail(f"damaged value {number} was read")


def test_a_flat_picture_aligns_with_nothing() -> None:
    flat = Image.new("RGB", (800, 600), (128, 130, 127))
    features = describe_known(flat)
    assert len(features.keypoints) == 0
    assert len(KnownFeatures.from_bytes(features.to_bytes()).keypoints) == 0
    busy = drawn_scene()
    assert align(describe_known(busy), describe_query(busy)) is not None  # the busy one aligns
    assert align(features, describe_query(busy)) is None
    assert align(describe_known(busy), describe_query(flat)) is None
    assert align(features, describe_query(flat)) is None


def inset(inliers: int, correlation: float, agreeing: float, shown: float) -> Alignment:
    """A small known picture placed in a tall screenshot, on few keypoints."""
    return Alignment(
        inliers=inliers,
        known_shown=shown,
        query_filled=0.06,
        correlation=correlation,
        tiles_agreeing=agreeing,
        worst_tile=0.06,
        tiles=64,
        angle=0.0,
        perspective=0.0,
        region=(0.2, 0.1, 0.45, 0.2),
    )


def test_a_small_inset_on_few_keypoints_goes_to_a_person_only_when_its_pixels_agree() -> None:
    assert local_confidence(inset(10, 0.99, 1.0, 1.0)) is Confidence.SIMILAR
    assert local_confidence(inset(10, 0.9, 1.0, 1.0)) is Confidence.NONE  # pixels differ
    assert local_confidence(inset(10, 0.99, 0.8, 1.0)) is Confidence.NONE  # some tiles differ
    assert local_confidence(inset(10, 0.99, 1.0, 0.6)) is Confidence.NONE  # merely overlaps
    assert local_confidence(inset(30, 0.99, 1.0, 1.0)) is Confidence.CERTAIN
