"""Webhook mode: updates arrive by POST with Telegram's secret token; anything else is refused."""

from __future__ import annotations

import httpx

from tests.e2e.harness import World, free_port, picture, running_bot, text_of


async def test_webhook_with_secret_token(world: World) -> None:
    port = free_port()
    settings = world.settings.model_copy(
        update={
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_secret": world.settings.secret_key.__class__("hook-secret-123"),
            "webhook_port": port,
        }
    )
    async with running_bot(world, settings=settings):
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
