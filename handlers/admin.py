"""Admins manage who may review: /mod add USER_ID, /mod remove USER_ID, /mods.

Moderators are stored by pseudonym, like everyone else: the database never holds their Telegram
ids either. Admins themselves come from configuration (TIPLINE_ADMIN_IDS). Replies are in the
newsroom's language.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from handlers.context import TiplineContext
from handlers.wording import ROLE_WORDS, moderator_label
from storage.tips import Role

__all__ = ["HANDLERS"]


async def on_mod(update: Update, context: TiplineContext) -> None:
    """/mod add|remove USER_ID"""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services = context.services
    t = services.newsroom_texts
    args = context.args or []
    if len(args) != 2 or args[0] not in ("add", "remove") or not args[1].lstrip("-").isdigit():
        await message.reply_text(
            t._("Usage: /mod add USER_ID or /mod remove USER_ID (the numeric Telegram user id).")
        )
        return
    me = services.identities.pseudonym(user.id)
    target = services.identities.pseudonym(int(args[1]))
    label = moderator_label(target)
    if args[0] == "add":
        await services.storage.set_role(target, Role.MODERATOR, me)
        await services.storage.audit(me, "role.add", label)
        await message.reply_text(t._("{moderator} is now a moderator.", moderator=t.ltr(label)))
        return
    removed = await services.storage.remove_role(target)
    await services.storage.audit(me, "role.remove", label, {"was": removed})
    await message.reply_text(
        t._("{moderator} is no longer a moderator.", moderator=t.ltr(label))
        if removed
        else t._("{moderator} was not a moderator.", moderator=t.ltr(label))
    )


async def on_mods(update: Update, context: TiplineContext) -> None:
    """List moderators (admins come from configuration and are counted)."""
    message = update.effective_message
    assert message is not None
    services = context.services
    t = services.newsroom_texts
    roles = await services.storage.list_roles()
    lines = [
        t._("<b>Admins</b>: {count} (from configuration)", count=len(services.admin_pseudonyms)),
        t._("<b>Moderators</b>: {count}", count=len(roles)),
    ]
    lines += [
        t._(
            "{moderator} · {role} · since {date}",
            moderator=t.ltr(moderator_label(r.pseudonym)),
            role=t._(ROLE_WORDS[r.role]),
            date=t.ltr(f"{r.added_at:%Y-%m-%d}"),
        )
        for r in roles
    ]
    await message.reply_text("\n".join(lines))


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler("mod", on_mod),
    CommandHandler("mods", on_mods),
]
