"""The bot's half of the storage interface: tips (submissions), reviews, roles, audit, stats.

Everything here is keyed by pseudonyms (see :mod:`storage.identities`), never by a Telegram
user id. A tip is written before it is analysed, and every step after that is a small update,
so whatever state a crash leaves, :meth:`TipStorage.unfinished_submissions` finds the work.

Conventions every backend keeps: timestamps are timezone-aware UTC; JSON fields round-trip
dicts (values JSON cannot hold, a NaN or a NUL character, are stored as null or dropped);
a method that changes a submission, item or review that does not exist raises
:class:`checks.errors.NotFound`, while a method that reads one returns None.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict

__all__ = [
    "AuditEntry",
    "ItemOrigin",
    "ItemSource",
    "ItemStatus",
    "Moderator",
    "PurgeResult",
    "RecordedTip",
    "Review",
    "ReviewDraft",
    "Role",
    "Stats",
    "Submission",
    "SubmissionDraft",
    "SubmissionItem",
    "TipStorage",
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


@dataclass(frozen=True, slots=True)
class RecordedTip:
    """What recording an update did: a new submission, an item added to an album, or nothing
    (the same update delivered twice)."""

    submission: Submission
    created: bool
    added_items: int


@dataclass(frozen=True, slots=True)
class ReviewDraft:
    verdict: Verdict
    moderator: str
    note: str = ""
    fact_check_url: str | None = None


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

    #: Submissions waiting for a verdict: what :meth:`TipStorage.review_queue` lists, unlimited.
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


class TipStorage(ABC):
    """Submissions, reviews, moderators and the audit log."""

    @abstractmethod
    async def record_tip(self, draft: SubmissionDraft) -> RecordedTip:
        """Create the submission, or add items to the album it belongs to; a repeated
        ``update_id`` changes nothing. One transaction.

        A new submission is ``received`` with its items ``pending`` at positions 1..n; an
        album's later parts continue the positions. Two calls for one album at the same time
        still make one submission. A ticket already taken raises
        :class:`checks.errors.Conflict` (make a new one and try again).
        """

    @abstractmethod
    async def serve_bot(self, bot_id: int) -> int:
        """From now on list, find, resume and count only the tips that came to this bot, and
        give, read and list the roles of this bot's moderators only.

        Newsrooms sharing one database share their known items, not their tips: one bot must
        not resume another's tip (it cannot fetch the file or reach the tipster) nor show it to
        its moderators. Tips and roles recorded before bots were told apart become this bot's;
        returns how many tips. Without this call (the CLI, tests) every bot's tips are visible
        and roles are those of bot 0.
        """

    @abstractmethod
    async def get_submission(self, submission_id: int) -> Submission | None: ...

    @abstractmethod
    async def get_submission_by_ticket(self, ticket: str) -> Submission | None:
        """Ticket codes are matched case-insensitively, with or without the dash; text that
        cannot be a ticket code finds nothing."""

    @abstractmethod
    async def submissions_of(self, tipster: str, limit: int = 10) -> list[Submission]:
        """A tipster's submissions, newest first."""

    @abstractmethod
    async def unfinished_submissions(self) -> list[Submission]:
        """Submissions with work left, oldest first: the tipster has had no verdict card yet
        (whatever their items' state: all analysed but the card never sent is unfinished too),
        or a tip waiting for review has not reached the moderators' chat."""

    @abstractmethod
    async def save_item_result(
        self,
        item_id: int,
        *,
        status: ItemStatus,
        fingerprint: Fingerprint | None = None,
        media_path: str | None = None,
        report: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        """Store what analysing one picture gave (hashes are validated and lower-cased)."""

    @abstractmethod
    async def set_status(self, submission_id: int, status: SubmissionStatus) -> None: ...

    @abstractmethod
    async def take_lease(self, submission_id: int, worker: str, seconds: float) -> bool:
        """Reserve a submission's processing for ``worker`` (an instance name) for ``seconds``;
        False while another worker's lease runs. A worker may renew its own lease at once,
        so an instance restarted under the same name resumes its tips without waiting."""

    @abstractmethod
    async def release_lease(self, submission_id: int, worker: str) -> None: ...

    @abstractmethod
    async def mark_replied(self, submission_id: int) -> bool:
        """Record the first verdict card; False if one was already recorded."""

    @abstractmethod
    async def mark_review_posted(self, submission_id: int) -> bool:
        """Record that the review card reached the moderators; False if already recorded."""

    @abstractmethod
    async def claim(self, submission_id: int, moderator: str) -> str | None:
        """Claim if unclaimed; returns whoever holds the claim afterwards. Atomic: of two
        moderators claiming at once, both are told the same holder."""

    @abstractmethod
    async def set_note(self, submission_id: int, note: str) -> None: ...

    @abstractmethod
    async def review_queue(self, limit: int = 20) -> list[Submission]:
        """Submissions waiting for a verdict (new or in review, no verdict in force), oldest
        first."""

    @abstractmethod
    async def record_review(self, submission_id: int, draft: ReviewDraft) -> Review:
        """In one transaction: the review, a known item per analysed picture (created or
        updated with the verdict), and the submission marked reviewed.

        A verdict already in force raises :class:`checks.errors.Conflict` (two moderators
        racing: the first wins). Each picture's known item is keyed as any known item is
        (SHA-256 first); a new one is titled after the ticket, while an existing one keeps its
        title, original date, place and source and takes the verdict, note and fact-check URL.
        This storage's index knows the items at once; other instances after a refresh.
        """

    @abstractmethod
    async def reviews_of(self, submission_id: int) -> list[Review]:
        """A submission's reviews, newest first (undone ones included)."""

    @abstractmethod
    async def undo_last_review(self, submission_id: int) -> Review | None:
        """Revert the latest review in force: known items go back to what they were before it
        (items it created are retired), the submission returns to review. Returns the review
        as reverted, or None if no verdict was in force. One transaction.

        A known item that a later review (still in force, of another tip of the same picture)
        has changed since keeps that later verdict; undoing the later one then goes back to
        what was there before both. A known item that an import or an edit changed since is
        newer knowledge: it is left as it is, and listed in the result's ``kept_item_ids``.
        """

    @abstractmethod
    async def forget_tipster(self, tipster: str) -> int:
        """Cut every link between a pseudonym and its submissions (the pseudonym and the sealed
        chat id both go); returns how many."""

    @abstractmethod
    async def drop_sealed_chat(self, submission_id: int) -> None: ...

    @abstractmethod
    async def set_role(self, pseudonym: str, role: Role, added_by: str | None) -> None:
        """Give a role, or change it (``added_at`` stays when they were first added)."""

    @abstractmethod
    async def remove_role(self, pseudonym: str) -> bool:
        """False if they had no role."""

    @abstractmethod
    async def role_of(self, pseudonym: str) -> Role | None: ...

    @abstractmethod
    async def list_roles(self) -> list[Moderator]:
        """Everyone with a role, in the order they were added."""

    @abstractmethod
    async def audit(
        self,
        actor: str | None,
        action: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None: ...

    @abstractmethod
    async def audit_log(self, limit: int = 50) -> list[AuditEntry]:
        """Newest first."""

    @abstractmethod
    async def stats(self, since: datetime) -> Stats: ...

    @abstractmethod
    async def media_of_known_item(self, item_id: int) -> str | None:
        """A stored picture of a known item (from the submission it was reviewed in), for the
        side-by-side comparison moderators see; None for items imported by hash."""

    @abstractmethod
    async def media_in_use(self, paths: Sequence[str]) -> set[str]:
        """Which of these media paths a submission still refers to."""

    @abstractmethod
    async def purge_expired(self, before: datetime) -> PurgeResult:
        """Drop sealed chat ids and media references of submissions created before ``before``;
        returns the media paths so the caller can delete the files."""
