"""Fetching a picture from a link a tipster sent, without letting the link reach inside our network.

A link is a request the bot makes on a stranger's behalf, so every hop is treated as hostile:
http(s) only; the host is resolved and *every* address must be public (private, loopback,
link-local and cloud-metadata, CGNAT, multicast, reserved, IPv4-mapped, and numbers written in
odd notations are refused); redirects are followed by hand and each hop is checked again; the
body is counted while it streams; one deadline covers the whole fetch; only picture types are
accepted; no cookies, no credentials, no proxy from the environment.

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
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from checks.errors import FileTooLarge, InvalidInput, UnsupportedFormat

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "MAX_LINKS",
    "MAX_URL_LENGTH",
    "USER_AGENT",
    "Address",
    "AddressPolicy",
    "FetchedImage",
    "LinkAddressRefused",
    "LinkFetchError",
    "LinkHttpError",
    "LinkInvalid",
    "LinkNotImage",
    "LinkSchemeRefused",
    "LinkTimeout",
    "LinkTooLarge",
    "LinkTooManyRedirects",
    "LinkUnreachable",
    "Resolver",
    "StaticResolver",
    "fetch_image",
    "find_urls",
    "is_public_address",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``; raises ``OSError`` (as ``getaddrinfo`` does) for unknown names.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
#: ``address -> may we connect to it``.
AddressPolicy = Callable[[Address], bool]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # Telegram's own download limit for bots
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_REDIRECTS = 5
#: Links taken from one message; more than this in a tip is noise or abuse.
MAX_LINKS = 5
MAX_URL_LENGTH = 2048
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
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")


# --- errors ---------------------------------------------------------------------------------


class LinkFetchError(InvalidInput):
    """A link was refused or could not be fetched; the message is for the tipster."""

    code = "link_fetch_failed"


class LinkInvalid(LinkFetchError):
    code = "link_invalid"


class LinkSchemeRefused(LinkFetchError):
    code = "link_scheme_refused"


class LinkAddressRefused(LinkFetchError):
    """The link's host is, or resolves to, an address we never connect to."""

    code = "link_address_refused"

    def __init__(self, message: str, address: Address | None = None) -> None:
        super().__init__(message)
        self.address = address


class LinkTooLarge(LinkFetchError, FileTooLarge):
    """Also a ``FileTooLarge``, so a handler treating oversized files alike catches it."""

    code = "link_too_large"


class LinkTimeout(LinkFetchError):
    code = "link_timeout"


class LinkNotImage(LinkFetchError, UnsupportedFormat):
    """Also an ``UnsupportedFormat``: the link leads to something that is not a picture."""

    code = "link_not_image"


class LinkUnreachable(LinkFetchError):
    code = "link_unreachable"


class LinkHttpError(LinkFetchError):
    """The site answered, but with an error status instead of the picture."""

    code = "link_http_error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class LinkTooManyRedirects(LinkFetchError):
    code = "link_too_many_redirects"


# --- result ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchedImage:
    """The bytes of a fetched picture and where they finally came from (after redirects)."""

    url: str
    content_type: str
    data: bytes = field(repr=False)


# --- finding links --------------------------------------------------------------------------

_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'«»“”‘’]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def find_urls(text: str) -> list[str]:
    """The http(s) links in a message, in order, without repeats, at most ``MAX_LINKS``.

    Sentence punctuation and an unbalanced closing bracket after a link are not part of it
    ("see (https://x.org/a.jpg)." gives ``https://x.org/a.jpg``).
    """
    found: list[str] = []
    for match in _URL_IN_TEXT.finditer(text):
        url = _trim(match.group(0))
        if len(url) <= len(url.split("://", 1)[0]) + 3 or url in found:
            continue
        found.append(url)
        if len(found) == MAX_LINKS:
            break
    return found


def _trim(url: str) -> str:
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCTUATION or (
            last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])
        ):
            url = url[:-1]
            continue
        break
    return url


# --- addresses ------------------------------------------------------------------------------


def is_public_address(address: Address) -> bool:
    """True only for an address on the public internet: the default ``address_policy``.

    ``is_global`` is the base; the explicit checks make the answer the same on every Python
    version (its tables changed in 3.11.10 / 3.12.4) and cover addresses that embed an IPv4
    address: IPv4-mapped ones are always refused; 6to4 and NAT64 ones are judged by the IPv4
    address inside.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return False  # no honest DNS answer is a mapped address
        if address in _NAT64:
            # On an IPv6-only host behind DNS64, this is how every IPv4 site is reached; the
            # range sits inside ::/8 (``is_reserved``), so judge the embedded address instead.
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        if address.is_site_local:
            return False
    elif address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system's ``getaddrinfo`` (in a worker thread, via the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class StaticResolver:
    """Test double for ``Resolver``: answers from a fixed table, never from DNS.

    Unknown names raise ``socket.gaierror`` exactly as the system resolver would.
    """

    table: Mapping[str, Sequence[str]]

    async def __call__(self, host: str, port: int) -> list[str]:
        try:
            return list(self.table[host])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


def _describe(address: Address) -> str:
    if address.is_loopback:
        return "the bot's own computer"
    if address.is_link_local:
        return "a link-local address (such as a cloud server's internal metadata service)"
    if address.is_private or address in _CGNAT:
        return "a private network address"
    return "an address that is not on the public internet"


def _refuse(address: Address) -> LinkAddressRefused:
    return LinkAddressRefused(
        f"That link points to {_describe(address)}, which Tipline does not fetch.", address
    )


# --- parsing --------------------------------------------------------------------------------


def _is_numeric_host(host: str) -> bool:
    """A host made only of numbers, which ``inet_aton`` and browsers read as an IPv4 address."""
    labels = host.rstrip(".").split(".")
    return 1 <= len(labels) <= 4 and all(_NUMERIC_LABEL.fullmatch(label) for label in labels)


def _literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _odd_number(host: str) -> LinkAddressRefused:
    return LinkAddressRefused(
        f"That link writes its address as a number in an unusual form ({host[:40]}), a trick "
        "used to hide where a link really goes, so Tipline does not fetch it."
    )


def _parse_link(text: str) -> httpx.URL:
    """Parse and vet one link before any network traffic: scheme, host form, no credentials."""
    text = text.strip()
    if not text or len(text) > MAX_URL_LENGTH:
        raise LinkInvalid("That does not look like a web address Tipline can open.")
    scheme, colon, _ = text.partition(":")
    if not colon or scheme.lower() not in ("http", "https"):
        raise LinkSchemeRefused("Tipline only opens links that start with http:// or https://.")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        if host and _is_numeric_host(host):
            raise _odd_number(host) from exc
        raise LinkInvalid("That does not look like a web address Tipline can open.") from exc
    host = url.host
    if url.scheme not in ("http", "https"):
        raise LinkSchemeRefused("Tipline only opens links that start with http:// or https://.")
    if not host or "%" in host:
        raise LinkInvalid("That link has no website name Tipline can read.")
    if _is_numeric_host(host) and _literal_address(host) is None:
        raise _odd_number(host)
    # Credentials written into a link are never sent on; the fragment never leaves anyway.
    return url.copy_with(userinfo=b"", fragment=None)


# --- fetching -------------------------------------------------------------------------------


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
    target = _parse_link(url)
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
        addresses = await _checked_addresses(url, resolver, policy)
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
                url = _parse_link(str(joined))
                continue
            return await _read_image(response, url, max_bytes)
        finally:
            await response.aclose()
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


async def _checked_addresses(
    url: httpx.URL, resolver: Resolver, policy: AddressPolicy
) -> list[Address]:
    """Every address the host has, each allowed by the policy; one refused refuses them all."""
    literal = _literal_address(url.host)
    if literal is not None:
        candidates = [literal]
    else:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            answers = await resolver(url.raw_host.decode("ascii"), port)
        except OSError as exc:
            raise LinkUnreachable(
                "Tipline could not find that website: its name does not exist."
            ) from exc
        candidates = []
        for answer in answers:
            address = _literal_address(str(answer))
            if address is None:
                raise LinkUnreachable("Tipline could not find that website's address.")
            candidates.append(address)
        if not candidates:
            raise LinkUnreachable("Tipline could not find that website's address.")
    for address in candidates:
        if not policy(address):
            raise _refuse(address)
    return list(dict.fromkeys(candidates))


def _pinned_request(url: httpx.URL, address: Address, deadline: float) -> httpx.Request:
    """A GET sent to ``address`` itself, carrying the link's host in ``Host`` and in SNI."""
    remaining = max(0.001, deadline - asyncio.get_running_loop().time())
    extensions: dict[str, object] = {
        "timeout": {"connect": remaining, "read": remaining, "write": remaining, "pool": remaining}
    }
    if url.scheme == "https" and _literal_address(url.host) is None:
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
