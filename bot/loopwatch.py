"""Watches the event loop for stalls: the one number that says CPU work leaked onto it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

__all__ = ["LoopWatch"]

log = logging.getLogger(__name__)


class LoopWatch:
    """Sleeps a short tick and measures how late it wakes; the worst lateness is a stall."""

    def __init__(self, tick: float = 0.02) -> None:
        self.tick = tick
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.tick)
            self.longest = max(self.longest, loop.time() - before - self.tick)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        log.info("longest event-loop stall: %.1f ms", self.longest * 1000)
