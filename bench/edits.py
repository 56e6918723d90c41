"""The copies of a picture that really circulate, made on purpose: crops, borders, caption bars,
screenshots, rotations, tilts, keystones, mirrors, each saved again as a JPEG the way a
platform would. Also hard negatives: a different photograph of the same scene.

Every edit is a function of the full-size picture and a random generator, so a run is
repeatable; ``EDITS`` names them as the recall report does.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = ["EDITS", "Edit", "reencode"]

Edit = Callable[[Image.Image, random.Random], Image.Image]


def reencode(image: Image.Image, quality: int = 75, long_side: int = 1280) -> bytes:
    """Save as a platform would: at most ``long_side`` pixels, baseline JPEG."""
    picture = image.convert("RGB")
    if max(picture.size) > long_side:
        scale = long_side / max(picture.size)
        picture = picture.resize(
            (round(picture.width * scale), round(picture.height * scale)),
            Image.Resampling.LANCZOS,
        )
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def crop_symmetric(fraction: float) -> Edit:
    """Remove ``fraction`` of the width and of the height, half on each side."""

    def edit(image: Image.Image, _rng: random.Random) -> Image.Image:
        dx, dy = round(image.width * fraction / 2), round(image.height * fraction / 2)
        return image.crop((dx, dy, image.width - dx, image.height - dy))

    return edit


def crop_asymmetric(fraction: float) -> Edit:
    """Remove ``fraction`` of the width and height, unevenly (most from one corner)."""

    def edit(image: Image.Image, rng: random.Random) -> Image.Image:
        share = rng.uniform(0.7, 1.0)
        left = round(image.width * fraction * share)
        top = round(image.height * fraction * (1 - share))
        right = image.width - (round(image.width * fraction) - left)
        bottom = image.height - (round(image.height * fraction) - top)
        return image.crop((left, top, right, bottom))

    return edit


def pad(fraction: float) -> Edit:
    """A flat border of ``fraction`` of the size on every side, in a random flat colour."""

    def edit(image: Image.Image, rng: random.Random) -> Image.Image:
        colour = rng.choice([(0, 0, 0), (255, 255, 255), (24, 24, 24), (240, 240, 236)])
        border = (round(image.width * fraction), round(image.height * fraction))
        return ImageOps.expand(image.convert("RGB"), border=border, fill=colour)

    return edit


def letterbox(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture centred in a portrait 9:16 frame, as a story or a reel shows it."""
    width = image.width
    height = max(image.height, round(width * 16 / 9))
    canvas = Image.new("RGB", (width, height), rng.choice([(0, 0, 0), (12, 12, 12)]))
    canvas.paste(image.convert("RGB"), (0, (height - image.height) // 2))
    return canvas


def caption_bar(image: Image.Image, rng: random.Random) -> Image.Image:
    """A meme caption: a white band above the picture with black text."""
    band = round(image.height * rng.uniform(0.15, 0.3))
    canvas = Image.new("RGB", (image.width, image.height + band), (255, 255, 255))
    canvas.paste(image.convert("RGB"), (0, band))
    draw = ImageDraw.Draw(canvas)
    size = max(12, band // 3)
    words = "WHEN THEY SAY IT HAPPENED LAST NIGHT IN THE CITY CENTRE"
    draw.text((size // 2, band // 4), words[: rng.randint(20, len(words))], font=_font(size),
              fill=(0, 0, 0))  # fmt: skip
    return canvas


def screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture at 40-70% of a phone screenshot of a chat: header, text bubbles, a bar."""
    screen_w = round(image.width / rng.uniform(0.4, 0.7))
    screen_h = max(round(screen_w * 19.5 / 9), image.height + screen_w // 2)
    background = rng.choice([(255, 255, 255), (236, 229, 221), (17, 27, 33)])
    ink = (0, 0, 0) if sum(background) > 300 else (230, 230, 230)
    canvas = Image.new("RGB", (screen_w, screen_h), background)
    draw = ImageDraw.Draw(canvas)
    header = screen_w // 7
    draw.rectangle((0, 0, screen_w, header), fill=(7, 94, 84))
    draw.text((header, header // 3), "News channel", font=_font(header // 3), fill=(255, 255, 255))
    top = header + rng.randint(screen_w // 20, screen_w // 6)
    left = rng.randint(screen_w // 30, screen_w - image.width - screen_w // 30)
    bubble = (left - 8, top - 8, left + image.width + 8, top + image.height + 60)
    draw.rounded_rectangle(
        bubble, radius=12, fill=(255, 255, 255) if ink == (0, 0, 0) else (32, 44, 51)
    )
    canvas.paste(image.convert("RGB"), (left, top))
    text_size = max(10, screen_w // 30)
    draw.text((left, top + image.height + 10), "Forwarded: look what happened",
              font=_font(text_size), fill=ink)  # fmt: skip
    y = top + image.height + 90
    while y < screen_h - header:
        width = rng.randint(screen_w // 3, screen_w - 40)
        draw.rounded_rectangle(
            (20, y, 20 + width, y + text_size * 2), radius=10, fill=(220, 248, 198)
        )
        draw.text((30, y + text_size // 3), "ok", font=_font(text_size), fill=(0, 0, 0))
        y += text_size * 3
    draw.rectangle((0, screen_h - header, screen_w, screen_h), fill=(240, 240, 240))
    return canvas


def rotate_quarter(turns: int) -> Edit:
    def edit(image: Image.Image, _rng: random.Random) -> Image.Image:
        return image.rotate(90 * turns, expand=True)

    return edit


def tilt(degrees: float) -> Edit:
    """A small rotation, either way, on a white canvas (as a re-photographed print)."""

    def edit(image: Image.Image, rng: random.Random) -> Image.Image:
        angle = degrees * rng.choice([-1, 1])
        return image.convert("RGB").rotate(
            angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
        )

    return edit


def keystone(image: Image.Image, rng: random.Random) -> Image.Image:
    """A photo of a screen taken at an angle: one side shorter than the other."""
    w, h = image.size
    squeeze = rng.uniform(0.06, 0.12)
    # Coefficients map output to input: the right edge is squeezed vertically.
    source = [(0, 0), (w, round(h * squeeze)), (w, round(h * (1 - squeeze))), (0, h)]
    target = [(0, 0), (w, 0), (w, h), (0, h)]
    coefficients = _perspective(target, source)
    return image.convert("RGB").transform(
        (w, h), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC,
        fillcolor=(255, 255, 255),
    )  # fmt: skip


def _perspective(target: list[tuple[int, int]], source: list[tuple[int, int]]) -> tuple[float, ...]:
    import numpy as np

    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=float)
    b = np.array([c for point in source for c in point], dtype=float)
    return tuple(np.linalg.solve(a, b))


def mirror(image: Image.Image, _rng: random.Random) -> Image.Image:
    return ImageOps.mirror(image)


EDITS: dict[str, Edit] = {
    "crop 5%": crop_symmetric(0.05),
    "crop 15%": crop_symmetric(0.15),
    "crop 25%": crop_symmetric(0.25),
    "crop 10% asymmetric": crop_asymmetric(0.10),
    "crop 20% asymmetric": crop_asymmetric(0.20),
    "padding 10%": pad(0.10),
    "padding 30%": pad(0.30),
    "letterbox": letterbox,
    "caption bar": caption_bar,
    "screenshot": screenshot,
    "rotate 90": rotate_quarter(1),
    "rotate 180": rotate_quarter(2),
    "rotate 270": rotate_quarter(3),
    "tilt 2°": tilt(2),
    "tilt 4°": tilt(4),
    "tilt 6°": tilt(6),
    "keystone": keystone,
    "mirror": mirror,
    "re-encode only": lambda image, _rng: image,
}
