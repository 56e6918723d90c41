"""The HTTP side: a Tornado server on 127.0.0.1 with the Bot API's URLs, and webhook pushes.

Tornado comes with ``python-telegram-bot[webhooks]`` and runs on the running asyncio loop, so
the server lives in the test's own event loop: no threads, no locks, and the test, the bot and
the server see the same state at every ``await``.

Routes, as on api.telegram.org: ``/bot<token>/<method>`` (GET or POST; query string, form or
multipart, as PTB sends them) and ``/file/bot<token>/<file_path>`` (downloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

import httpx
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from tests.fakebotapi.faults import Disconnect, Failure, Faults
from tests.fakebotapi.methods import ApiError, Methods, normalize_params
from tests.fakebotapi.state import JSON, Call, State, Upload

__all__ = ["FakeServer"]

log = logging.getLogger("tests.fakebotapi")

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_NOT_FOUND: JSON = {"ok": False, "error_code": 404, "description": "Not Found"}


class FakeServer:
    """Serves ``methods`` over real HTTP; records every call in ``state.calls``."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.methods = Methods(state, on_webhook_change=self._webhook_changed)
        self.faults = Faults()
        self.port = 0
        self._server: tornado.httpserver.HTTPServer | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def failures(self) -> list[Failure]:
        """Faults not yet served (a held call is taken off the list when it arrives)."""
        return self.faults.pending

    async def start(self) -> None:
        app = tornado.web.Application(
            [(r"/(.*)", _Handler, {"server": self})],
            log_function=lambda h: log.debug("%s %s", h.request.path, h.get_status()),
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, idle_connection_timeout=30)
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        """Answer pending long polls, stop the webhook pusher, close every connection."""
        self.methods.closing = True
        self.state.notifier.notify()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.stop()
            await asyncio.sleep(0)  # let woken long polls write their answers
            await self._server.close_all_connections()
            self._server = None

    async def api_call(self, token: str, method: str, raw: dict[str, Any]) -> tuple[int, JSON]:
        """One Bot API request: ``(HTTP status, JSON body)``."""
        started = self.state.clock()
        if token != self.state.token:
            if _TOKEN_SHAPE.match(token):
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 404, _NOT_FOUND
        name = self.methods.names.get(method.lower(), method)
        try:
            injected = await self.faults.intercept(name)
        except Disconnect:
            self.state.record_call(Call(name, raw, started, 0, None, injected=True))
            raise
        if injected is not None:
            status = injected["error_code"]
            self.state.record_call(Call(name, raw, started, status, injected, injected=True))
            return status, injected
        params = raw
        try:
            if method.lower() not in self.methods.table:
                raise ApiError(404, "Not Found: method not found")
            params = normalize_params(raw)
            status, body = 200, {"ok": True, "result": await self.methods.call(name, params)}
        except ApiError as exc:
            status, body = exc.status, exc.body
            log.debug("%s -> %s %s", name, status, exc.description)
        self.state.record_call(Call(name, params, started, status, body))
        return status, body

    def download(self, token: str, path: str) -> tuple[int, bytes | JSON]:
        stored = self.state.files_by_path.get(path) if token == self.state.token else None
        if stored is None:
            return 404, _NOT_FOUND
        self.state.downloads.append(path)
        self.state.notifier.notify()
        return 200, stored.data

    # --- webhook ----------------------------------------------------------------------------
    def _webhook_changed(self) -> None:
        """Start or stop pushing updates to the URL setWebhook recorded."""
        self.state.notifier.notify()
        if self.state.webhook is not None and self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._push_updates())
        elif self.state.webhook is None and self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    async def _push_updates(self) -> None:
        """One update at a time, retried with backoff until the bot answers 2xx, as Telegram
        does; only then is it confirmed."""
        state = self.state
        backoff = 0.05
        async with httpx.AsyncClient(timeout=10.0) as client:
            while state.webhook is not None and not self.methods.closing:
                if not state.updates.count:
                    await state.notifier.wait(1.0)
                    continue
                hook = state.webhook
                was_redelivery = bool(state.updates.redeliveries)
                update = state.updates.take(1)[0]
                headers = {"Content-Type": "application/json"}
                if hook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                try:
                    response = await client.post(
                        hook["url"], content=json.dumps(update), headers=headers
                    )
                    ok = 200 <= response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                if ok:
                    state.updates.confirm(update["update_id"] + 1)
                    backoff = 0.05
                    continue
                if was_redelivery:
                    state.updates.redeliveries.insert(0, update)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)


def _request_params(request: Any) -> dict[str, Any]:
    """Query string, then form fields and uploads, as the Bot API reads them."""
    raw: dict[str, Any] = {}
    for name, values in request.query_arguments.items():
        raw[name] = values[-1].decode("utf-8", "replace")
    for name, values in request.body_arguments.items():
        raw[name] = values[-1].decode("utf-8", "replace")
    for name, files in request.files.items():
        part = files[-1]
        raw[name] = Upload(name, part.filename or None, part.content_type or None, part.body)
    return raw


class _Handler(tornado.web.RequestHandler):
    """One catch-all handler: the routes are parsed by hand to mirror Telegram's answers."""

    def initialize(self, server: FakeServer) -> None:
        self.server = server
        self._task: asyncio.Task[tuple[int, JSON]] | None = None
        self._gone = False

    def check_xsrf_cookie(self) -> None:
        """The Bot API has no cookies."""

    def on_connection_close(self) -> None:
        """The bot gave up (PTB cancels its long poll on shutdown): stop holding the request."""
        self._gone = True
        if self._task is not None:
            self._task.cancel()

    async def get(self, path: str) -> None:
        await self._serve(path)

    async def post(self, path: str) -> None:
        await self._serve(path)

    async def _serve(self, path: str) -> None:
        if path.startswith("file/bot") and "/" in path.removeprefix("file/bot"):
            token, file_path = path.removeprefix("file/bot").split("/", 1)
            status, payload = self.server.download(token, file_path)
            if isinstance(payload, bytes):
                self._answer(status, payload, "application/octet-stream")
            else:
                self._answer(status, json.dumps(payload).encode(), "application/json")
            return
        match = re.fullmatch(r"bot([^/]*)/([^/]+)", path)
        if match is None:
            self._answer(404, json.dumps(_NOT_FOUND).encode(), "application/json")
            return
        self._task = asyncio.ensure_future(
            self.server.api_call(*match.groups(), _request_params(self.request))
        )
        try:
            status, body = await self._task
        except asyncio.CancelledError:
            if self._gone:
                return
            raise
        except Disconnect:
            self.request.connection.close()
            self._gone = True
            return
        self._answer(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    def _answer(self, status: int, payload: bytes, content_type: str) -> None:
        if self._gone:
            return
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            self.finish(payload)
