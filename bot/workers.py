"""CPU work in a process pool, so the event loop never waits on Pillow or a hash."""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TypeVar

from PIL import Image

from checks.clean_jpeg import is_clean_jpeg
from checks.compare_image import side_by_side
from checks.matching import Region
from checks.report import Report, analyse
from checks.strip import stripped_copy

__all__ = [
    "WORKER_NICENESS",
    "ExecutorAnalyser",
    "make_analyser",
    "process_analyser",
    "thread_analyser",
]


def _analyse_tip(data: bytes) -> Report:
    return analyse(data, known=True)


#: How much lower than the bot's the workers' scheduling priority is. Busy workers on every
#: core would otherwise take turns with the event loop, which then waits tens of milliseconds
#: for a processor with every tipster's messages; at a lower priority they use whatever the
#: loop leaves, so they still have every core when it is idle.
WORKER_NICENESS = 5


T = TypeVar("T")


def _side_by_side(
    submitted: bytes,
    known: bytes,
    caption: str,
    region: Region | None,
) -> bytes:
    # Through stripped_copy: the decode limits apply, and both sides are upright.
    left = Image.open(io.BytesIO(stripped_copy(submitted)))
    right = Image.open(io.BytesIO(stripped_copy(known)))
    return side_by_side(left, right, caption=caption, region=region)


def _warm_up() -> None:
    """Import and initialise everything once per worker, not on the first tip; and yield the
    processor to the bot's event loop whenever it wants it (see :data:`WORKER_NICENESS`)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no nice() here
        os.nice(WORKER_NICENESS)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 30)).save(buffer, "JPEG")
    analyse(buffer.getvalue())


class ExecutorAnalyser:
    """The :class:`handlers.services.Analyser`: the checks run on an executor, off the loop."""

    def __init__(self, executor: Executor | None) -> None:
        #: None means asyncio's default thread pool.
        self._executor = executor

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def analyse(self, data: bytes) -> Report:
        # A tip's picture may become a known item: its stored local features come along.
        return await self._run(_analyse_tip, data)

    async def strip(self, data: bytes) -> bytes:
        """A copy without metadata; a JPEG that has none (every photo Telegram compressed) is
        its own copy. The check reads markers only (well under a millisecond), so it runs here
        and spares a worker a decode and a re-encode three times the cost of its analysis."""
        if is_clean_jpeg(data):
            return data
        return await self._run(stripped_copy, data)

    async def side_by_side(
        self,
        submitted: bytes,
        known: bytes,
        caption: str,
        region: Region | None = None,
    ) -> bytes:
        return await self._run(_side_by_side, submitted, known, caption, region)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def process_analyser(workers: int) -> ExecutorAnalyser:
    """The production analyser: a pool of worker processes, started now.

    forkserver: a worker never inherits the bot's threads or locks (a fork of a process with
    threads can deadlock on a lock some other thread held). The pool starts its workers when
    work is submitted, and each start holds the submitting thread for tens of milliseconds: a
    task for each worker here starts them all at start-up, not on the event loop under the
    first tips (the tasks are not awaited; the workers warm up while the bot starts polling).
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_warm_up,
    )
    for _ in range(workers):
        pool.submit(os.getpid)
    return ExecutorAnalyser(pool)


def thread_analyser() -> ExecutorAnalyser:
    """Analysis on threads of the bot's own process: no worker start-up, for tests and for a
    deployment too small to want a pool (TIPLINE_WORKERS=0). The GIL limits it to about one
    core."""
    return ExecutorAnalyser(None)


def make_analyser(workers: int) -> ExecutorAnalyser:
    return process_analyser(workers) if workers > 0 else thread_analyser()
