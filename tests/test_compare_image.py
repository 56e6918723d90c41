"""The moderators' side-by-side picture: decodes, fits, shows both halves, survives odd input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from checks.compare_image import BACKGROUND, side_by_side

RED = (220, 30, 30)
BLUE = (30, 30, 220)
GREEN = (30, 200, 30)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


def close(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def colour_columns(image: Image.Image, colour: tuple[int, int, int]) -> list[int]:
    """x positions on the middle row whose pixel has ``colour``."""
    rgb = image.convert("RGB")
    y = rgb.height // 2
    return [x for x in range(rgb.width) if close(rgb.getpixel((x, y)), colour)]


@pytest.mark.parametrize(
    ("left_size", "right_size"),
    [
        ((4000, 3000), (600, 900)),  # landscape + portrait
        ((900, 1600), (1600, 900)),  # portrait + landscape
        ((64, 64), (48, 48)),  # thumbnails are enlarged
        ((3000, 3000), (3000, 3000)),
    ],
)
def test_both_pictures_side_by_side_at_one_height_within_the_limit(left_size, right_size):
    out = decode(side_by_side(Image.new("RGB", left_size, RED), Image.new("RGB", right_size, BLUE)))
    assert out.mode == "RGB"
    assert max(out.size) <= 1280
    reds, blues = colour_columns(out, RED), colour_columns(out, BLUE)
    assert reds and blues
    assert max(reds) < min(blues), "submitted on the left, known item on the right"
    assert min(blues) - max(reds) > 2, "a gap between them"
    # Same height: the middle column of each picture is coloured over the same rows.
    rgb = out.convert("RGB")
    rows = [
        [y for y in range(rgb.height) if close(rgb.getpixel((x, y)), colour)]
        for x, colour in (
            ((min(reds) + max(reds)) // 2, RED),
            ((min(blues) + max(blues)) // 2, BLUE),
        )
    ]
    assert abs(len(rows[0]) - len(rows[1])) <= 3
    assert abs(rows[0][0] - rows[1][0]) <= 2
    # Widths keep each picture's shape (JPEG edges blur a pixel or two).
    for columns, rows_, size in ((reds, rows[0], left_size), (blues, rows[1], right_size)):
        shown_ratio = len(columns) / len(rows_)
        assert shown_ratio == pytest.approx(size[0] / size[1], rel=0.06)


def test_small_pictures_are_enlarged_to_be_seen():
    out = decode(side_by_side(Image.new("RGB", (40, 30), RED), Image.new("RGB", (30, 40), BLUE)))
    assert len(colour_columns(out, RED)) > 200


@pytest.mark.parametrize("max_side", [64, 200, 640, 1280, 2048])
def test_the_long_side_respects_max_side(max_side: int):
    data = side_by_side(
        Image.new("RGB", (5000, 1000), RED),
        Image.new("RGB", (800, 6000), BLUE),
        caption="PDQ distance 12 — mirrored copy",
        max_side=max_side,
    )
    out = decode(data)
    assert max(out.size) <= max_side
    assert max(out.size) >= max_side * 0.8, "the room is used, not wasted"


def test_max_side_too_small_is_refused():
    with pytest.raises(ValueError, match="max_side"):
        side_by_side(Image.new("RGB", (10, 10)), Image.new("RGB", (10, 10)), max_side=10)


def test_labels_and_caption_are_drawn_in_their_bands():
    plain = decode(
        side_by_side(Image.new("RGB", (400, 300), RED), Image.new("RGB", (400, 300), BLUE))
    )
    captioned = decode(
        side_by_side(
            Image.new("RGB", (400, 300), RED),
            Image.new("RGB", (400, 300), BLUE),
            caption="PDQ distance 12 — mirrored copy",
        )
    )
    assert captioned.height > plain.height  # a caption line was added below
    rgb = captioned.convert("RGB")
    top = rgb.crop((0, 0, rgb.width, 12))
    bottom = rgb.crop((0, rgb.height - 20, rgb.width, rgb.height))
    label_band = rgb.crop((0, 0, rgb.width // 2, colour_rows_start(rgb, RED)))
    assert bright_pixels(label_band) > 20, "the left label is drawn"
    assert bright_pixels(bottom) > 20, "the caption is drawn"
    assert bright_pixels(top) < bright_pixels(label_band)


def colour_rows_start(image: Image.Image, colour: tuple[int, int, int]) -> int:
    x = colour_columns(image, colour)[0] + 2
    return next(y for y in range(image.height) if close(image.getpixel((x, y)), colour))


def bright_pixels(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[151:])


@pytest.mark.parametrize(
    "label",
    [
        "x" * 5000,
        "A very long description of where this picture was first published " * 30,
        "line one\nline two\r\n\tline three\x00\x1b[31m",
        "Café Müller — Київ — 평양 — مرحبا",
        "",
        " ",
    ],
)
def test_long_or_odd_labels_do_not_overflow_or_crash(label: str):
    out = decode(
        side_by_side(
            Image.new("RGB", (30, 800), RED),  # a narrow column for the label to fit in
            Image.new("RGB", (800, 600), BLUE),
            left_label=label,
            right_label=label,
            caption=label,
            max_side=800,
        )
    )
    assert max(out.size) <= 800
    assert colour_columns(out, RED) and colour_columns(out, BLUE)
    # Nothing is drawn outside the margins: the outermost columns are background.
    rgb = out.convert("RGB")
    for x in (0, 1, rgb.width - 1, rgb.width - 2):
        assert all(close(rgb.getpixel((x, y)), BACKGROUND, 30) for y in range(rgb.height))


def test_transparent_and_palette_pictures():
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    rgba.paste((*GREEN, 255), (0, 0, 150, 300))
    palette = Image.new("RGB", (300, 200), BLUE).convert("P", palette=Image.Palette.ADAPTIVE)
    out = decode(side_by_side(rgba, palette))
    assert colour_columns(out, GREEN), "opaque part of the RGBA picture"
    assert colour_columns(out, (255, 255, 255)), "transparency shown over white"
    assert colour_columns(out, BLUE), "the palette picture"


@pytest.mark.parametrize("mode", ["1", "L", "LA", "PA", "CMYK", "I", "I;16", "F"])
def test_any_pillow_mode_is_accepted(mode: str):
    out = decode(side_by_side(Image.new(mode, (120, 90)), Image.new("RGB", (90, 120), RED)))
    assert out.mode == "RGB"
    assert colour_columns(out, RED)


def test_a_transparent_palette_gif():
    gif = Image.new("P", (100, 100), 1)
    gif.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    gif.info["transparency"] = 0
    gif.paste(0, (0, 0, 50, 100))
    out = decode(side_by_side(gif, Image.new("RGB", (100, 100), BLUE)))
    assert colour_columns(out, RED) and colour_columns(out, (255, 255, 255))


@pytest.mark.parametrize(
    ("left_size", "right_size"),
    [((8000, 200), (200, 8000)), ((20000, 20), (20, 20000)), ((5000, 500), (1000, 2000))],
)
def test_very_different_shapes_are_each_fitted_instead(left_size, right_size):
    out = decode(side_by_side(Image.new("RGB", left_size, RED), Image.new("RGB", right_size, BLUE)))
    assert max(out.size) <= 1280
    assert max(out.size) <= 20 * min(out.size), "Telegram's 20:1 photo ratio"
    if left_size[0] / left_size[1] < 100:  # a 1000:1 strip is a pixel thin and JPEG blurs it
        red_x, _ = extent(out, RED)
        blue_x, blue_y = extent(out, BLUE)
        assert red_x > 400, "the panorama gets about half the width"
        assert blue_y > 800, "the portrait gets the full height"
        assert blue_x > 5


def extent(image: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int]:
    """Width and height of the box holding the pixels of ``colour``."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    mask = (np.abs(pixels - np.array(colour)) <= 24).all(axis=-1)
    ys, xs = np.nonzero(mask)
    return (int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1) if xs.size else (0, 0)


def test_the_region_is_outlined_on_the_submitted_picture_only() -> None:
    grey = (128, 128, 128)
    plain = decode(
        side_by_side(Image.new("RGB", (400, 300), grey), Image.new("RGB", (400, 300), grey))
    )
    marked = decode(
        side_by_side(
            Image.new("RGB", (400, 300), grey),
            Image.new("RGB", (400, 300), grey),
            region=(0.25, 0.25, 0.75, 0.75),
        )
    )
    assert marked.size == plain.size
    changed = [
        (x, y)
        for x in range(0, marked.width, 2)
        for y in range(0, marked.height, 2)
        if _differs(marked.getpixel((x, y)), plain.getpixel((x, y)))
    ]
    assert changed, "the outline is drawn"
    middle = marked.width // 2
    assert all(x < middle for x, _ in changed), "only on the submitted (left) picture"


def _differs(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) > 60
