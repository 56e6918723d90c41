"""Fetching a picture from a link a tipster sent, without letting the link reach inside our network.

A link is a request the bot makes on a stranger's behalf, so every hop is treated as hostile:
:mod:`~handlers.linkfetch.links` vets the link itself, :mod:`~handlers.linkfetch.addresses`
every address its host resolves to, and :mod:`~handlers.linkfetch.fetch` makes the request,
pinned to those addresses, and checks each redirect, the size, the time and the type.
"""

from handlers.linkfetch.addresses import (
    Address,
    AddressPolicy,
    Resolver,
    StaticResolver,
    is_public_address,
    system_resolver,
)
from handlers.linkfetch.errors import (
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
)
from handlers.linkfetch.fetch import (
    ALLOWED_CONTENT_TYPES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    FetchedImage,
    fetch_image,
)
from handlers.linkfetch.links import MAX_LINKS, MAX_URL_LENGTH, find_urls

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
