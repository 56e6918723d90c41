"""A fake Telegram Bot API for end-to-end tests: real HTTP on 127.0.0.1, PTB pointed at it.

It serves only what Tipline and PTB call (see :mod:`.methods`), the way Telegram answers it.

Example::

    async def test_tip(fake_bot_api: FakeBotAPI) -> None:
        api = fake_bot_api
        alice = api.add_user("Alice", username="alice_tips")
        mina = api.add_user("Mina", username="mina_mod")
        mods = api.add_group("Moderators", admins=[mina])
        channel = api.add_channel("Pyongyang Times", username="pyongyang_times")
        app = build_application(api.application_builder())  # token and URLs already set
        async with api.running(app):  # initialize, start, long polling; stopped after
            alice.send_photo(jpeg_bytes, forward_from=channel, caption="seen today")
            card = await api.wait_for_message(alice, "Ticket")
            review = await api.wait_for_message(mods, lambda m: "reply_markup" in m)
            press = mina.press(review, "Authentic")
            await api.wait_for_callback_answer(press)
            api.fail_next("sendMessage", status=429, retry_after=1)  # flood control

The pieces: :mod:`.driver` (``FakeBotAPI``: setup, faults, waiting), :mod:`.actors` (users
and chats), :mod:`.faults`, :mod:`.methods` (the Bot API methods), :mod:`.server` (HTTP),
:mod:`.state` (what the fake Telegram remembers), :mod:`.markup` (Telegram HTML). The
``fake_bot_api`` fixture lives in :mod:`.pytest_plugin`.
"""

from __future__ import annotations

from tests.fakebotapi.actors import FakeChat, FakeUser, Sent
from tests.fakebotapi.driver import DEFAULT_TOKEN, FakeBotAPI, WaitTimeout
from tests.fakebotapi.markup import HtmlError, parse_html
from tests.fakebotapi.state import Call

__all__ = [
    "DEFAULT_TOKEN",
    "Call",
    "FakeBotAPI",
    "FakeChat",
    "FakeUser",
    "HtmlError",
    "Sent",
    "WaitTimeout",
    "parse_html",
]
