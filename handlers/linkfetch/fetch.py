"""Fetching the picture behind a vetted link over HTTP, with every hop checked again.

Redirects are followed by hand and each hop is vetted anew; the body is counted while it
streams; one deadline covers the whole fetch; only picture types are accepted; no cookies, no
credentials, no proxy from the environment.

DNS rebinding. The address that passed the check is the one connected to: the request goes to
``scheme://<validated IP>:port/path`` with the ``Host`` header set to the link's host and, for
https, httpcore's ``sni_hostname`` request extension set to it too, so the TLS handshake sends
that name as SNI and the certificate is verified against that name (not against the IP). No
second DNS lookup happens between check and connect, for http or for https. ``Connection: close``
keeps a connection opened for one name from being reused for another name on the same address.

Residual risk: a caller-supplied ``client`` that routes through a proxy resolves names itself
and defeats the pinning; the default client is built with ``trust_env=False`` for that reason.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field

import httpx

from handlers.linkfetch.addresses import (
    Address,
    AddressPolicy,
    Resolver,
    checked_addresses,
    is_public_address,
    literal_address,
    system_resolver,
)
from handlers.linkfetch.errors import (
    LinkHttpError,
    LinkInvalid,
    LinkNotImage,
    LinkTimeout,
    LinkTooLarge,
    LinkTooManyRedirects,
    LinkUnreachable,
)
from handlers.linkfetch.links import parse_link

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "FetchedImage",
    "fetch_image",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # Telegram's own download limit for bots
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_REDIRECTS = 5
USER_AGENT = "Tipline/0.1 (newsroom tip line; fetches one picture a source linked to)"
ALLOWED_CONTENT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/pjpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/tiff",
        "image/heic",
        "image/heif",
    }
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_OK_STATUSES = frozenset({200, 203})
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")


@dataclass(frozen=True, slots=True)
class FetchedImage:
    """The bytes of a fetched picture and where they finally came from (after redirects)."""

    url: str
    content_type: str
    data: bytes = field(repr=False)


async def fetch_image(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - one deadline, enforced inside
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    resolver: Resolver = system_resolver,
    address_policy: AddressPolicy = is_public_address,
) -> FetchedImage:
    """Fetch the picture a link points to, or raise a ``LinkFetchError`` saying why not.

    ``timeout`` is one deadline for everything (DNS, connects, redirects, the body), so a
    server that dribbles a byte at a time cannot hold a worker. ``client`` lends its transport
    only: requests are built here, so its cookies, auth, default headers and redirect setting
    are never used; it must not go through a proxy (see the module docstring). ``resolver`` and
    ``address_policy`` exist for tests and for deployments with their own rules.
    """
    if max_bytes <= 0 or timeout <= 0 or max_redirects < 0:
        raise ValueError("max_bytes and timeout must be positive, max_redirects not negative")
    target = parse_link(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    http = client or httpx.AsyncClient(trust_env=False, follow_redirects=False)
    try:
        async with asyncio.timeout_at(deadline):
            return await _follow(
                http, target, deadline, max_bytes, max_redirects, resolver, address_policy
            )
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise LinkTimeout(
            f"The site took longer than {timeout:g} seconds to send the picture, so Tipline "
            "stopped waiting. You can send the picture itself instead."
        ) from exc
    except httpx.RequestError as exc:
        raise LinkUnreachable(
            "The connection to that site broke off before the picture arrived."
        ) from exc
    finally:
        if client is None:
            await http.aclose()


async def _follow(
    http: httpx.AsyncClient,
    url: httpx.URL,
    deadline: float,
    max_bytes: int,
    max_redirects: int,
    resolver: Resolver,
    policy: AddressPolicy,
) -> FetchedImage:
    for hop in range(max_redirects + 1):
        addresses = await checked_addresses(url, resolver, policy)
        response = await _connect(http, url, addresses, deadline)
        try:
            location = response.headers.get("location")
            if response.status_code in _REDIRECT_STATUSES and location:
                if hop == max_redirects:
                    raise LinkTooManyRedirects(
                        f"That link sends Tipline through more than {max_redirects} redirects, "
                        "so Tipline stopped following it."
                    )
                try:
                    joined = url.join(location)
                except httpx.InvalidURL as exc:
                    raise LinkInvalid(
                        "That link redirects to an address Tipline cannot read."
                    ) from exc
                url = parse_link(str(joined))
                continue
            return await _read_image(response, url, max_bytes)
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _pinned_request(url: httpx.URL, address: Address, deadline: float) -> httpx.Request:
    """A GET sent to ``address`` itself, carrying the link's host in ``Host`` and in SNI."""
    remaining = max(0.001, deadline - asyncio.get_running_loop().time())
    extensions: dict[str, object] = {
        "timeout": {"connect": remaining, "read": remaining, "write": remaining, "pool": remaining}
    }
    if url.scheme == "https" and literal_address(url.host) is None:
        # httpcore uses this as server_hostname: it is sent as SNI and the certificate is
        # checked against it, while the TCP connection goes to the pinned address.
        extensions["sni_hostname"] = url.raw_host.decode("ascii").rstrip(".")
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": USER_AGENT,
        "Accept": "image/*",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    return httpx.Request(
        "GET", url.copy_with(host=str(address)), headers=headers, extensions=extensions
    )


async def _connect(
    http: httpx.AsyncClient, url: httpx.URL, addresses: list[Address], deadline: float
) -> httpx.Response:
    """Try the vetted addresses in turn; the first that accepts a connection answers."""
    failure: httpx.ConnectError | None = None
    for address in addresses:
        request = _pinned_request(url, address, deadline)
        try:
            return await http.send(request, stream=True, auth=None, follow_redirects=False)
        except httpx.ConnectError as exc:
            failure = exc
    if failure is not None and _caused_by_tls(failure):
        raise LinkUnreachable(
            "Tipline could not make a secure connection to that site: its certificate is not "
            "valid for that name."
        ) from failure
    raise LinkUnreachable("Tipline could not connect to that site.") from failure


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _read_image(response: httpx.Response, url: httpx.URL, max_bytes: int) -> FetchedImage:
    if response.status_code not in _OK_STATUSES:
        raise LinkHttpError(
            f"The site answered with an error ({response.status_code}) instead of the picture.",
            response.status_code,
        )
    content_type = _content_type(response)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
    if not data:
        raise LinkNotImage("The site sent an empty file instead of a picture.")
    return FetchedImage(url=str(url), content_type=content_type, data=bytes(data))


def _content_type(response: httpx.Response) -> str:
    value = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if value in ALLOWED_CONTENT_TYPES:
        return value
    if not value:
        raise LinkNotImage(
            "The site did not say what kind of file that link is, so Tipline did not download "
            "it. You can send the picture itself instead."
        )
    if value in ("text/html", "application/xhtml+xml"):
        raise LinkNotImage(
            "That link leads to a web page, not a picture. Send a link that opens the picture "
            "itself, or send the picture."
        )
    shown = value if _MEDIA_TYPE.fullmatch(value) and len(value) <= 60 else "an unknown type"
    raise LinkNotImage(
        f"That link leads to a file of type {shown}, not a picture Tipline can check "
        "(JPEG, PNG, WebP, GIF, TIFF or HEIC)."
    )


def _too_large(max_bytes: int) -> LinkTooLarge:
    size = f"{max_bytes / 1024 / 1024:.0f} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
    return LinkTooLarge(f"That picture is larger than the {size} Tipline accepts from a link.")
