"""CPU work in a process pool, so the event loop never waits on Pillow or a hash."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from PIL import Image

from checks.compare_image import side_by_side
from checks.report import Report, analyse
from checks.strip import stripped_copy

__all__ = ["ProcessAnalyser", "ThreadAnalyser", "make_analyser"]


def _side_by_side(submitted: bytes, known: bytes, caption: str) -> bytes:
    # Through stripped_copy: the decode limits apply, and both sides are upright.
    left = Image.open(io.BytesIO(stripped_copy(submitted)))
    right = Image.open(io.BytesIO(stripped_copy(known)))
    return side_by_side(left, right, caption=caption)


def _warm_up() -> None:
    """Import and initialise everything once per worker, not on the first tip."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 30)).save(buffer, "JPEG")
    analyse(buffer.getvalue())


class ProcessAnalyser:
    """The production :class:`handlers.services.Analyser`."""

    def __init__(self, workers: int) -> None:
        # forkserver: a worker never inherits the bot's threads or locks (a fork of a process
        # with threads can deadlock on a lock some other thread held).
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_warm_up,
        )

    async def analyse(self, data: bytes) -> Report:
        return await asyncio.get_running_loop().run_in_executor(self._pool, analyse, data)

    async def strip(self, data: bytes) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, stripped_copy, data)

    async def side_by_side(self, submitted: bytes, known: bytes, caption: str) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, _side_by_side, submitted, known, caption
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ThreadAnalyser:
    """Analysis on threads of the bot's own process: no worker start-up, for tests and for a
    deployment too small to want a pool (TIPLINE_WORKERS=0). The GIL limits it to about one
    core."""

    async def analyse(self, data: bytes) -> Report:
        return await asyncio.to_thread(analyse, data)

    async def strip(self, data: bytes) -> bytes:
        return await asyncio.to_thread(stripped_copy, data)

    async def side_by_side(self, submitted: bytes, known: bytes, caption: str) -> bytes:
        return await asyncio.to_thread(_side_by_side, submitted, known, caption)


def make_analyser(workers: int) -> ProcessAnalyser | ThreadAnalyser:
    return ProcessAnalyser(workers) if workers > 0 else ThreadAnalyser()
