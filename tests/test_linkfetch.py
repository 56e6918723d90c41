"""Fetching a linked picture: real HTTP(S) servers on 127.0.0.1, names from a fixed table.

Production code refuses loopback, so the happy paths inject a resolver (``StaticResolver``) and
an address policy that admits only the test server's loopback addresses. Every fetch goes
through ``LoopbackOnly``, a transport that refuses any request not addressed to a loopback IP
literal: a broken check can never send traffic off this machine, and a request still addressed
to a *name* (pinning broken) fails the test.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from PIL import Image

from checks.errors import FileTooLarge, InvalidInput, UnsupportedFormat
from handlers import linkfetch
from handlers.linkfetch import (
    FetchedImage,
    LinkAddressRefused,
    LinkFetchError,
    LinkHttpError,
    LinkInvalid,
    LinkNotImage,
    LinkSchemeRefused,
    LinkTimeout,
    LinkTooLarge,
    LinkTooManyRedirects,
    LinkUnreachable,
    StaticResolver,
    fetch_image,
    find_urls,
    is_public_address,
)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


JPEG = _jpeg()
SERVER_ADDRESSES = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")}


def test_server_only(address: linkfetch.Address) -> bool:
    """Address policy for these tests: the loopback addresses our servers use, nothing else."""
    return address in SERVER_ADDRESSES


test_server_only.__test__ = False  # a helper, not a test


NAMES = StaticResolver(
    {
        "tips.example": ["127.0.0.1"],
        "cdn.example": ["127.0.0.1"],
        "other.example": ["127.0.0.1"],
        "fallback.example": ["127.0.0.2", "127.0.0.1"],  # nothing listens on 127.0.0.2
        "intranet.example": ["10.0.0.7"],
        "metadata.example": ["169.254.169.254"],
        "mixed.example": ["127.0.0.1", "10.0.0.8"],
    }
)


# --- the test server ------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        name = parts.path.strip("/").split("/")[0].split(".")[0].replace("-", "_")
        route = getattr(self, "route_" + name)
        # The client hanging up is what it should do when it refuses something.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(parts.path, query)

    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def route_good(self, path: str, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg", "Content-Length": str(len(JPEG))})
        self.wfile.write(JPEG)

    def route_typed(self, path: str, query: dict[str, str]) -> None:
        headers = {"Content-Type": query["type"]} if query.get("type") else {}
        self._start(200, headers)
        self.wfile.write(b"<html><body>not a picture</body></html>")

    def route_redirect(self, path: str, query: dict[str, str]) -> None:
        headers = {"Location": query["to"]}
        if "cookie" in query:
            headers["Set-Cookie"] = "session=secret; Path=/"
        self._start(int(query.get("status", "302")), headers)

    def route_chain(self, path: str, query: dict[str, str]) -> None:
        left = int(path.rsplit("/", 1)[1])
        self._start(302, {"Location": f"/chain/{left - 1}" if left else "/good.jpg"})

    def route_loop(self, path: str, query: dict[str, str]) -> None:
        self._start(301, {"Location": "/loop"})

    def route_declared_huge(self, path: str, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg", "Content-Length": str(10**9)})
        self.wfile.write(JPEG)

    def route_stream(self, path: str, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg"})  # no length: ends when we close
        chunk = b"\xff" * 65536
        for _ in range(int(query["size"]) // len(chunk)):
            self.wfile.write(chunk)

    def route_slow(self, path: str, query: dict[str, str]) -> None:
        self._start(200, {"Content-Type": "image/jpeg"})
        give_up = time.monotonic() + 5
        while time.monotonic() < give_up and not self.server.stopping.is_set():
            self.wfile.write(b"\xff")
            self.wfile.flush()
            time.sleep(0.05)

    def route_missing(self, path: str, query: dict[str, str]) -> None:
        self._start(404, {"Content-Type": "text/plain"})
        self.wfile.write(b"no such picture")


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    server = _Server()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[_Server]:
    with serve() as running:
        yield running


class LoopbackOnly(httpx.AsyncBaseTransport):
    """Sends only requests addressed to a loopback IPv4 literal; records what it sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = ipaddress.ip_address(request.url.host)  # a name here means pinning broke
        assert address.version == 4 and address.is_loopback, f"test would reach {address}"
        self.sent.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def guard() -> AsyncIterator[LoopbackOnly]:
    transport = LoopbackOnly()
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        transport.client = client  # type: ignore[attr-defined]
        yield transport


async def fetch(url: str, guard: LoopbackOnly, **kwargs: object) -> FetchedImage:
    options: dict[str, object] = {"resolver": NAMES, "address_policy": test_server_only}
    options.update(kwargs)
    return await fetch_image(url, client=guard.client, **options)  # type: ignore[attr-defined,arg-type]


# --- happy paths ----------------------------------------------------------------------------


async def test_fetches_a_jpeg_from_the_validated_address(server: _Server, guard: LoopbackOnly):
    got = await fetch(f"http://tips.example:{server.port}/good.jpg", guard)
    assert got.data == JPEG
    assert got.content_type == "image/jpeg"
    assert got.url == f"http://tips.example:{server.port}/good.jpg"
    assert Image.open(io.BytesIO(got.data)).size == (64, 48)
    # Connected to the IP that was checked, with the link's name as Host.
    assert [str(r.url) for r in guard.sent] == [f"http://127.0.0.1:{server.port}/good.jpg"]
    _path, headers = server.seen[0]
    assert headers["host"] == f"tips.example:{server.port}"
    assert "Tipline" in headers["user-agent"]
    assert "cookie" not in headers and "authorization" not in headers


async def test_follows_redirects_and_reports_the_final_url(server: _Server, guard: LoopbackOnly):
    target = quote(f"http://cdn.example:{server.port}/good.jpg", safe="")
    got = await fetch(f"http://tips.example:{server.port}/redirect?to={target}&cookie=1", guard)
    assert got.data == JPEG
    assert got.url == f"http://cdn.example:{server.port}/good.jpg"
    assert server.seen[1][1]["host"] == f"cdn.example:{server.port}"
    assert "cookie" not in server.seen[1][1], "a cookie set by the first hop was sent on"


async def test_credentials_in_the_link_are_never_sent(server: _Server, guard: LoopbackOnly):
    got = await fetch(f"http://user:hunter2@tips.example:{server.port}/good.jpg#frag", guard)
    assert got.url == f"http://tips.example:{server.port}/good.jpg"
    assert "authorization" not in server.seen[0][1]


async def test_parameters_and_case_in_the_content_type_are_accepted(
    server: _Server, guard: LoopbackOnly
):
    got = await fetch(f"http://tips.example:{server.port}/typed?type=IMAGE/PNG;+q=1", guard)
    assert got.content_type == "image/png"


async def test_the_next_address_is_tried_when_one_refuses_connections(
    server: _Server, guard: LoopbackOnly
):
    got = await fetch(f"http://fallback.example:{server.port}/good.jpg", guard)
    assert got.data == JPEG
    assert [r.url.host for r in guard.sent] == ["127.0.0.2", "127.0.0.1"]


async def test_up_to_max_redirects_are_followed(server: _Server, guard: LoopbackOnly):
    got = await fetch(f"http://tips.example:{server.port}/chain/4", guard, max_redirects=5)
    assert got.data == JPEG
    assert len(server.seen) == 6


# --- refusals: where the link goes ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/a.jpg", "file:///etc/passwd", "javascript:alert(1)",
     "data:image/png;base64,AAAA", "example.org/a.jpg", "gopher://example.org/"],
)  # fmt: skip
async def test_schemes_other_than_http_are_refused(url: str, guard: LoopbackOnly):
    with pytest.raises(LinkSchemeRefused, match="http:// or https://") as caught:
        await fetch(url, guard)
    assert caught.value.code == "link_scheme_refused"
    assert guard.sent == []


@pytest.mark.parametrize("url", ["", "   ", "http://", "https:///nohost", "http://exa mple.org/"])
async def test_malformed_links_are_refused(url: str, guard: LoopbackOnly):
    with pytest.raises((LinkInvalid, LinkSchemeRefused)):
        await fetch(url, guard)
    assert guard.sent == []


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} should have been refused before any lookup")


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/",  # ... in hex
        "http://017700000001/",  # ... in octal
        "http://0177.0.0.1/",  # dotted octal
        "http://0x7f.0.0.1/",  # dotted hex
        "http://127.1/",  # short form
        "http://127.0.0.1./",  # trailing dot
        "http://134744072/",  # 8.8.8.8: public, but the odd form is refused anyway
    ],
)
async def test_ip_literals_in_odd_notations_are_refused(url: str, guard: LoopbackOnly):
    with pytest.raises(LinkAddressRefused, match="unusual form") as caught:
        await fetch_image(url, client=guard.client, resolver=_no_dns)  # type: ignore[attr-defined]
    assert caught.value.code == "link_address_refused"
    assert guard.sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "https://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
    ],
)
async def test_literal_private_addresses_are_refused_by_default(url: str, guard: LoopbackOnly):
    with pytest.raises(LinkAddressRefused, match="Tipline does not fetch"):
        await fetch_image(url, client=guard.client, resolver=_no_dns)  # type: ignore[attr-defined]
    assert guard.sent == []


async def test_the_system_resolver_answer_is_checked(server: _Server, guard: LoopbackOnly):
    """End to end with the production resolver and policy: localhost is refused after DNS."""
    with pytest.raises(LinkAddressRefused, match="own computer") as caught:
        await fetch_image(f"http://localhost:{server.port}/good.jpg", client=guard.client)  # type: ignore[attr-defined]
    assert caught.value.address is not None and caught.value.address.is_loopback
    assert guard.sent == [] and server.seen == []


async def test_one_private_address_among_several_refuses_the_host(guard: LoopbackOnly):
    with pytest.raises(LinkAddressRefused, match="private network") as caught:
        await fetch("http://mixed.example/good.jpg", guard)
    assert str(caught.value.address) == "10.0.0.8"
    assert guard.sent == []


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://metadata.example/latest/meta-data/", "169.254.169.254"),
        ("http://intranet.example/admin", "10.0.0.7"),
        ("http://[::1]:{port}/good.jpg", "::1"),
        ("http://127.0.0.3:{port}/good.jpg", "127.0.0.3"),
    ],
)
async def test_every_redirect_hop_is_checked(
    server: _Server, guard: LoopbackOnly, target: str, refused: str
):
    location = quote(target.format(port=server.port), safe="")
    with pytest.raises(LinkAddressRefused) as caught:
        await fetch(f"http://tips.example:{server.port}/redirect?to={location}", guard)
    assert str(caught.value.address) == refused
    assert len(guard.sent) == 1  # the first hop only; the refused one was never contacted


async def test_a_redirect_to_another_scheme_is_refused(server: _Server, guard: LoopbackOnly):
    location = quote("file:///etc/passwd", safe="")
    with pytest.raises(LinkSchemeRefused):
        await fetch(f"http://tips.example:{server.port}/redirect?to={location}", guard)


async def test_too_many_redirects(server: _Server, guard: LoopbackOnly):
    with pytest.raises(LinkTooManyRedirects, match="more than 5 redirects") as caught:
        await fetch(f"http://tips.example:{server.port}/chain/5", guard, max_redirects=5)
    assert caught.value.code == "link_too_many_redirects"
    assert len(server.seen) == 6


async def test_a_redirect_loop_ends(server: _Server, guard: LoopbackOnly):
    with pytest.raises(LinkTooManyRedirects):
        await fetch(f"http://tips.example:{server.port}/loop", guard, max_redirects=3)
    assert len(server.seen) == 4


# --- refusals: what comes back --------------------------------------------------------------


async def test_too_large_by_content_length(server: _Server, guard: LoopbackOnly):
    with pytest.raises(LinkTooLarge, match="larger than the 20 MB") as caught:
        await fetch(f"http://tips.example:{server.port}/declared-huge", guard)
    assert caught.value.code == "link_too_large"
    assert isinstance(caught.value, FileTooLarge)


async def test_too_large_while_streaming_without_content_length(
    server: _Server, guard: LoopbackOnly
):
    with pytest.raises(LinkTooLarge):
        await fetch(
            f"http://tips.example:{server.port}/stream?size={4 * 1024 * 1024}",
            guard,
            max_bytes=1024 * 1024,
        )
    # Just under the limit is fine.
    got = await fetch(
        f"http://tips.example:{server.port}/stream?size={1024 * 1024}", guard, max_bytes=1024 * 1024
    )
    assert len(got.data) == 1024 * 1024


async def test_a_dribbling_server_hits_the_overall_deadline(server: _Server, guard: LoopbackOnly):
    started = time.monotonic()
    with pytest.raises(LinkTimeout, match=r"longer than 0\.5 seconds") as caught:
        await fetch(f"http://tips.example:{server.port}/slow", guard, timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert caught.value.code == "link_timeout"


async def test_slow_dns_counts_against_the_deadline(guard: LoopbackOnly):
    async def stalled(host: str, port: int) -> list[str]:
        import asyncio

        await asyncio.sleep(30)
        return ["127.0.0.1"]

    started = time.monotonic()
    with pytest.raises(LinkTimeout):
        await fetch("http://tips.example/good.jpg", guard, resolver=stalled, timeout=0.3)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/html; charset=utf-8", "web page"),
        ("", "did not say what kind of file"),
        ("application/pdf", "type application/pdf"),
        ("image/svg+xml", r"type image/svg\+xml"),
        ("text/<script>", "an unknown type"),
    ],
)
async def test_only_picture_types_are_accepted(
    server: _Server, guard: LoopbackOnly, content_type: str, message: str
):
    url = f"http://tips.example:{server.port}/typed?type={quote(content_type)}"
    with pytest.raises(LinkNotImage, match=message) as caught:
        await fetch(url, guard)
    assert caught.value.code == "link_not_image"
    assert isinstance(caught.value, UnsupportedFormat)


async def test_an_error_status_is_reported(server: _Server, guard: LoopbackOnly):
    with pytest.raises(LinkHttpError, match="404") as caught:
        await fetch(f"http://tips.example:{server.port}/missing", guard)
    assert caught.value.status == 404


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_host(guard: LoopbackOnly):
    with pytest.raises(LinkUnreachable, match="could not connect") as caught:
        await fetch(f"http://tips.example:{_closed_port()}/good.jpg", guard)
    assert caught.value.code == "link_unreachable"


async def test_a_name_that_does_not_exist(guard: LoopbackOnly):
    with pytest.raises(LinkUnreachable, match="name does not exist"):
        await fetch("http://nowhere.example/good.jpg", guard)
    assert guard.sent == []


# --- https: the pinned address still gets the name's certificate checked ----------------


def _tls_contexts(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for ``name``: (server context, client context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def builder(
        subject: str, issuer: str, key: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )

    usage = dict.fromkeys(
        ["content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "encipher_only", "decipher_only"], False
    )  # fmt: skip
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("Tipline test CA", "Tipline test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    leaf = (
        builder(name, "Tipline test CA", key)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
            True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(aki, False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    client_ctx = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server_ctx, client_ctx


async def test_https_connects_to_the_pinned_ip_with_the_names_sni_and_certificate(
    tmp_path: Path,
):
    server_ctx, client_ctx = _tls_contexts(tmp_path, "tips.example")
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment]
    transport = LoopbackOnly(httpx.AsyncHTTPTransport(verify=client_ctx))
    with serve(server_ctx) as server:
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            got = await fetch_image(
                f"https://tips.example:{server.port}/good.jpg",
                client=client,
                resolver=NAMES,
                address_policy=test_server_only,
            )
            assert got.data == JPEG
            assert transport.sent[0].url.host == "127.0.0.1"
            assert sni == ["tips.example"]
            assert server.seen[0][1]["host"] == f"tips.example:{server.port}"

            # Same address, another name: the certificate does not cover it, so no fetch.
            with pytest.raises(LinkUnreachable, match="certificate"):
                await fetch_image(
                    f"https://other.example:{server.port}/good.jpg",
                    client=client,
                    resolver=NAMES,
                    address_policy=test_server_only,
                )
            assert len(server.seen) == 1


# --- the default address policy -------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.8.9.10",
        "169.254.169.254", "169.254.0.1", "0.0.0.0", "100.64.0.1", "100.127.255.254",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
        "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:8.8.8.8",
        "::127.0.0.1", "2002:7f00:1::1", "2002:a00:1::1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
        "2001:db8::1", "2001::1", "100::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e",
     "2002:808:808::1", "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_are_allowed(address: str):
    assert is_public_address(ipaddress.ip_address(address))


# --- errors and link finding ----------------------------------------------------------------


def test_each_error_has_its_own_code_and_is_invalid_input():
    classes = [
        LinkFetchError, LinkInvalid, LinkSchemeRefused, LinkAddressRefused, LinkTooLarge,
        LinkTimeout, LinkNotImage, LinkUnreachable, LinkHttpError, LinkTooManyRedirects,
    ]  # fmt: skip
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert all(
        issubclass(cls, InvalidInput) and code.startswith("link_")
        for cls, code in zip(classes, codes, strict=True)
    )
    assert LinkTimeout("slow").as_dict() == {"code": "link_timeout", "message": "slow"}


def test_find_urls_in_order_without_repeats_or_punctuation():
    text = (
        "Look: https://a.example/x.jpg, and (http://b.example/y.png). "
        "Again https://a.example/x.jpg! Also HTTPS://c.example/wiki/Foo_(bar) and "
        "ftp://d.example/z.jpg and «https://e.example/q?x=1&y=2».\n"
        "https://f.example/1 https://g.example/2 https://h.example/3"
    )
    assert find_urls(text) == [
        "https://a.example/x.jpg",
        "http://b.example/y.png",
        "HTTPS://c.example/wiki/Foo_(bar)",
        "https://e.example/q?x=1&y=2",
        "https://f.example/1",
    ]


def test_find_urls_edge_cases():
    assert find_urls("") == []
    assert find_urls("no links here, just http:// and https://.") == []
    assert find_urls("[https://x.example/a]") == ["https://x.example/a"]
    assert find_urls("http://[::1]/a.jpg") == ["http://[::1]/a.jpg"]
