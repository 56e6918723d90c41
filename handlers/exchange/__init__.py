"""The newsroom exchange's network side: serving this newsroom's feed, pulling partners'."""

from handlers.exchange.feed_server import (
    DEFAULT_LISTEN,
    DEFAULT_PAGE,
    FeedPublisher,
    FeedServer,
    parse_listen,
)
from handlers.exchange.sync import (
    SyncLimits,
    SyncReport,
    backoff,
    sync_due,
    sync_partner,
    sync_partners,
)

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_PAGE",
    "FeedPublisher",
    "FeedServer",
    "SyncLimits",
    "SyncReport",
    "backoff",
    "parse_listen",
    "sync_due",
    "sync_partner",
    "sync_partners",
]
