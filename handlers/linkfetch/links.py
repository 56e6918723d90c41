"""Links in a message, and the vetting of one link before any network traffic.

Only http(s) is opened; credentials written into a link are dropped; a host written as a number
in an odd notation (octal, hex, fewer than four parts), a trick to hide where a link goes, is
refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from handlers.linkfetch.addresses import literal_address
from handlers.linkfetch.errors import LinkAddressRefused, LinkInvalid, LinkSchemeRefused

__all__ = ["MAX_LINKS", "MAX_URL_LENGTH", "find_urls", "parse_link"]

#: Links taken from one message; more than this in a tip is noise or abuse.
MAX_LINKS = 5
MAX_URL_LENGTH = 2048
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)

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


def _is_numeric_host(host: str) -> bool:
    """A host made only of numbers, which ``inet_aton`` and browsers read as an IPv4 address."""
    labels = host.rstrip(".").split(".")
    return 1 <= len(labels) <= 4 and all(_NUMERIC_LABEL.fullmatch(label) for label in labels)


def _odd_number(host: str) -> LinkAddressRefused:
    return LinkAddressRefused(
        f"That link writes its address as a number in an unusual form ({host[:40]}), a trick "
        "used to hide where a link really goes, so Tipline does not fetch it."
    )


def parse_link(text: str) -> httpx.URL:
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
    if _is_numeric_host(host) and literal_address(host) is None:
        raise _odd_number(host)
    # Credentials written into a link are never sent on; the fragment never leaves anyway.
    return url.copy_with(userinfo=b"", fragment=None)
