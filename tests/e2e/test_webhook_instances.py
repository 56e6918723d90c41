"""Two instances of one bot behind a load balancer: Telegram's updates alternate between them.

Both instances share one database (here a SQLite file, as on one host) and each receives every
other update, so the parts of one album land on different instances. Asserted is what the
tipster sees: one ticket per album with every picture in its card, and one card per photo.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import tornado.httpserver
import tornado.web
from pydantic import SecretStr

from tests.e2e.harness import TICKET, World, free_port, picture, running_bot, text_of

SECRET_TOKEN = "load-balanced-hook-secret"


class _RoundRobin(tornado.web.RequestHandler):
    """Forwards each POST to the next instance, and its answer back to Telegram."""

    def initialize(
        self, targets: itertools.cycle[str], client: httpx.AsyncClient, sent: Counter[str]
    ) -> None:
        self.targets, self.client, self.sent = targets, client, sent

    async def post(self) -> None:
        target = next(self.targets)
        self.sent[target] += 1
        headers = {
            k: v
            for k, v in self.request.headers.items()
            if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
        }
        answer = await self.client.post(
            target + self.request.path, content=self.request.body, headers=headers
        )
        self.set_status(answer.status_code)
        self.finish(answer.content)


@asynccontextmanager
async def load_balancer(ports: list[int]) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A round-robin proxy on 127.0.0.1 in front of ``ports``; yields its URL and how many
    updates it has sent to each instance."""
    port = free_port()
    sent: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=30.0) as client:
        targets = itertools.cycle(f"http://127.0.0.1:{p}" for p in ports)
        routes = {"targets": targets, "client": client, "sent": sent}
        app = tornado.web.Application([(r"/.*", _RoundRobin, routes)])
        server = tornado.httpserver.HTTPServer(app)
        server.listen(port, address="127.0.0.1")
        try:
            yield f"http://127.0.0.1:{port}", sent
        finally:
            server.stop()
            await server.close_all_connections()


@asynccontextmanager
async def two_instances(world: World) -> AsyncIterator[Counter[str]]:
    """Both instances running behind the proxy; yields the proxy's count of updates sent."""
    ports = [free_port(), free_port()]
    async with AsyncExitStack() as stack:
        proxy, sent = await stack.enter_async_context(load_balancer(ports))
        for n, port in enumerate(ports, start=1):
            # Each listens on its own port; Telegram is told the proxy's URL.
            settings = world.settings.model_copy(
                update={
                    "webhook_url": proxy,
                    "webhook_secret": SecretStr(SECRET_TOKEN),
                    "webhook_port": port,
                    "instance_name": f"node-{n}",
                }
            )
            await stack.enter_async_context(running_bot(world, settings=settings))
        yield sent


def cards_to(world: World, user: Any) -> list[str]:
    return [text_of(m) for m in world.api.messages_to(user) if "Ticket " in text_of(m)]


async def test_an_album_split_between_instances_is_one_ticket(world: World) -> None:
    async with two_instances(world) as sent:
        world.tipster.send_album([picture(80), picture(81), picture(82)])
        ack = await world.api.wait_for_message(world.tipster, "Received", timeout=15)
        ticket = TICKET.search(text_of(ack))
        assert ticket
        card = await world.api.wait_for_message(
            world.tipster, lambda m: "Picture 3 of 3" in text_of(m), timeout=15
        )
        await world.api.wait_for_message(world.mods, lambda m: "reply_markup" in m, timeout=15)
    assert sorted(sent.values()) == [1, 2]  # the parts went to both instances
    assert ticket.group(0) in text_of(card)
    assert [m for m in world.api.messages_to(world.tipster) if "Received" in text_of(m)] == [ack]
    assert all(ticket.group(0) in text for text in cards_to(world, world.tipster))


async def test_photos_from_two_sources_each_get_one_card(world: World) -> None:
    async with two_instances(world):
        for n in range(3):
            world.tipster.send_photo(picture(90 + n))
            world.other_tipster.send_photo(picture(95 + n))
        for user in (world.tipster, world.other_tipster):
            await world.api.wait_until(
                lambda u=user: len(cards_to(world, u)) >= 3, timeout=20, what="three cards"
            )
    for user in (world.tipster, world.other_tipster):
        cards = cards_to(world, user)
        tickets = {TICKET.search(text).group(0) for text in cards}  # type: ignore[union-attr]
        assert len(cards) == 3 and len(tickets) == 3
