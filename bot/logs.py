"""Logging for a tip line: ticket codes and events, never identities, tokens or file contents."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

#: httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
_QUIET = ("httpx", "httpcore", "telegram.ext.Updater", "telegram._bot", "apscheduler")


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
