"""Faults a test injects: flood control, server errors, slow answers, dropped connections.

They are answered before the method runs, exactly as Telegram (or the network in front of it)
would answer, so the bot meets the same PTB exceptions it meets in production.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tests.fakebotapi.state import JSON

__all__ = ["Disconnect", "Failure", "Faults"]

_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Disconnect(Exception):
    """Drop the connection without answering, as a flaky network would."""


@dataclass
class Failure:
    """What to do instead of answering the next ``times`` calls of ``method``.

    ``status=None`` answers normally after ``delay`` (or drops the connection if
    ``disconnect``).
    """

    method: str
    status: int | None = 429
    retry_after: int | None = None
    description: str | None = None
    times: int = 1
    delay: float = 0.0
    disconnect: bool = False

    def body(self) -> JSON:
        status = self.status or 500
        if status == 429:
            # Flood control: PTB turns parameters.retry_after into RetryAfter.
            retry_after = self.retry_after if self.retry_after is not None else 1
            return {
                "ok": False,
                "error_code": 429,
                "description": self.description or f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            }
        description = self.description or _DESCRIPTIONS.get(status, f"Error {status}")
        return {"ok": False, "error_code": status, "description": description}


class Faults:
    """The failures still to be served; a test can wait for the list to empty."""

    def __init__(self) -> None:
        self.pending: list[Failure] = []

    def add(self, failure: Failure) -> None:
        self.pending.append(failure)

    def _take(self, method: str) -> Failure | None:
        for failure in self.pending:
            if failure.method.lower() == method.lower() and failure.times > 0:
                failure.times -= 1
                if failure.times == 0:
                    self.pending.remove(failure)
                return failure
        return None

    async def intercept(self, method: str) -> JSON | None:
        """The error body to answer instead of ``method``, or None to run it.

        Raises :class:`Disconnect` when the connection is to be dropped.
        """
        failure = self._take(method)
        if failure is None:
            return None
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.disconnect:
            raise Disconnect
        return failure.body() if failure.status is not None else None
