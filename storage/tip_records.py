"""What the bot's half of the storage reads and writes: tips, their pictures, reviews,
moderators, audit entries and stats, as frozen dataclasses, and the ticket code's one form.

Everything here is keyed by pseudonyms (see :mod:`storage.identities`), never by a Telegram
user id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict

__all__ = [
    "AnsweredItem",
    "AuditEntry",
    "ItemOrigin",
    "ItemSource",
    "ItemStatus",
    "Moderator",
    "OpenAnswer",
    "PurgeResult",
    "RecordedTip",
    "Review",
    "ReviewDraft",
    "Role",
    "SourceActivity",
    "Stats",
    "Submission",
    "SubmissionDraft",
    "SubmissionItem",
    "Told",
    "normalise_ticket",
]

_TICKET_CHARS = re.compile(r"[A-Z0-9]{8}")
_TICKET_NOISE = re.compile(r"[\s\-‐‑–—]")


def normalise_ticket(text: str) -> str | None:
    """A ticket code as stored (``K7QM-2XTD``), from however a person typed it: any case, with
    or without the dash or spaces. None if it cannot be a ticket code.

    Tickets are eight letters or digits shown as two groups of four; keeping one canonical
    form means a lookup is one probe of the unique index, not a scan.
    """
    code = _TICKET_NOISE.sub("", text or "").upper()
    if not _TICKET_CHARS.fullmatch(code):
        return None
    return f"{code[:4]}-{code[4:]}"


class ItemOrigin(StrEnum):
    PHOTO = "photo"  # Telegram-compressed: metadata stripped by Telegram
    DOCUMENT = "document"  # original bytes as sent
    LINK = "link"  # fetched from a URL


class ItemStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Role(StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ItemSource:
    """Where to get one picture of a tip again (after a restart, too).

    ``ref`` is the Telegram file_id or the URL. File names are not kept: they can name people.
    """

    origin: ItemOrigin
    ref: str
    file_size: int | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class SubmissionDraft:
    """A tip as it arrives. ``update_id`` makes recording idempotent; ``media_group`` joins
    the several updates of one album (from the same tipster) into one submission.

    ``ticket`` is stored in the form :func:`normalise_ticket` gives; one that cannot be a
    ticket code is refused with :class:`checks.errors.InvalidInput`.
    """

    ticket: str
    update_id: int | None
    tipster: str | None
    sealed_chat: bytes | None
    items: tuple[ItemSource, ...]
    provenance: dict[str, Any] | None = None
    media_group: str | None = None
    notify: bool = True
    #: The bot the update came to: update ids are numbered per bot, and bots (newsrooms) may
    #: share one database.
    bot_id: int | None = None
    #: The language the tipster reads (a code such as ``ko``): their cards are written in it,
    #: and moderators see it to answer in it.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SubmissionItem:
    """One picture of a tip. ``position`` counts from 1 in arrival order ("Picture 1 of 3").

    ``update_id`` is the update that brought the picture; when one update brings several
    (a message with two links), the first of them carries it (the column is unique).
    """

    id: int
    submission_id: int
    position: int
    source: ItemSource
    update_id: int | None
    status: ItemStatus
    fingerprint: Fingerprint | None = None
    media_path: str | None = None
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """A tip with its pictures (by position). ``updated_at`` moves when its status, claim,
    note or links to the tipster change; ``replied_at`` and ``review_posted_at`` record when
    each card went out."""

    id: int
    ticket: str
    status: SubmissionStatus
    tipster: str | None
    sealed_chat: bytes | None
    notify: bool
    provenance: dict[str, Any] | None
    media_group: str | None
    claimed_by: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    replied_at: datetime | None
    review_posted_at: datetime | None
    items: tuple[SubmissionItem, ...]
    #: The verdict in force (latest review not undone), if any.
    verdict: Verdict | None = None
    #: The language the tipster read when they sent it (see :class:`SubmissionDraft`).
    language: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedTip:
    """What recording an update did: a new submission, an item added to an album, or nothing
    (the same update delivered twice)."""

    submission: Submission
    created: bool
    added_items: int


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """How much one tipster has sent lately, for the fair-use limits: enough to refuse the
    excess and say when to try again, without keeping anything beyond the tips themselves."""

    #: Pictures and links in the tipster's submissions created in the window.
    pictures: int
    #: Their submissions still waiting (received, new, in review), not counting ``album``'s.
    pending: int
    #: When the oldest submission in the window was created (None: nothing in it); the window
    #: frees up from then on.
    oldest: datetime | None
    #: The storage's clock when it counted.
    as_of: datetime


@dataclass(frozen=True, slots=True)
class ReviewDraft:
    verdict: Verdict
    moderator: str
    note: str = ""
    fact_check_url: str | None = None
    #: Partners' known items the tip's pictures certainly are: the verdict is this
    #: newsroom's opinion of them too, recorded as an item of ours with their hashes (so
    #: ``/publish`` tells the partner, and undoing the verdict takes the opinion back).
    about: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    submission_id: int
    verdict: Verdict
    moderator: str
    note: str
    fact_check_url: str | None
    created_at: datetime
    reverted_at: datetime | None
    #: Known items this review created or changed.
    known_item_ids: tuple[int, ...]
    #: Of those, the items an undo left as they were, because an import or an edit changed
    #: them after this review (filled in by ``undo_last_review`` only).
    kept_item_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Moderator:
    pseudonym: str
    role: Role
    added_by: str | None
    added_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str | None
    action: str
    subject: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts for ``/stats``; "today" means created at or after the ``since`` asked for."""

    #: Submissions waiting for a verdict: what
    #: :meth:`storage.tips.Submissions.review_queue` lists, unlimited.
    queue: int
    #: Known items in force (retired ones are not counted).
    known_items: int
    submissions_today: int
    #: Today's submissions whose status is ``matched``: every picture that could be analysed
    #: was recognised exactly, so the tipster had a known verdict at once and nothing queued.
    matches_today: int
    #: Median seconds from a tip's arrival to its first verdict card, over today's tips that
    #: have had one; None if none has.
    median_seconds_to_card: float | None


@dataclass(frozen=True, slots=True)
class PurgeResult:
    #: Submissions whose sealed chat id was dropped by this purge.
    chats_dropped: int
    #: Media paths no item refers to any more (sorted): the caller deletes these files. A
    #: path still used by a newer item (the same picture sent again) is kept.
    media_paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Told:
    """What a tipster was told of one known item: its verdict (None: that it was withdrawn),
    and whether newsrooms disagreed about it."""

    item_id: int
    verdict: Verdict | None
    disputed: bool = False


@dataclass(frozen=True, slots=True)
class AnsweredItem:
    """One known item behind an answer: what was told of it, and its verdict now (None once
    it is retired: undone here, or retracted by its partner)."""

    told: Told
    verdict_now: Verdict | None


@dataclass(frozen=True, slots=True)
class OpenAnswer:
    """A tip whose tipster can still be told of a change, with the items behind its answer."""

    submission_id: int
    ticket: str
    tipster: str
    sealed_chat: bytes
    language: str | None
    items: tuple[AnsweredItem, ...]
