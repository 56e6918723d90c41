"""Admins manage who may review: /mod add USER_ID, /mod remove USER_ID, /mods.

Moderators are stored by pseudonym, like everyone else: the database never holds their Telegram
ids either. Admins themselves come from configuration (TIPLINE_ADMIN_IDS).
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from handlers.context import TiplineContext
from handlers.wording import moderator_label
from storage.tips import Role

__all__ = ["HANDLERS"]

_USAGE = "Usage: /mod add USER_ID or /mod remove USER_ID (the numeric Telegram user id)."


async def on_mod(update: Update, context: TiplineContext) -> None:
    """/mod add|remove USER_ID"""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = context.args or []
    if len(args) != 2 or args[0] not in ("add", "remove") or not args[1].lstrip("-").isdigit():
        await message.reply_text(_USAGE)
        return
    services = context.services
    me = services.identities.pseudonym(user.id)
    target = services.identities.pseudonym(int(args[1]))
    if args[0] == "add":
        await services.storage.set_role(target, Role.MODERATOR, me)
        await services.storage.audit(me, "role.add", moderator_label(target))
        await message.reply_text(f"{moderator_label(target)} is now a moderator.")
        return
    removed = await services.storage.remove_role(target)
    await services.storage.audit(me, "role.remove", moderator_label(target), {"was": removed})
    await message.reply_text(
        f"{moderator_label(target)} is no longer a moderator."
        if removed
        else f"{moderator_label(target)} was not a moderator."
    )


async def on_mods(update: Update, context: TiplineContext) -> None:
    """List moderators (admins come from configuration and are counted)."""
    message = update.effective_message
    assert message is not None
    services = context.services
    roles = await services.storage.list_roles()
    lines = [f"<b>Admins</b>: {len(services.admin_pseudonyms)} (from configuration)"]
    lines.append(f"<b>Moderators</b>: {len(roles)}")
    lines += [
        f"{moderator_label(r.pseudonym)} · {r.role.value} · since {r.added_at:%Y-%m-%d}"
        for r in roles
    ]
    await message.reply_text("\n".join(lines))


HANDLERS: list[BaseHandler[Update, TiplineContext, Any]] = [
    CommandHandler("mod", on_mod),
    CommandHandler("mods", on_mods),
]
