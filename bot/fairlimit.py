"""Telegram's overall limit shared out fairly between chats, so one busy chat cannot make every
other wait.

PTB's ``AIORateLimiter`` queues all of a bot's messages in one line at 30 a second: a source
sending hundreds of pictures gets its tickets and cards ahead of everyone who wrote after it,
and their answers wait seconds. Here, whenever a message may leave, it is the next of the
waiting chat that has had the fewest messages lately (counted with a half-life of
:data:`USAGE_HALF_LIFE` seconds): someone writing for the first time goes before a flood's
next reply, and before the moderators' chat, which is paced on its own. Telegram's limit per
group and the retries after a 429 stay PTB's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter

__all__ = ["USAGE_HALF_LIFE", "FairRateLimiter", "Turns"]

JSONDict = dict[str, Any]

#: How fast a chat's count of recent messages fades: halved every this many seconds.
USAGE_HALF_LIFE = 10.0
#: Chats whose recent count is remembered (the least used are forgotten first).
_USAGE_KEPT = 4096


class Turns:
    """A token bucket (``rate`` a second, bursts of ``burst``) whose waiters are served by key:
    each key's waiters in order, and of the keys waiting, the one least used lately first
    (ties: the one waiting longest)."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens, self._stamp = burst, clock()
        #: key -> its waiters; the dict's order is the order of turns.
        self._queues: dict[object, deque[asyncio.Future[None]]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        #: key -> (messages lately, when counted).
        self._used: dict[object, tuple[float, float]] = {}

    def usage(self, key: object) -> float:
        """Messages ``key`` had lately, fading with :data:`USAGE_HALF_LIFE`."""
        count, stamp = self._used.get(key, (0.0, 0.0))
        return count * 0.5 ** ((self._clock() - stamp) / USAGE_HALF_LIFE)

    def _count(self, key: object) -> None:
        self._used[key] = (self.usage(key) + 1, self._clock())
        if len(self._used) > _USAGE_KEPT:
            for stale in sorted(self._used, key=self.usage)[: _USAGE_KEPT // 4]:
                del self._used[stale]

    def _take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def wait(self, key: object) -> None:
        """Until it is ``key``'s turn and a token is free."""
        if not self._queues and self._take():
            self._count(key)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, deque()).append(future)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        await future

    async def _dispatch(self) -> None:
        while self._queues:
            if not self._take():
                await asyncio.sleep((1 - self._tokens) / self._rate)
                continue
            key = min(self._queues, key=self.usage)
            queue = self._queues[key]
            future = queue.popleft()
            if not queue:
                del self._queues[key]
            if future.done():  # its caller gave up: the token goes to the next
                self._tokens += 1
                continue
            self._count(key)
            future.set_result(None)

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        for queue in self._queues.values():
            for future in queue:
                future.cancel()
        self._queues.clear()


class FairRateLimiter(BaseRateLimiter[int]):
    """At most ``per_second`` messages a second, in turns by chat; requests that name no chat
    (downloads, getUpdates) pass freely, as with PTB's limiter. ``inner`` applies the limit per
    group and retries after a 429."""

    def __init__(self, per_second: float = 30.0, *, inner: AIORateLimiter) -> None:
        self._turns = Turns(per_second, burst=per_second)
        self._inner = inner

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._turns.close()
        await self._inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat = data.get("chat_id")
        if chat is not None:
            await self._turns.wait(str(chat))
        return await self._inner.process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
