"""How fast ``tipline check`` refuses what it must not decode: a decompression bomb and a file
of zeros, each in a fresh process (interpreter start and imports included), side by side with
the same process checking nothing but a tiny valid picture. Prints JSON with the medians.

The refusals are checked on the header before any pixel is decoded, so they should cost no
more than starting the command itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size; its pixel data is never decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, capture_output=True, check=False, env=env, timeout=120)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "bomb.png").write_bytes(png_claiming(40_000, 40_000))
        (tmp / "zeros.jpg").write_bytes(b"\0" * 1_000_000)
        small = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 120, 200)).save(small, "JPEG")
        (tmp / "small.jpg").write_bytes(small.getvalue())
        env = {**os.environ, "TIPLINE_DATABASE_URL": str(tmp / "t.db")}
        check = [sys.executable, "-m", "bot", "check", "--json", "--jobs", "1"]
        runs: dict[str, list[float]] = {"refuse_bomb_and_zeros": [], "check_tiny_picture": []}
        timed([*check, str(tmp / "small.jpg")], env)  # creates the database once
        for _ in range(options.repeats):  # interleaved, so both see the same machine
            bad = [str(tmp / "bomb.png"), str(tmp / "zeros.jpg")]
            runs["refuse_bomb_and_zeros"].append(timed([*check, *bad], env))
            runs["check_tiny_picture"].append(timed([*check, str(tmp / "small.jpg")], env))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    print(
        json.dumps(
            {
                "repeats": options.repeats,
                "median_seconds": {k: round(v, 3) for k, v in medians.items()},
                "refusal_over_tiny_check": round(
                    medians["refuse_bomb_and_zeros"] / medians["check_tiny_picture"], 2
                ),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
