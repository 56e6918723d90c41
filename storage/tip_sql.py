"""The tip flow's statements, written once for both dialects (see :mod:`storage.dialect`).

Locking is written into the statements where PostgreSQL needs it (``{for_update}``, the
``{tip_lock}`` per album): it runs at READ COMMITTED, so a statement that waited for a lock
sees what the other transaction committed. SQLite's transactions begin with the write lock
held, so there the hooks render to nothing.
"""

# ruff: noqa: S608 - statements are put together from this module's constants; values only
# ever travel as parameters.

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TipStatements"]

#: What :func:`storage.rows.submission_from_row` reads (``verdict``: the review in force).
_SUBMISSION = """
SELECT s.id, s.ticket, s.status, s.tipster, s.sealed_chat, s.notify, s.provenance,
    s.media_group, s.claimed_by, s.note, s.created_at, s.updated_at, s.first_reply_at,
    s.review_posted_at, s.language,
    (SELECT r.verdict FROM reviews r WHERE r.submission_id = s.id AND r.reverted_at IS NULL
     ORDER BY r.id DESC LIMIT 1) AS verdict
FROM submissions s
"""
#: What :func:`storage.rows.review_from_row` reads.
_REVIEW = "id, submission_id, verdict, moderator, note, fact_check_url, created_at, reverted_at"
_NO_VERDICT = """
AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.submission_id = s.id AND r.reverted_at IS NULL)
"""
#: Items that refer to media, of the submissions created before parameter 1.
_EXPIRING = """
WHERE media_path IS NOT NULL
  AND submission_id IN (SELECT id FROM submissions WHERE created_at < $1)
"""


def _of_bot(n: int) -> str:
    """Tips of the bot in parameter ``n``, or of every bot when it is NULL."""
    return f"({{cast:{n}:bigint}} IS NULL OR s.bot_id = ${n})"


@dataclass(frozen=True, slots=True)
class TipStatements:
    """Every statement of the tip flow in one dialect; the defaults are the templates, which
    :meth:`storage.dialect.Dialect.render_all` turns into a dialect's text.

    Parameters are numbered as noted; a ``bot`` parameter is the bot whose tips to see, or
    NULL for every bot's, and for roles, 0 is the bot of roles from before bots were told
    apart."""

    # -- submissions --------------------------------------------------------------------------
    #: (id, bot) -> submission
    submission_by_id: str = _SUBMISSION + f"WHERE s.id = $1 AND {_of_bot(2)}"
    #: (ticket, bot) -> submission
    submission_by_ticket: str = _SUBMISSION + f"WHERE s.ticket = $1 AND {_of_bot(2)}"
    #: (tipster, limit, bot) -> submissions, newest first
    submissions_of: str = (
        _SUBMISSION
        + f"WHERE s.tipster = $1 AND {_of_bot(3)} ORDER BY s.created_at DESC, s.id DESC LIMIT $2"
    )
    #: (bot) -> submissions without a first reply or a posted review card, oldest first
    unfinished: str = (
        _SUBMISSION
        + f"""WHERE {_of_bot(1)} AND (s.first_reply_at IS NULL
OR (s.review_posted_at IS NULL AND s.status IN ('new', 'in_review')))
ORDER BY s.created_at, s.id"""
    )
    #: (status, status, limit, bot) -> those with no verdict in force, oldest first
    review_queue: str = (
        _SUBMISSION
        + f"WHERE s.status IN ($1, $2) AND {_of_bot(4)}"
        + _NO_VERDICT
        + "ORDER BY s.created_at, s.id LIMIT $3"
    )
    #: (status, status, bot) -> ``n``, the size of that queue
    queue_size: str = (
        f"SELECT count(*) AS n FROM submissions s WHERE s.status IN ($1, $2) AND {_of_bot(3)}"
        + _NO_VERDICT
    )
    #: (tipster, since, album, received, new, in_review, bot) -> ``pictures, pending, oldest``
    activity_of: str = f"""
SELECT
    (SELECT count(*) FROM submission_items si JOIN submissions s ON s.id = si.submission_id
     WHERE s.tipster = $1 AND s.created_at >= $2 AND {_of_bot(7)}) AS pictures,
    (SELECT count(*) FROM submissions s
     WHERE s.tipster = $1 AND s.status IN ($4, $5, $6) AND {_of_bot(7)}
       AND ({{cast:3:text}} IS NULL OR s.media_group {{differs}} $3)) AS pending,
    (SELECT min(s.created_at) FROM submissions s
     WHERE s.tipster = $1 AND s.created_at >= $2 AND {_of_bot(7)}) AS oldest
"""
    #: (submission ids) -> items, by submission and position
    items_of: str = """
SELECT id, submission_id, position, update_id, update_key, origin, ref, file_size, mime_type,
    status, sha256, pdq, pdq_quality, phash, media_path, report, error
FROM submission_items WHERE submission_id {in:1:bigint}
ORDER BY submission_id, position
"""

    # -- recording a tip ----------------------------------------------------------------------
    #: (key): serialise recorders of one album or update; empty if transactions already are.
    lock_tip: str = "{tip_lock:1}"
    #: (update key) -> ``id`` of the submission that update already made or joined
    submission_of_update: str = """
SELECT id FROM submissions WHERE update_key = $1
UNION ALL
SELECT submission_id FROM submission_items WHERE update_key = $1
LIMIT 1
"""
    #: (media_group, tipster, bot) -> ``id`` of that tipster's submission for that album
    album: str = """
SELECT id FROM submissions WHERE media_group = $1 AND tipster {same} {cast:2:text}
AND bot_id {same} {cast:3:bigint} ORDER BY id LIMIT 1
"""
    #: (ticket) -> a row if the ticket is taken (by any bot: codes are unique in the database)
    ticket_taken: str = "SELECT 1 FROM submissions WHERE ticket = $1"
    #: (bot) -> ``id`` per tip from before bots were told apart, now that bot's
    adopt_tips: str = "UPDATE submissions SET bot_id = $1 WHERE bot_id IS NULL RETURNING id"
    #: (ticket, update key, status, tipster, sealed_chat, notify, provenance, media_group,
    #: now, bot, language) -> ``id``
    insert_submission: str = """
INSERT INTO submissions (ticket, update_key, status, tipster, sealed_chat, notify, provenance,
    media_group, created_at, updated_at, bot_id, language)
VALUES ($1, $2, $3, $4, $5, $6, {json:7}, $8, $9, $9, $10, $11)
RETURNING id
"""
    #: (submission_id) -> ``last``, the highest position so far (0 for none)
    last_position: str = """
SELECT COALESCE(MAX(position), 0) AS last FROM submission_items WHERE submission_id = $1
"""
    #: (submission_id, position, update key, origin, ref, file_size, mime_type, status)
    insert_item: str = """
INSERT INTO submission_items (submission_id, position, update_key, origin, ref, file_size,
    mime_type, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

    # -- changing a submission ----------------------------------------------------------------
    #: (item_id, status, sha256, pdq, pdq_quality, phash, media_path, report, error) -> ``id``
    save_item_result: str = """
UPDATE submission_items SET status = $2, sha256 = $3, pdq = $4, pdq_quality = $5, phash = $6,
    media_path = $7, report = {json:8}, error = {json:9}
WHERE id = $1 RETURNING id
"""
    #: (id, status, now) -> ``id``
    set_status: str = (
        "UPDATE submissions SET status = $2, updated_at = $3 WHERE id = $1 RETURNING id"
    )
    #: (id, worker, now, until) -> ``id`` when the lease was free, expired or already theirs
    take_lease: str = """
UPDATE submissions SET worker = $2, worker_until = $4
WHERE id = $1 AND (worker IS NULL OR worker = $2 OR worker_until < $3) RETURNING id
"""
    #: (id, worker) -> ``id`` when that worker held it
    release_lease: str = """
UPDATE submissions SET worker = NULL, worker_until = NULL WHERE id = $1 AND worker = $2
RETURNING id
"""
    #: (id, now) -> ``first_reply_at``, set to now only if it was NULL
    mark_replied: str = """
UPDATE submissions SET first_reply_at = COALESCE(first_reply_at, $2) WHERE id = $1
RETURNING first_reply_at
"""
    #: (id, now) -> ``review_posted_at``, set to now only if it was NULL
    mark_review_posted: str = """
UPDATE submissions SET review_posted_at = COALESCE(review_posted_at, $2) WHERE id = $1
RETURNING review_posted_at
"""
    #: (id, moderator, now) -> ``claimed_by``, set only if it was NULL
    claim: str = """
UPDATE submissions SET claimed_by = COALESCE(claimed_by, $2),
    updated_at = CASE WHEN claimed_by IS NULL THEN $3 ELSE updated_at END
WHERE id = $1 RETURNING claimed_by
"""
    #: (id, note, now) -> ``id``
    set_note: str = "UPDATE submissions SET note = $2, updated_at = $3 WHERE id = $1 RETURNING id"
    #: (id, now) -> ``id``
    drop_sealed_chat: str = """
UPDATE submissions SET sealed_chat = NULL, updated_at = $2 WHERE id = $1 RETURNING id
"""
    #: (tipster, now) -> ``id`` per submission unlinked
    forget_tipster: str = """
UPDATE submissions SET tipster = NULL, sealed_chat = NULL, updated_at = $2 WHERE tipster = $1
RETURNING id
"""

    # -- reviews ------------------------------------------------------------------------------
    #: (id) -> ``id, ticket`` of the submission, locked against other reviewers
    lock_submission: str = "SELECT id, ticket FROM submissions WHERE id = $1 {for_update}"
    #: (submission_id) -> the review in force, if any
    review_in_force: str = f"""
SELECT {_REVIEW} FROM reviews WHERE submission_id = $1 AND reverted_at IS NULL
ORDER BY id DESC LIMIT 1
"""
    #: (submission_id, verdict, note, fact_check_url, moderator, now) -> the review
    insert_review: str = f"""
INSERT INTO reviews (submission_id, verdict, note, fact_check_url, moderator, created_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_REVIEW}
"""
    #: (review_id, known_item_id, created, previous, left_state)
    insert_review_link: str = """
INSERT INTO review_known_items (review_id, known_item_id, created, previous, left_state)
VALUES ($1, $2, $3, {json:4}, {json:5})
"""
    #: (review_id) -> ``known_item_id, created, previous, left_state`` with those items locked
    review_links: str = """
SELECT rk.known_item_id, rk.created, rk.previous, rk.left_state
FROM review_known_items rk JOIN known_items k ON k.id = rk.known_item_id
WHERE rk.review_id = $1 ORDER BY rk.known_item_id {for_update:k}
"""
    #: (known_item_id, review_id) -> ``review_id`` of the next later review in force with it
    later_link: str = """
SELECT rk.review_id FROM review_known_items rk JOIN reviews r ON r.id = rk.review_id
WHERE rk.known_item_id = $1 AND rk.review_id > $2 AND r.reverted_at IS NULL
ORDER BY rk.review_id LIMIT 1
"""
    #: (review_id, known_item_id, created, previous)
    splice_link: str = """
UPDATE review_known_items SET created = $3, previous = {json:4}
WHERE review_id = $1 AND known_item_id = $2
"""
    #: (review_id, now) -> the review
    revert_review: str = f"UPDATE reviews SET reverted_at = $2 WHERE id = $1 RETURNING {_REVIEW}"
    #: (submission_id) -> reviews, newest first
    reviews_of: str = f"SELECT {_REVIEW} FROM reviews WHERE submission_id = $1 ORDER BY id DESC"
    #: (review ids) -> ``review_id, known_item_id``
    review_item_ids: str = """
SELECT review_id, known_item_id FROM review_known_items WHERE review_id {in:1:bigint}
"""

    # -- roles and the audit log --------------------------------------------------------------
    #: (pseudonym, role, added_by, now, bot)
    set_role: str = """
INSERT INTO moderators (pseudonym, role, added_by, added_at, bot_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (bot_id, pseudonym) DO UPDATE SET role = excluded.role, added_by = excluded.added_by
"""
    #: (pseudonym, bot) -> a row if one was deleted
    remove_role: str = """
DELETE FROM moderators WHERE pseudonym = $1 AND bot_id = $2 RETURNING pseudonym
"""
    #: (pseudonym, bot) -> ``role``
    role_of: str = "SELECT role FROM moderators WHERE pseudonym = $1 AND bot_id = $2"
    #: (bot) -> moderators in the order they were added
    list_roles: str = """
SELECT pseudonym, role, added_by, added_at FROM moderators WHERE bot_id = $1
ORDER BY added_at, pseudonym
"""
    #: (bot) -> ``pseudonym`` per role from bot 0 that is now this bot's
    adopt_roles: str = """
UPDATE moderators SET bot_id = $1
WHERE bot_id = 0 AND pseudonym NOT IN (SELECT pseudonym FROM moderators WHERE bot_id = $1)
RETURNING pseudonym
"""
    #: (now, actor, action, subject, detail)
    insert_audit: str = """
INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, {json:5})
"""
    #: (limit) -> entries, newest first
    audit_log: str = """
SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY at DESC, id DESC
LIMIT $1
"""

    # -- tipsters' preferences ----------------------------------------------------------------
    #: (pseudonym) -> ``language``
    language_of: str = "SELECT language FROM tipster_languages WHERE pseudonym = $1"
    #: (pseudonym, language, now)
    set_language: str = """
INSERT INTO tipster_languages (pseudonym, language, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (pseudonym) DO UPDATE SET language = excluded.language,
    updated_at = excluded.updated_at
"""
    #: (pseudonym)
    forget_language: str = "DELETE FROM tipster_languages WHERE pseudonym = $1"

    # -- stats, retention, media --------------------------------------------------------------
    #: (since, matched status, bot) -> ``submissions, matches``
    submissions_since: str = f"""
SELECT count(*) AS submissions,
    COALESCE(SUM(CASE WHEN status = $2 THEN 1 ELSE 0 END), 0) AS matches
FROM submissions s WHERE created_at >= $1 AND {_of_bot(3)}
"""
    #: (since, bot) -> ``created_at, first_reply_at`` of those that had a card
    reply_times: str = f"""
SELECT created_at, first_reply_at FROM submissions s
WHERE created_at >= $1 AND first_reply_at IS NOT NULL AND {_of_bot(2)}
"""
    #: (before) -> ``id`` per sealed chat dropped
    purge_chats: str = """
UPDATE submissions SET sealed_chat = NULL
WHERE created_at < $1 AND sealed_chat IS NOT NULL RETURNING id
"""
    #: (before) -> the distinct ``media_path`` of those submissions' items
    expiring_media: str = "SELECT DISTINCT media_path FROM submission_items" + _EXPIRING
    #: (before): drop those references
    purge_media: str = "UPDATE submission_items SET media_path = NULL" + _EXPIRING
    #: (paths) -> ``media_path`` of those still referred to
    media_in_use: str = """
SELECT DISTINCT media_path FROM submission_items WHERE media_path {in:1:text}
"""
    #: (paths, since) -> ``media_path`` of those an open tip created since ``since`` refers to
    media_needed: str = """
SELECT DISTINCT si.media_path FROM submission_items si
JOIN submissions s ON s.id = si.submission_id
WHERE si.media_path {in:1:text} AND s.created_at >= $2
  AND s.status IN ('received', 'new', 'in_review')
"""
    #: (known_item_id) -> ``media_path`` of a stored copy of that picture
    media_of_known_item: str = """
SELECT si.media_path FROM known_items k JOIN submission_items si ON si.sha256 = k.sha256
WHERE k.id = $1 AND k.retired_at IS NULL AND si.media_path IS NOT NULL
ORDER BY si.id LIMIT 1
"""
