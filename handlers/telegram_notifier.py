"""The tip flow's messenger on Telegram: downloads files, sends cards, posts reviews."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from checks.errors import FileTooLarge, InvalidInput
from checks.verdicts import Verdict
from handlers.callbacks import claim_data, verdict_data
from handlers.corrections import Corrector
from handlers.i18n import N_, Texts
from handlers.services import Services
from handlers.tipflow import TipFlow
from storage.tips import ItemOrigin, ItemSource

__all__ = [
    "TELEGRAM_DOWNLOAD_LIMIT",
    "TelegramNotifier",
    "corrector",
    "review_keyboard",
    "tip_flow",
]

log = logging.getLogger(__name__)

#: The Bot API refuses getFile above 20 MB.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

_REVIEW_BUTTONS = (
    (Verdict.AUTHENTIC, "✅", N_("Authentic")),
    (Verdict.MISATTRIBUTED, "📍", N_("Misattributed")),
    (Verdict.EDITED, "✂️", N_("Edited")),
    (Verdict.SYNTHETIC, "🤖", N_("Synthetic")),
    (Verdict.INCONCLUSIVE, "❔", N_("Inconclusive")),
)
_CLAIM = N_("Claim")


def review_keyboard(submission_id: int, t: Texts) -> InlineKeyboardMarkup:
    """A review card's buttons, labelled in the newsroom's language."""
    plain = t.plain
    buttons = [
        InlineKeyboardButton(
            f"{mark} {plain._(label)}",
            callback_data=verdict_data(submission_id, verdict),
        )
        for verdict, mark, label in _REVIEW_BUTTONS
    ]
    buttons.append(
        InlineKeyboardButton(f"🙋 {plain._(_CLAIM)}", callback_data=claim_data(submission_id))
    )
    return InlineKeyboardMarkup([buttons[:3], buttons[3:]])


class TelegramNotifier:
    """:class:`handlers.tipflow.Notifier` over a PTB ``Bot``."""

    def __init__(self, bot: Bot, services: Services) -> None:
        self._bot = bot
        self._services = services

    async def download(self, source: ItemSource) -> bytes:
        if source.origin is ItemOrigin.LINK:
            return (await self._services.fetch(source.ref)).data
        try:
            file = await self._bot.get_file(source.ref)
        except BadRequest as exc:  # e.g. "file is too big": permanent, unlike a network error
            refusal = FileTooLarge if "too big" in exc.message.lower() else InvalidInput
            raise refusal(f"Telegram would not hand the file over ({exc.message})") from exc
        return bytes(await file.download_as_bytearray())

    async def tell_tipster(self, chat_id: int, card: str) -> None:
        try:
            await self._bot.send_message(chat_id, card, disable_web_page_preview=True)
        except Forbidden:
            log.info("a tipster has blocked the bot; their card is not delivered")

    async def post_picture(self, picture: bytes, caption: str) -> None:
        await self._bot.send_photo(self._services.moderator_chat_id, picture, caption=caption)

    async def post_review_card(self, submission_id: int, card: str) -> None:
        try:
            await self._bot.send_message(
                self._services.moderator_chat_id,
                card,
                reply_markup=review_keyboard(submission_id, self._services.newsroom_texts),
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            log.error("submission %d: review card refused by Telegram: %s", submission_id, exc)
            raise

    async def post_notice(self, text: str) -> None:
        await self._bot.send_message(
            self._services.moderator_chat_id, text, disable_web_page_preview=True
        )


def tip_flow(bot: Bot, services: Services) -> TipFlow:
    """The tip flow of this bot, talking to Telegram."""
    return TipFlow(
        storage=services.storage,
        media=services.media,
        analyser=services.analyser,
        notifier=TelegramNotifier(bot, services),
        identities=services.identities,
        instance=services.instance,
        lease_seconds=services.lease_seconds,
        language=services.language,
        pacer=services.review_pacer,
    )


def corrector(bot: Bot, services: Services) -> Corrector:
    """Corrections to this bot's tipsters, sent through Telegram."""
    return Corrector(
        storage=services.storage,
        identities=services.identities,
        messenger=TelegramNotifier(bot, services),
        language=services.language,
    )
