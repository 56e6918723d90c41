"""The tip flow's statements in SQLite's dialect (see :class:`TipStatements` for each one's
parameters and rows).

Transactions begin with the write lock held (``BEGIN IMMEDIATE``), so nothing here needs a
lock of its own. Timestamps are ISO-8601 text in UTC, so they compare as text; lists come as
one JSON array read with ``json_each``.
"""

from __future__ import annotations

from storage.tip_repository import SUBMISSION_SELECT, TipStatements

__all__ = ["SQLITE_TIPS"]

SQLITE_TIPS = TipStatements(
    # -- submissions ----------------------------------------------------------------------
    submission_by_id=SUBMISSION_SELECT + "WHERE s.id = ?1 AND (?2 IS NULL OR s.bot_id = ?2)",
    submission_by_ticket=SUBMISSION_SELECT
    + "WHERE s.ticket = ?1 AND (?2 IS NULL OR s.bot_id = ?2)",
    submissions_of=SUBMISSION_SELECT
    + """WHERE s.tipster = ?1 AND (?3 IS NULL OR s.bot_id = ?3)
ORDER BY s.created_at DESC, s.id DESC LIMIT ?2""",
    unfinished=SUBMISSION_SELECT
    + """WHERE (?1 IS NULL OR s.bot_id = ?1) AND (s.first_reply_at IS NULL
OR (s.review_posted_at IS NULL AND s.status IN ('new', 'in_review')))
ORDER BY s.created_at, s.id""",
    review_queue=SUBMISSION_SELECT  # noqa: S608 - constants joined, no input in the text
    + """WHERE s.status IN (?1, ?2) AND (?4 IS NULL OR s.bot_id = ?4)
AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.submission_id = s.id AND r.reverted_at IS NULL)
ORDER BY s.created_at, s.id LIMIT ?3
""",
    queue_size="""
SELECT count(*) AS n FROM submissions s WHERE s.status IN (?1, ?2) AND (?3 IS NULL OR s.bot_id = ?3)
AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.submission_id = s.id AND r.reverted_at IS NULL)
""",
    items_of="""
SELECT id, submission_id, position, update_id, update_key, origin, ref, file_size, mime_type,
    status, sha256, pdq, pdq_quality, phash, media_path, report, error
FROM submission_items WHERE submission_id IN (SELECT value FROM json_each(?1))
ORDER BY submission_id, position
""",
    # -- recording a tip ------------------------------------------------------------------
    lock_tip=None,
    submission_of_update="""
SELECT id FROM submissions WHERE update_key = ?1
UNION ALL
SELECT submission_id FROM submission_items WHERE update_key = ?1
LIMIT 1
""",
    album="""
SELECT id FROM submissions WHERE media_group = ?1 AND tipster IS ?2 AND bot_id IS ?3
ORDER BY id LIMIT 1
""",
    ticket_taken="SELECT 1 FROM submissions WHERE ticket = ?1",
    adopt_tips="UPDATE submissions SET bot_id = ?1 WHERE bot_id IS NULL RETURNING id",
    insert_submission="""
INSERT INTO submissions (ticket, update_key, status, tipster, sealed_chat, notify, provenance,
    media_group, created_at, updated_at, bot_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
RETURNING id
""",
    last_position="""
SELECT COALESCE(MAX(position), 0) AS last FROM submission_items WHERE submission_id = ?1
""",
    insert_item="""
INSERT INTO submission_items (submission_id, position, update_key, origin, ref, file_size,
    mime_type, status)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
""",
    # -- changing a submission ------------------------------------------------------------
    save_item_result="""
UPDATE submission_items SET status = ?2, sha256 = ?3, pdq = ?4, pdq_quality = ?5, phash = ?6,
    media_path = ?7, report = ?8, error = ?9
WHERE id = ?1 RETURNING id
""",
    set_status="UPDATE submissions SET status = ?2, updated_at = ?3 WHERE id = ?1 RETURNING id",
    mark_replied="""
UPDATE submissions SET first_reply_at = COALESCE(first_reply_at, ?2) WHERE id = ?1
RETURNING first_reply_at
""",
    mark_review_posted="""
UPDATE submissions SET review_posted_at = COALESCE(review_posted_at, ?2) WHERE id = ?1
RETURNING review_posted_at
""",
    claim="""
UPDATE submissions SET claimed_by = COALESCE(claimed_by, ?2),
    updated_at = CASE WHEN claimed_by IS NULL THEN ?3 ELSE updated_at END
WHERE id = ?1 RETURNING claimed_by
""",
    set_note="UPDATE submissions SET note = ?2, updated_at = ?3 WHERE id = ?1 RETURNING id",
    take_lease="""
UPDATE submissions SET worker = ?2, worker_until = ?4
WHERE id = ?1 AND (worker IS NULL OR worker = ?2 OR worker_until < ?3) RETURNING id
""",
    release_lease="""
UPDATE submissions SET worker = NULL, worker_until = NULL WHERE id = ?1 AND worker = ?2
RETURNING id
""",
    drop_sealed_chat="""
UPDATE submissions SET sealed_chat = NULL, updated_at = ?2 WHERE id = ?1 RETURNING id
""",
    forget_tipster="""
UPDATE submissions SET tipster = NULL, sealed_chat = NULL, updated_at = ?2 WHERE tipster = ?1
RETURNING id
""",
    # -- reviews --------------------------------------------------------------------------
    lock_submission="SELECT id, ticket FROM submissions WHERE id = ?1",
    review_in_force="""
SELECT id, submission_id, verdict, moderator, note, fact_check_url, created_at, reverted_at
FROM reviews WHERE submission_id = ?1 AND reverted_at IS NULL
ORDER BY id DESC LIMIT 1
""",
    insert_review="""
INSERT INTO reviews (submission_id, verdict, note, fact_check_url, moderator, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
RETURNING id, submission_id, verdict, moderator, note, fact_check_url, created_at, reverted_at
""",
    known_item_state="""
SELECT id, sha256, pdq, pdq_quality, phash, verdict, title, note, fact_check_url,
    original_date, original_place, source, updated_at, updated_by, retired_at
FROM known_items WHERE natural_key = ?1
""",
    known_item_state_by_id="""
SELECT id, sha256, pdq, pdq_quality, phash, verdict, title, note, fact_check_url,
    original_date, original_place, source, updated_at, updated_by, retired_at
FROM known_items WHERE id = ?1
""",
    insert_review_link="""
INSERT INTO review_known_items (review_id, known_item_id, created, previous, left_state)
VALUES (?1, ?2, ?3, ?4, ?5)
""",
    review_links="""
SELECT known_item_id, created, previous, left_state FROM review_known_items
WHERE review_id = ?1 ORDER BY known_item_id
""",
    later_link="""
SELECT rk.review_id FROM review_known_items rk JOIN reviews r ON r.id = rk.review_id
WHERE rk.known_item_id = ?1 AND rk.review_id > ?2 AND r.reverted_at IS NULL
ORDER BY rk.review_id LIMIT 1
""",
    splice_link="""
UPDATE review_known_items SET created = ?3, previous = ?4
WHERE review_id = ?1 AND known_item_id = ?2
""",
    retire_known_item="""
UPDATE known_items SET retired_at = ?2 WHERE id = ?1 AND retired_at IS NULL
""",
    restore_known_item="""
UPDATE known_items SET sha256 = ?2, pdq = ?3, pdq_quality = ?4, phash = ?5, verdict = ?6,
    title = ?7, note = ?8, fact_check_url = ?9, original_date = ?10, original_place = ?11,
    source = ?12, updated_at = ?13, updated_by = ?14, retired_at = ?15
WHERE id = ?1
""",
    revert_review="""
UPDATE reviews SET reverted_at = ?2 WHERE id = ?1
RETURNING id, submission_id, verdict, moderator, note, fact_check_url, created_at, reverted_at
""",
    reviews_of="""
SELECT id, submission_id, verdict, moderator, note, fact_check_url, created_at, reverted_at
FROM reviews WHERE submission_id = ?1 ORDER BY id DESC
""",
    review_item_ids="""
SELECT review_id, known_item_id FROM review_known_items
WHERE review_id IN (SELECT value FROM json_each(?1))
""",
    # -- roles and the audit log ----------------------------------------------------------
    set_role="""
INSERT INTO moderators (pseudonym, role, added_by, added_at, bot_id)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (bot_id, pseudonym) DO UPDATE SET role = excluded.role, added_by = excluded.added_by
""",
    remove_role="""
DELETE FROM moderators WHERE pseudonym = ?1 AND bot_id = ?2 RETURNING pseudonym
""",
    role_of="SELECT role FROM moderators WHERE pseudonym = ?1 AND bot_id = ?2",
    list_roles="""
SELECT pseudonym, role, added_by, added_at FROM moderators WHERE bot_id = ?1
ORDER BY added_at, pseudonym
""",
    adopt_roles="""
UPDATE moderators SET bot_id = ?1
WHERE bot_id = 0 AND pseudonym NOT IN (SELECT pseudonym FROM moderators WHERE bot_id = ?1)
RETURNING pseudonym
""",
    insert_audit="""
INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)
""",
    audit_log="""
SELECT id, at, actor, action, subject, detail FROM audit_log ORDER BY at DESC, id DESC
LIMIT ?1
""",
    # -- stats, retention, media ----------------------------------------------------------
    submissions_since="""
SELECT count(*) AS submissions,
    COALESCE(SUM(CASE WHEN status = ?2 THEN 1 ELSE 0 END), 0) AS matches
FROM submissions s WHERE created_at >= ?1 AND (?3 IS NULL OR s.bot_id = ?3)
""",
    reply_times="""
SELECT created_at, first_reply_at FROM submissions s
WHERE created_at >= ?1 AND first_reply_at IS NOT NULL AND (?2 IS NULL OR s.bot_id = ?2)
""",
    purge_chats="""
UPDATE submissions SET sealed_chat = NULL
WHERE created_at < ?1 AND sealed_chat IS NOT NULL RETURNING id
""",
    expiring_media="""
SELECT DISTINCT media_path FROM submission_items
WHERE media_path IS NOT NULL
  AND submission_id IN (SELECT id FROM submissions WHERE created_at < ?1)
""",
    purge_media="""
UPDATE submission_items SET media_path = NULL
WHERE media_path IS NOT NULL
  AND submission_id IN (SELECT id FROM submissions WHERE created_at < ?1)
""",
    media_in_use="""
SELECT DISTINCT media_path FROM submission_items
WHERE media_path IN (SELECT value FROM json_each(?1))
""",
    media_of_known_item="""
SELECT si.media_path FROM known_items k JOIN submission_items si ON si.sha256 = k.sha256
WHERE k.id = ?1 AND k.retired_at IS NULL AND si.media_path IS NOT NULL
ORDER BY si.id LIMIT 1
""",
)
