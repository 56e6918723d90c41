"""The HTTP layer: a Tornado server on 127.0.0.1 that speaks the Bot API's URLs and JSON.

Tornado is already installed with ``python-telegram-bot[webhooks]`` and runs on the running
asyncio loop, so the server lives in the test's own event loop: no threads, no locks, and the
test, the bot and the server all see the same state at every ``await``.

Routes, as on api.telegram.org:

- ``/bot<token>/<method>``: GET or POST; query string, form, multipart or JSON body.
- ``/file/bot<token>/<file_path>``: file downloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from tests.fakebotapi.methods import ApiError, Methods, normalize_params
from tests.fakebotapi.objects import JSON
from tests.fakebotapi.state import Call, State, Upload

__all__ = ["Failure", "FakeServer"]

log = logging.getLogger("tests.fakebotapi")

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_DEFAULT_DESCRIPTIONS = {
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


@dataclass
class Failure:
    """An answer to force on the next ``times`` calls of ``method`` (see ``fail_next``)."""

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
            retry_after = self.retry_after if self.retry_after is not None else 1
            description = self.description or f"Too Many Requests: retry after {retry_after}"
            return {
                "ok": False,
                "error_code": 429,
                "description": description,
                "parameters": {"retry_after": retry_after},
            }
        description = self.description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        return {"ok": False, "error_code": status, "description": description}


class _Disconnect(Exception):
    """Drop the connection without answering, as a flaky network would."""


class FakeServer:
    """Serves ``methods`` over real HTTP; records every call in ``state.calls``."""

    def __init__(self, state: State, methods: Methods, *, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake Bot API listens on loopback only")
        self.state = state
        self.methods = methods
        self.host = host
        self.port = 0
        self.failures: list[Failure] = []
        self.downloads: list[str] = []
        self._server: tornado.httpserver.HTTPServer | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    @property
    def root(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = tornado.web.Application(
            [(r"/(.*)", _Handler, {"server": self})],
            log_function=_log_request,
            compress_response=False,
        )
        sockets = tornado.netutil.bind_sockets(0, self.host)
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app, idle_connection_timeout=30)
        self._server.add_sockets(sockets)

    async def stop(self) -> None:
        """Answer pending long polls, stop the webhook pusher, close every connection."""
        self.methods.closing = True
        self.state.notifier.notify()
        await self._stop_webhook()
        if self._server is not None:
            self._server.stop()
            await asyncio.sleep(0)  # let woken long polls write their answers
            await self._server.close_all_connections()
            self._server = None

    # --- requests ---------------------------------------------------------------------------
    def _take_failure(self, method: str) -> Failure | None:
        for failure in self.failures:
            if failure.method.lower() == method.lower() and failure.times > 0:
                failure.times -= 1
                if failure.times == 0:
                    self.failures.remove(failure)
                return failure
        return None

    async def api_call(self, token: str, method: str, raw: dict[str, Any]) -> tuple[int, JSON]:
        """Answer one Bot API request: ``(HTTP status, JSON body)``."""
        started = self.state.clock()
        if token != self.state.token:
            if _TOKEN_SHAPE.match(token):
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        name = self.methods.names.get(method.lower(), method)
        failure = self._take_failure(name)
        if failure is not None:
            if failure.delay:
                await asyncio.sleep(failure.delay)
            if failure.disconnect:
                self.state.record_call(Call(name, raw, started, 0, None, injected=True))
                raise _Disconnect
            if failure.status is not None:
                body = failure.body()
                self.state.record_call(Call(name, raw, started, body["error_code"], body, True))
                return body["error_code"], body
        params = raw
        try:
            if method.lower() not in self.methods.table:
                raise ApiError(404, "Not Found: method not found")
            params = normalize_params(raw)
            result = await self.methods.call(name, params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.status, exc.body
        self.state.record_call(Call(name, params, started, status, body))
        if status != 200:
            log.debug("%s -> %s %s", name, status, body.get("description"))
        return status, body

    def download(self, token: str, path: str) -> tuple[int, bytes | JSON]:
        if token != self.state.token:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        stored = self.state.files_by_path.get(path)
        if stored is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        self.downloads.append(path)
        self.state.notifier.notify()
        return 200, stored.data

    # --- webhook ----------------------------------------------------------------------------
    def webhook_changed(self) -> None:
        """Start or stop pushing updates to the URL setWebhook recorded."""
        if self.state.webhook is not None and self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._push_updates())
        elif self.state.webhook is None and self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    async def _stop_webhook(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _push_updates(self) -> None:
        """Deliver queued updates one at a time; retry with backoff until the bot says 2xx."""
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
                    problem = (
                        "Wrong response from the webhook: "
                        f"{response.status_code} {response.reason_phrase}"
                    )
                except httpx.HTTPError as exc:
                    ok, problem = False, f"Connection failed: {type(exc).__name__}"
                if ok:
                    state.updates.confirm(update["update_id"] + 1)
                    backoff = 0.05
                    continue
                state.webhook_error = (state.now(), problem)
                if was_redelivery:
                    state.updates.redeliveries.insert(0, update)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    log.debug("%s %s -> %s", handler.request.method, handler.request.path, handler.get_status())


def _request_params(request: Any) -> dict[str, Any]:
    """Query string, then form fields, uploads or a JSON object body, as the Bot API reads them."""
    raw: dict[str, Any] = {}
    for name, values in request.query_arguments.items():
        raw[name] = values[-1].decode("utf-8", "replace")
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON object expected in request body")
        raw.update(body)
        return raw
    for name, values in request.body_arguments.items():
        value = values[-1]
        try:
            raw[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            raw[name] = Upload(name, None, None, value)
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
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            self._answer(404, json.dumps(body).encode(), "application/json")
            return
        token, method = match.groups()
        try:
            raw = _request_params(self.request)
        except ApiError as exc:
            self._answer(exc.status, json.dumps(exc.body).encode(), "application/json")
            return
        self._task = asyncio.ensure_future(self.server.api_call(token, method, raw))
        try:
            status, body = await self._task
        except asyncio.CancelledError:
            if self._gone:
                return
            raise
        except _Disconnect:
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
