"""The link-fetch errors, each with a message written for the tipster who sent the link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.errors import FileTooLarge, InvalidInput, UnsupportedFormat

if TYPE_CHECKING:
    from handlers.linkfetch.addresses import Address

__all__ = [
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
]


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
