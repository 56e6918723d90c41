"""Publishing to partner newsrooms is a moderator's decision, end to end: a verdict alone
puts nothing in the feed; /publish does, audited; /unpublish sends a tombstone."""

from __future__ import annotations

import asyncio
import socket

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.signals import Fingerprint
from checks.verdicts import Verdict
from handlers.exchange import FeedPublisher, FeedServer
from storage import KnownItemDraft, SqliteStorage
from storage.exchange.signing import public_key_text
from storage.exchange_base import PartnerDraft, Trust
from tests.e2e.harness import World, picture, running_bot, text_of
from tests.e2e.test_moderation import new_tip


async def test_a_tip_is_in_no_feed_until_a_moderator_publishes_it(world: World) -> None:
    async with running_bot(world) as app:
        storage = world.services(app).storage
        ticket, _ = await new_tip(world, picture(30))
        mods, mina = world.mods, world.moderator

        mina.send_command("publish", ticket, chat=mods)
        await world.api.wait_for_message(mods, "no verdict in force")

        mina.send_command("verdict", ticket, "misattributed", chat=mods)
        await world.api.wait_for_message(mods, "known item")
        assert await storage.publish_imported() == 0
        assert await storage.feed_page(0, 100) == []  # a verdict is not a publication

        world.outsider.send_command("publish", ticket, chat=mods)
        mina.send_command("publish", ticket, chat=mods)
        published = text_of(await world.api.wait_for_message(mods, "feed for partner"))
        assert ticket in published and "1 known item" in published
        [entry] = await storage.feed_page(0, 100)
        assert entry.live and entry.verdict.value == "misattributed"

        mina.send_command("unpublish", ticket, chat=mods)
        await world.api.wait_for_message(mods, "taken out of the newsroom's feed")
        [tombstone] = await storage.feed_page(entry.sequence, 100)
        assert not tombstone.live and tombstone.key == entry.key

        log = await storage.audit_log()
    actions = [(e.action, e.subject) for e in log]
    assert ("exchange.publish", ticket) in actions and ("exchange.unpublish", ticket) in actions
    assert sum(1 for e in log if e.action == "exchange.publish") == 1  # the outsider's was refused


async def test_privacy_says_what_is_shared(world: World) -> None:
    async with running_bot(world):
        world.tipster.send_command("privacy")
        text = text_of(await world.api.wait_for_message(world.tipster, "What Tipline keeps"))
    assert "partner newsrooms" in text and "never shared" in text


async def test_run_serves_the_feed_and_pulls_partners_on_its_schedule(world: World) -> None:
    """With TIPLINE_FEED_LISTEN, the bot serves what its moderators publish; on its maintenance
    passes it pulls its partners' feeds in the background."""
    partner_db = await SqliteStorage.open(world.tmp / "partner.db")
    partner_key = Ed25519PrivateKey.generate()
    partner_server = FeedServer(FeedPublisher(partner_db, partner_key, "Zeta News"))
    theirs = Fingerprint(sha256="ab" * 32, pdq="cd" * 32, pdq_quality=90, phash="ef" * 8)
    draft = KnownItemDraft(theirs, Verdict.STAGED, "Staged rescue", recorded_by="m")
    await partner_db.publish((await partner_db.upsert_known_item(draft)).item.id, "m")
    host, port = await partner_server.start("127.0.0.1", 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen = f"127.0.0.1:{probe.getsockname()[1]}"
    settings = world.settings.model_copy(
        update={
            "feed_listen": listen,
            "newsroom_name": "Alpha News",
            "feed_key_file": world.tmp / "feed.key",
            "maintenance_seconds": 0.3,
        }
    )
    try:
        async with running_bot(world, settings=settings) as app:
            storage = world.services(app).storage
            await storage.add_partner(
                PartnerDraft(
                    "Zeta", f"http://{host}:{port}/feed", public_key_text(partner_key), Trust.REVIEW
                )
            )
            ticket, _ = await new_tip(world, picture(31))
            world.moderator.send_command("verdict", ticket, "edited", chat=world.mods)
            await world.api.wait_for_message(world.mods, "known item")
            world.moderator.send_command("publish", ticket, chat=world.mods)
            await world.api.wait_for_message(world.mods, "feed for partner")
            async with httpx.AsyncClient() as http:
                page = (await http.get(f"http://{listen}/feed")).json()
            assert page["newsroom"] == "Alpha News"
            assert [e["verdict"] for e in page["entries"]] == ["edited"]
            for _ in range(100):  # the next maintenance passes pull Zeta
                if await storage.lookup(theirs):
                    break
                await asyncio.sleep(0.1)
            [match] = await storage.lookup(theirs)
            [opinion] = await storage.opinions_on([match.item_id])
            assert (opinion.newsroom, opinion.verdict) == ("Zeta", Verdict.STAGED)
    finally:
        await partner_server.close()
        await partner_db.close()
