"""The bot's half of the storage interface, as small protocols a handler can ask for by
what it uses: :class:`Submissions`, :class:`Reviews`, :class:`Moderation`, :class:`Retention`,
:class:`Preferences`; :class:`TipStorage` is all five. The records they take and give are in
:mod:`storage.tip_records` (and importable from here too).

A tip is written before it is analysed, and every step after that is a small update, so
whatever state a crash leaves, :meth:`Submissions.unfinished_submissions` finds the work.

Conventions every backend keeps: timestamps are timezone-aware UTC; JSON fields round-trip
dicts (values JSON cannot hold, a NaN or a NUL character, are stored as null or dropped);
a method that changes a submission, item or review that does not exist raises
:class:`storage.errors.NotFound`, while a method that reads one returns None.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus
from storage.tip_records import (
    AnsweredItem,
    AuditEntry,
    ItemOrigin,
    ItemSource,
    ItemStatus,
    Moderator,
    OpenAnswer,
    PurgeResult,
    RecordedTip,
    Review,
    ReviewDraft,
    Role,
    SourceActivity,
    Stats,
    Submission,
    SubmissionDraft,
    SubmissionItem,
    Told,
    normalise_ticket,
)

__all__ = [
    "AnsweredItem",
    "Answers",
    "AuditEntry",
    "ItemOrigin",
    "ItemSource",
    "ItemStatus",
    "Moderation",
    "Moderator",
    "OpenAnswer",
    "Preferences",
    "PurgeResult",
    "RecordedTip",
    "Retention",
    "Review",
    "ReviewDraft",
    "Reviews",
    "Role",
    "SourceActivity",
    "Stats",
    "Submission",
    "SubmissionDraft",
    "SubmissionItem",
    "Submissions",
    "TipStorage",
    "Told",
    "normalise_ticket",
]


class Submissions(Protocol):
    """Tips as they arrive and are worked on: recording, finding, leasing, marking, claiming."""

    @abstractmethod
    async def record_tip(self, draft: SubmissionDraft) -> RecordedTip:
        """Create the submission, or add items to the album it belongs to; a repeated
        ``update_id`` changes nothing. One transaction.

        A new submission is ``received`` with its items ``pending`` at positions 1..n; an
        album's later parts continue the positions. Two calls for one album at the same time
        still make one submission. A ticket already taken raises
        :class:`storage.errors.Conflict` (make a new one and try again).
        """

    @abstractmethod
    async def activity_of(
        self, tipster: str, window: timedelta, album: str | None = None
    ) -> SourceActivity:
        """What a tipster (a pseudonym) sent to this bot in the last ``window`` by the
        storage's clock, and how many of their tips wait; the intake checks its fair-use limits
        on it before recording anything. ``album``: a media group being received, whose own
        submission is not counted as pending (its later parts add pictures, not a tip)."""

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
    async def forget_tipster(self, tipster: str) -> int:
        """Cut every link between a pseudonym and its submissions (the pseudonym and the sealed
        chat id both go) and forget its language; returns how many submissions. One
        transaction."""

    @abstractmethod
    async def drop_sealed_chat(self, submission_id: int) -> None: ...


class Reviews(Protocol):
    """Verdicts on tips, which teach the known items, and undoing them."""

    @abstractmethod
    async def record_review(self, submission_id: int, draft: ReviewDraft) -> Review:
        """In one transaction: the review, a known item per analysed picture (created or
        updated with the verdict), and the submission marked reviewed.

        A verdict already in force raises :class:`storage.errors.Conflict` (two moderators
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


class Moderation(Protocol):
    """Who may moderate, what they did, and the counts they see."""

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


class Retention(Protocol):
    """What the media sweep and the retention period need: which files are still used."""

    @abstractmethod
    async def media_of_known_item(self, item_id: int) -> str | None:
        """A stored picture of a known item (from the submission it was reviewed in), for the
        side-by-side comparison moderators see; None for items imported by hash."""

    @abstractmethod
    async def media_in_use(self, paths: Sequence[str]) -> set[str]:
        """Which of these media paths a submission still refers to."""

    @abstractmethod
    async def media_needed(self, paths: Sequence[str], since: datetime) -> set[str]:
        """Which of these media paths a tip still waiting for its answer or a verdict, and
        created since ``since``, refers to: the pictures a full folder must not give up."""

    @abstractmethod
    async def purge_expired(self, before: datetime) -> PurgeResult:
        """Drop sealed chat ids and media references of submissions created before ``before``;
        returns the media paths so the caller can delete the files."""


class Preferences(Protocol):
    """What a tipster chose for themselves, kept by pseudonym (never by Telegram id)."""

    @abstractmethod
    async def language_of(self, pseudonym: str) -> str | None:
        """The language they chose with /language; None if they never chose (their Telegram's
        language is used then)."""

    @abstractmethod
    async def set_language(self, pseudonym: str, language: str) -> None:
        """Remember their choice, replacing an earlier one. :meth:`Submissions.forget_tipster`
        forgets it."""


class Answers(Protocol):
    """What tipsters were told, for corrections."""

    @abstractmethod
    async def record_answer(self, submission_id: int, told: Sequence[Told]) -> None:
        """What the tipster has just been told, replacing what they were told before."""

    @abstractmethod
    async def open_answers(self, after: int = 0, limit: int = 200) -> list[OpenAnswer]:
        """The next ``limit`` tips after submission ``after`` (by id) that were answered and
        can still be corrected: this bot's, tipster and chat link still there, notify on."""

    @abstractmethod
    async def settle_answer(self, submission_id: int, told: Sequence[Told]) -> None:
        """A correction went out: this is now what the tipster was told. Rows replaced by a
        verdict given meanwhile are left alone (its notice told the tipster already)."""


class TipStorage(Submissions, Reviews, Moderation, Retention, Preferences, Answers, Protocol):
    """Submissions, reviews, moderators, the audit log, retention and tipsters' preferences:
    the bot's whole half."""
