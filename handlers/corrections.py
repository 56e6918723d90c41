"""Corrections to tipsters: when what a tipster was told stops holding, one short message.

A verdict undone or changed here, a partner's retraction, newsrooms coming to disagree: each
changes what the known items behind an answer say. :class:`Corrector` compares, for every tip
that can still be reached (this bot's, chat link kept, not /forget-ten), what its tipster was
told with where things stand now (:func:`checks.corrections.correction` decides), sends the
correction in the tipster's language, then records the new standing as told. It runs on every
maintenance pass and after a partner's feed is applied, so nothing depends on the moment a
change happened: a bot that was down catches up. A crash between sending and recording sends
the correction once more on the next pass (the tipster may read it twice; none is lost).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from checks.corrections import Change, Standing, correction
from checks.matching import Confidence, same_picture
from handlers.cards import PictureView
from handlers.i18n import Texts, supported_language, texts_for
from handlers.wording import VERDICT_WORDS
from storage.exchange_base import Exchange, Opinion, disputed_for_tipsters
from storage.identities import IdentityProtector
from storage.tips import Answers, OpenAnswer, Preferences, Told

__all__ = [
    "CorrectionStorage",
    "Corrector",
    "TipsterMessenger",
    "correction_notice",
    "opinion_targets",
    "told_of",
]

log = logging.getLogger(__name__)

#: Tips read per page.
_PAGE = 200


class CorrectionStorage(Answers, Exchange, Preferences, Protocol):
    """What corrections need of the database."""


class TipsterMessenger(Protocol):
    """Sends a tipster a message (the tip flow's notifier does)."""

    async def tell_tipster(self, chat_id: int, card: str) -> None: ...


def correction_notice(ticket: str, change: Change, now: Standing, *, t: Texts) -> str:
    """The correction a tipster reads, naming their ticket."""
    code = t.ticket(ticket)
    if change is Change.WITHDRAWN:
        return t._(
            "Correction to tip {ticket}: the answer we gave you about this picture has been "
            "withdrawn. Please treat the picture as unchecked for now.",
            ticket=code,
        )
    verdict = now.verdict
    if change is Change.DISPUTED or verdict is None:
        return t._(
            "Correction to tip {ticket}: newsrooms now disagree about this picture. Please "
            "treat our earlier answer with caution.",
            ticket=code,
        )
    return t._(
        "Correction to tip {ticket}: the verdict on this picture is now <b>{verdict}</b>.",
        ticket=code,
        verdict=t._(VERDICT_WORDS[verdict]),
    )


def told_of(views: Sequence[PictureView]) -> list[Told]:
    """What a card tells the tipster of known items: each certain match, with its verdict and
    whether newsrooms disagree about the picture (see :mod:`handlers.corrections`)."""
    told: dict[int, Told] = {}
    for view in views:
        assessment = view.assessment
        if assessment is None:
            continue
        disputed = bool(assessment.disputed)
        for match in assessment.matches:
            if match.confidence is Confidence.CERTAIN:
                told.setdefault(match.item_id, Told(match.item_id, match.verdict, disputed))
    return list(told.values())


def opinion_targets(views: Sequence[PictureView]) -> tuple[int, ...]:
    """The partners' items a verdict on these pictures also speaks about: those the pictures
    certainly are, whatever the partner's trust (see :class:`storage.tips.ReviewDraft`)."""
    return tuple(
        sorted(
            {
                match.item_id
                for view in views
                if view.assessment is not None
                for match in view.assessment.matches
                if match.newsroom is not None and same_picture(match)
            }
        )
    )


def _disputed_items(opinions: Sequence[Opinion]) -> set[int]:
    """The items whose picture newsrooms disagree about, as a tipster may be told."""
    by_key: dict[str, list[Opinion]] = defaultdict(list)
    for opinion in opinions:
        by_key[opinion.key].append(opinion)
    return {
        o.item_id
        for group in by_key.values()
        if disputed_for_tipsters(group)
        for o in group
        if o.item_id is not None
    }


@dataclass
class Corrector:
    """Tells tipsters of changes to what they were told; safe to run at any time."""

    storage: CorrectionStorage
    identities: IdentityProtector
    messenger: TipsterMessenger
    #: The newsroom's language: for a tipster whose own is unknown.
    language: str

    async def run(self) -> int:
        """One pass over every tip that can still be corrected; returns corrections sent.
        A failure to send stops the pass (what was not recorded is retried next time)."""
        sent, after = 0, 0
        while page := await self.storage.open_answers(after, _PAGE):
            after = page[-1].submission_id
            ids = sorted({item.told.item_id for answer in page for item in answer.items})
            disputed = _disputed_items(await self.storage.opinions_on(ids))
            for answer in page:
                if await self._correct(answer, disputed):
                    sent += 1
        return sent

    async def _correct(self, answer: OpenAnswer, disputed: set[int]) -> bool:
        told = Standing.of(
            (i.told.verdict for i in answer.items), any(i.told.disputed for i in answer.items)
        )
        now_items = [
            Told(i.told.item_id, i.verdict_now, i.told.item_id in disputed and bool(i.verdict_now))
            for i in answer.items
        ]
        now = Standing.of((i.verdict for i in now_items), any(i.disputed for i in now_items))
        change = correction(told, now)
        if change is None:
            if now_items != [i.told for i in answer.items]:
                await self.storage.settle_answer(answer.submission_id, now_items)
            return False
        chat_id = self.identities.open_chat_id(answer.sealed_chat)
        if chat_id is not None:
            chosen = await self.storage.language_of(answer.tipster)
            t = texts_for(supported_language(chosen or answer.language, self.language))
            await self.messenger.tell_tipster(
                chat_id, correction_notice(answer.ticket, change, now, t=t)
            )
            log.info("tip %s: tipster told of a change (%s)", answer.ticket, change.value)
        await self.storage.settle_answer(answer.submission_id, now_items)
        return chat_id is not None
