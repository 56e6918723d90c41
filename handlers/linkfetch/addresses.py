"""Which addresses a link may reach: only public ones, every one the host resolves to.

Private, loopback, link-local and cloud-metadata, CGNAT, multicast, reserved and IPv4-mapped
addresses are refused; a host with one refused address is refused whole.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from handlers.linkfetch.errors import LinkAddressRefused, LinkUnreachable

__all__ = [
    "Address",
    "AddressPolicy",
    "Resolver",
    "StaticResolver",
    "checked_addresses",
    "is_public_address",
    "literal_address",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``; raises ``OSError`` (as ``getaddrinfo`` does) for unknown names.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
#: ``address -> may we connect to it``.
AddressPolicy = Callable[[Address], bool]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def checked_addresses(
    url: httpx.URL, resolver: Resolver, policy: AddressPolicy
) -> list[Address]:
    """Every address the host has, each allowed by the policy; one refused refuses them all."""
    literal = literal_address(url.host)
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
            address = literal_address(str(answer))
            if address is None:
                raise LinkUnreachable("Tipline could not find that website's address.")
            candidates.append(address)
        if not candidates:
            raise LinkUnreachable("Tipline could not find that website's address.")
    for address in candidates:
        if not policy(address):
            raise _refuse(address)
    return list(dict.fromkeys(candidates))
