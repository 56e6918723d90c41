"""Pulling partners' feeds: fetch a page, verify each entry, apply the good ones, move on.

What a partner can send is bounded: http(s) only; one deadline per page; the body counted
while it streams and dropped past the limit (a body that never ends costs at most the limit);
redirects followed by hand, at most three, each to http(s) and to a public address (or to a
loopback one when the partner itself is on loopback, as in tests). An entry that fails its
signature or the format is refused and logged by partner and entry; the rest of the page
applies in one transaction. A page that is not a page (garbage, an error status, a timeout)
changes nothing and counts towards the partner's backoff; the next sync starts from the same
cursor. Nothing here runs on a tip's path: the bot syncs in a background task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from checks.errors import InvalidInput, TiplineError
from handlers.linkfetch.addresses import (
    Address,
    Resolver,
    checked_addresses,
    is_public_address,
    literal_address,
    system_resolver,
)
from storage.errors import StorageError
from storage.exchange.feed_format import EntryRejected, FeedRejected, parse_page, verify_entry
from storage.exchange.signing import parse_public_key
from storage.exchange_base import Contest, Exchange, Partner, PartnerEntry

__all__ = ["SyncLimits", "SyncReport", "backoff", "sync_due", "sync_partner", "sync_partners"]

log = logging.getLogger(__name__)

USER_AGENT = "Tipline/0.1 (newsroom exchange; reads a partner's feed)"


@dataclass(frozen=True, slots=True)
class SyncLimits:
    """How much one partner may cost a sync."""

    #: Seconds to connect, and between two reads of the body.
    timeout: float = 10.0
    #: Seconds for one page, redirects and body included, however slowly it trickles.
    page_deadline: float = 60.0
    #: The largest page body, in bytes.
    max_body: int = 64 * 1024 * 1024
    #: Entries asked for per page.
    page_size: int = 1000
    #: Pages per sync at most (the next sync goes on from the cursor).
    max_pages: int = 1000
    max_redirects: int = 3


@dataclass
class SyncReport:
    """What one partner's sync did."""

    partner: str
    applied: int = 0
    pages: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    #: Applied entries whose verdict differs from ours on the same picture.
    contested: list[Contest] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        line = f"{self.applied} applied, {len(self.rejected)} rejected"
        line += f", {len(self.replayed)} replayed in {self.pages} page(s)"
        return f"failed: {self.error} ({line})" if self.error else line


class SyncFailed(TiplineError):
    """The partner's page could not be had or read: nothing of it was applied."""

    code = "sync_failed"


def backoff(failures: int) -> timedelta:
    """How long to leave a partner alone after ``failures`` failed syncs in a row: a minute,
    doubling, at most six hours."""
    return timedelta(seconds=min(60 * 2 ** max(failures - 1, 0), 6 * 3600))


def sync_due(partner: Partner, now: datetime) -> bool:
    """Whether a scheduled sync should pull this partner now (its backoff is over)."""
    return partner.retry_at is None or partner.retry_at <= now


async def sync_partner(
    storage: Exchange,
    partner: Partner,
    http: httpx.AsyncClient,
    *,
    limits: SyncLimits | None = None,
    resolver: Resolver = system_resolver,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncReport:
    """Pull ``partner`` from its cursor until its feed has no more (or ``max_pages``).

    Never raises for what the partner does; a database failure propagates (StorageError).
    """
    limits = limits or SyncLimits()
    report = SyncReport(partner=partner.name)
    try:
        public = parse_public_key(partner.public_key)
    except InvalidInput as exc:
        report.error = str(exc)
        await _record(storage, partner, report, clock())
        return report
    cursor = partner.cursor
    # The next page is fetched while this one is verified and applied: the partner signs
    # (or the network carries) page n + 1 while this side checks page n.
    pending: asyncio.Task[tuple[list[Any], str, bool]] | None = asyncio.create_task(
        _page(http, partner, cursor, limits, resolver)
    )
    try:
        while pending is not None:
            try:
                raw_entries, next_cursor, more = await pending
            except TimeoutError:
                report.error = f"no page within {limits.page_deadline:g} s"
                break
            except (SyncFailed, FeedRejected) as exc:
                report.error = str(exc)
                break
            pending = None
            if more and next_cursor != cursor and report.pages + 1 < limits.max_pages:
                pending = asyncio.create_task(_page(http, partner, next_cursor, limits, resolver))
            # Off the event loop: checking a thousand signatures takes a good part of a second.
            accepted = await asyncio.to_thread(_verified, partner, raw_entries, public, report)
            result = await storage.apply_partner_page(partner.id, accepted, next_cursor)
            report.pages += 1
            report.applied += result.applied
            report.replayed.extend(result.replayed)
            report.contested.extend(result.contested)
            for key in result.replayed:
                log.warning(
                    "partner %s: entry %s rejected: replayed (not newer)", partner.name, key
                )
            cursor = next_cursor
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait([pending])  # its outcome is dropped; our own cancel is not
            if not pending.cancelled():
                pending.exception()  # retrieved, so it is not reported as lost
    await _record(storage, partner, report, clock())
    return report


async def _page(
    http: httpx.AsyncClient,
    partner: Partner,
    cursor: str | None,
    limits: SyncLimits,
    resolver: Resolver,
) -> tuple[list[Any], str, bool]:
    """The page after ``cursor``, fetched within the page deadline and parsed."""
    async with asyncio.timeout(limits.page_deadline):
        body = await _fetch(http, partner, cursor, limits, resolver)
    return await asyncio.to_thread(parse_page, body)


async def _record(storage: Exchange, partner: Partner, report: SyncReport, now: datetime) -> None:
    if report.error is None:
        await storage.record_partner_sync(partner.id, report.summary(), failed=False, retry_at=None)
        return
    retry_at = now + backoff(partner.failures + 1)
    log.warning("partner %s: sync failed: %s", partner.name, report.error)
    try:
        await storage.record_partner_sync(
            partner.id, report.summary(), failed=True, retry_at=retry_at
        )
    except StorageError:
        log.exception("partner %s: could not record the failed sync", partner.name)


def _verified(
    partner: Partner, raw_entries: Sequence[object], public: Ed25519PublicKey, report: SyncReport
) -> list[PartnerEntry]:
    accepted = []
    for position, raw in enumerate(raw_entries):
        try:
            accepted.append(verify_entry(raw, public, position))
        except EntryRejected as exc:
            report.rejected.append((exc.key, exc.reason))
            log.warning("partner %s: entry %s rejected: %s", partner.name, exc.key, exc.reason)
    return accepted


async def _fetch(
    http: httpx.AsyncClient,
    partner: Partner,
    cursor: str | None,
    limits: SyncLimits,
    resolver: Resolver,
) -> bytes:
    """The body of the page after ``cursor``, redirects followed by hand and checked."""
    try:
        url = httpx.URL(partner.url)
    except httpx.InvalidURL as exc:
        raise SyncFailed(f"the partner's URL is unusable: {exc}") from None
    params = {"limit": str(limits.page_size)}
    if cursor:
        params["after"] = cursor
    url = url.copy_merge_params(params)
    loopback = _is_loopback(url)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if partner.token:
        headers["Authorization"] = f"Bearer {partner.token}"
    for hop in range(limits.max_redirects + 1):
        if url.scheme not in ("http", "https"):
            raise SyncFailed(f"refused a {url.scheme or 'schemeless'} URL: http(s) only")
        if hop:
            await _check_redirect(url, loopback, resolver)
        request = http.build_request("GET", url, headers=headers, timeout=limits.timeout)
        try:
            response = await http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise SyncFailed(f"could not reach the feed: {type(exc).__name__}") from None
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                url = url.join(location)
                if url.host != request.url.host and "Authorization" in headers:
                    del headers["Authorization"]  # a token is for the partner's own host
                continue
            if response.status_code != 200:
                raise SyncFailed(f"the feed answered HTTP {response.status_code}")
            return await _read(response, limits.max_body)
        finally:
            await response.aclose()
    raise SyncFailed(f"more than {limits.max_redirects} redirects")


async def _check_redirect(url: httpx.URL, loopback: bool, resolver: Resolver) -> None:
    """A redirect may lead only to the public internet (or loopback, from a loopback partner)."""

    def allowed(address: Address) -> bool:
        return is_public_address(address) or (loopback and address.is_loopback)

    try:
        await checked_addresses(url, resolver, allowed)
    except TiplineError as exc:
        raise SyncFailed(f"refused a redirect to {url.host}: {exc}") from None


def _is_loopback(url: httpx.URL) -> bool:
    address = literal_address(url.host)
    return url.host == "localhost" or (address is not None and address.is_loopback)


async def _read(response: httpx.Response, limit: int) -> bytes:
    """The body, counted while it streams; past ``limit`` it is dropped and refused."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise SyncFailed(f"the page is larger than {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise SyncFailed(f"the page is larger than {limit} bytes")
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise SyncFailed(f"the page broke off: {type(exc).__name__}") from None
    return b"".join(chunks)


async def sync_partners(
    storage: Exchange,
    http: httpx.AsyncClient,
    *,
    names: Sequence[str] | None = None,
    force: bool = False,
    limits: SyncLimits | None = None,
    resolver: Resolver = system_resolver,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[SyncReport]:
    """Sync the named partners (all when None), one after another; without ``force``, a
    partner still in its backoff is left for later. One partner's failure stops no other."""
    partners = await storage.partners()
    if names is not None:
        wanted = set(names)
        missing = wanted - {p.name for p in partners}
        if missing:
            raise InvalidInput(f"no partner named {', '.join(sorted(missing))}")
        partners = [p for p in partners if p.name in wanted]
    reports = []
    for partner in partners:
        if force or sync_due(partner, clock()):
            reports.append(
                await sync_partner(
                    storage, partner, http, limits=limits, resolver=resolver, clock=clock
                )
            )
    return reports
