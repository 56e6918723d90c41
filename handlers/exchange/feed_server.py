"""Serving this newsroom's feed over HTTP: ``GET /feed?after=CURSOR&limit=N``.

A deliberately small HTTP/1.1 server on asyncio's streams: one request per connection
(``Connection: close``), a request head of at most 8 KiB read within 10 s, GET only, one
path. Pages are signed entry by entry (:mod:`storage.exchange.feed_format`) off the event
loop, so serving a partner never stalls the tips of the bot that serves it. With bearer
tokens configured, a request without one of them gets 401 and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.errors import InvalidInput
from storage.exchange.feed_format import (
    MAX_PAGE_ENTRIES,
    decode_cursor,
    encode_cursor,
    entry_of,
    page_bytes,
)
from storage.exchange.signing import public_key_text
from storage.exchange_base import Exchange, FeedRow

__all__ = ["DEFAULT_LISTEN", "DEFAULT_PAGE", "FeedPublisher", "FeedServer", "parse_listen"]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8470"
#: Entries per page when the subscriber does not ask for fewer.
DEFAULT_PAGE = 1000
#: How often imported items are looked for to publish (TIPLINE_PUBLISH_IMPORTED).
IMPORT_CHECK_SECONDS = 30.0
_MAX_HEAD = 8 * 1024
_HEAD_TIMEOUT = 10.0
_WRITE_TIMEOUT = 30.0
#: Requests served at once; more are answered 503 at once (a flood of slow clients must not
#: pile up in a bot's process).
MAX_CONCURRENT = 32


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a pair, or InvalidInput."""
    host, sep, port = (text or "").strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"a listen address is HOST:PORT, e.g. {DEFAULT_LISTEN}; got {text!r}")
    return host, int(port)


@dataclass
class FeedPublisher:
    """Pages of this newsroom's feed, signed with its key."""

    storage: Exchange
    key: Ed25519PrivateKey
    newsroom: str
    publish_imported: bool = True
    _imports_checked: float = field(default=float("-inf"), init=False)

    @property
    def public_key(self) -> str:
        return public_key_text(self.key)

    async def page(self, cursor: str | None, limit: int = DEFAULT_PAGE) -> bytes:
        """The page after ``cursor`` (InvalidInput for a checkpoint this feed never gave)."""
        after = decode_cursor(cursor)
        limit = max(1, min(limit, MAX_PAGE_ENTRIES))
        await self._publish_imports()
        rows = await self.storage.feed_page(after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        entries = await asyncio.to_thread(self._sign, rows)
        last = rows[-1].sequence if rows else after
        return page_bytes(
            entries,
            newsroom=self.newsroom,
            public_key=self.public_key,
            next_cursor=encode_cursor(last),
            more=more,
        )

    def _sign(self, rows: list[FeedRow]) -> list[dict[str, object]]:
        return [entry_of(row, self.newsroom, self.key) for row in rows]

    async def _publish_imports(self) -> None:
        """Imported items join the feed by default; looked for every so often, not per page."""
        if not self.publish_imported:
            return
        now = time.monotonic()
        if now - self._imports_checked < IMPORT_CHECK_SECONDS:
            return
        self._imports_checked = now
        added = await self.storage.publish_imported()
        if added:
            log.info("feed: %d imported item(s) published", added)


class FeedServer:
    """The HTTP server around a :class:`FeedPublisher`; ``tokens`` empty: a public feed."""

    def __init__(self, publisher: FeedPublisher, tokens: Collection[str] = ()) -> None:
        self.publisher = publisher
        self._tokens = tuple(t.encode() for t in tokens if t)
        self._server: asyncio.Server | None = None
        self._active = 0

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the address bound (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._serve, host, port, limit=_MAX_HEAD)
        bound = self._server.sockets[0].getsockname()
        log.info("feed: serving on http://%s:%d/feed", bound[0], bound[1])
        return bound[0], bound[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._active += 1
        try:
            if self._active > MAX_CONCURRENT:
                status, body = _error(HTTPStatus.SERVICE_UNAVAILABLE, "busy; try again later")
            else:
                status, body = await self._answer(reader)
            head = (
                f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n"
            )
            if status is HTTPStatus.UNAUTHORIZED:
                head += 'WWW-Authenticate: Bearer realm="feed"\r\n'
            writer.write(head.encode("ascii") + b"\r\n" + body)
            await asyncio.wait_for(writer.drain(), _WRITE_TIMEOUT)
        except (ConnectionError, TimeoutError):
            pass  # the subscriber went away; it asks again from its cursor
        except Exception:
            log.exception("feed: a request failed")
        finally:
            self._active -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[HTTPStatus, bytes]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
            return _error(HTTPStatus.BAD_REQUEST, "request head missing, too slow or too long")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _error(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request")
        method, target = parts[0], urlsplit(parts[1])
        if method != "GET":
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET")
        if target.path != "/feed":
            return _error(HTTPStatus.NOT_FOUND, "the feed is at /feed")
        if self._tokens and not self._authorised(lines[1:]):
            return _error(HTTPStatus.UNAUTHORIZED, "this feed needs a bearer token")
        query = parse_qs(target.query)
        try:
            limit_text = query.get("limit", [str(DEFAULT_PAGE)])[-1]
            if not limit_text.isdigit():
                raise InvalidInput(f"limit is a whole number up to {MAX_PAGE_ENTRIES}")
            body = await self.publisher.page(query.get("after", [""])[-1], int(limit_text))
        except InvalidInput as exc:
            return _error(HTTPStatus.BAD_REQUEST, str(exc))
        return HTTPStatus.OK, body

    def _authorised(self, header_lines: list[str]) -> bool:
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "authorization":
                scheme, _, token = value.strip().partition(" ")
                given = token.strip().encode()
                if scheme.lower() == "bearer" and any(
                    hmac.compare_digest(given, known) for known in self._tokens
                ):
                    return True
        return False


def _error(status: HTTPStatus, message: str) -> tuple[HTTPStatus, bytes]:
    return status, json.dumps({"error": message}).encode("utf-8")
