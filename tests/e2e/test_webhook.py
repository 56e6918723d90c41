"""Webhook mode: updates arrive by POST with Telegram's secret token; anything else is refused."""

from __future__ import annotations

import socket

import httpx

from bot.app import build_application, webhook_options
from bot.workers import thread_analyser
from tests.e2e.harness import World, picture, text_of


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_with_secret_token(world: World) -> None:
    port = free_port()
    settings = world.settings.model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_secret": world.settings.secret_key.__class__("hook-secret-123"),
            "webhook_port": port,
        }
    )
    app = build_application(settings, analyser=thread_analyser())
    async with app:
        assert app.post_init is not None and app.post_shutdown is not None
        await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_webhook(**webhook_options(settings))
        await app.start()
        try:
            assert world.api.webhook and world.api.webhook["url"].endswith("/telegram")
            world.tipster.send_photo(picture(60))
            card = await world.api.wait_for_message(world.tipster, "Ticket", timeout=15)
            assert "New" in text_of(card)
            async with httpx.AsyncClient() as client:
                forged = await client.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json={"update_id": 999, "message": {"message_id": 1}},
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                )
            assert forged.status_code == 403
        finally:
            await app.updater.stop()
            await app.stop()
    await app.post_shutdown(app)
