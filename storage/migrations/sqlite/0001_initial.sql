-- Tipline schema, version 1 (SQLite): the whole schema the bot needs, so it does not churn.
-- Timestamps are ISO-8601 text in UTC with an explicit offset, microsecond precision.
-- Hashes are lower-case hex (the form checks.signals validates). Vocabularies (verdicts,
-- statuses, roles, origins) are checked in code, not here: a new word must not need a table
-- rebuild. No raw Telegram identity is stored anywhere: people are HMAC pseudonyms (hex).

CREATE TABLE known_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: instances cache ids
    natural_key     TEXT NOT NULL UNIQUE,               -- first of sha256:, pdq:, phash:
    sha256          TEXT CHECK (length(sha256) = 64),
    pdq             TEXT CHECK (length(pdq) = 64),
    pdq_quality     INTEGER CHECK (pdq_quality BETWEEN 0 AND 100),
    phash           TEXT CHECK (length(phash) = 16),
    verdict         TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    fact_check_url  TEXT,
    original_date   TEXT,
    original_place  TEXT,
    source          TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,                      -- moves only when the content changes
    created_by      TEXT,
    updated_by      TEXT,
    -- Set when a review that created the item is undone: the row stays (other instances must
    -- hear of it through the revision), but lookups, reads and counts no longer see it.
    retired_at      TEXT,
    -- Commit order of the row's last change, kept by the triggers below (writers are
    -- serialised, so MAX + 1 is taken under the write lock): refresh_index's watermark.
    revision        INTEGER NOT NULL DEFAULT 0,
    CHECK (sha256 IS NOT NULL OR pdq IS NOT NULL OR phash IS NOT NULL)
) STRICT;
CREATE INDEX known_items_revision ON known_items (revision, id);

CREATE TRIGGER known_items_revision_insert AFTER INSERT ON known_items
BEGIN
    UPDATE known_items SET revision = (SELECT MAX(revision) + 1 FROM known_items)
    WHERE id = NEW.id;
END;

-- Every column but revision: a change to any of them is a new revision, whoever wrote it.
CREATE TRIGGER known_items_revision_update AFTER UPDATE ON known_items
WHEN (OLD.natural_key, OLD.sha256, OLD.pdq, OLD.pdq_quality, OLD.phash, OLD.verdict,
      OLD.title, OLD.note, OLD.fact_check_url, OLD.original_date, OLD.original_place,
      OLD.source, OLD.created_at, OLD.updated_at, OLD.created_by, OLD.updated_by,
      OLD.retired_at)
  IS NOT (NEW.natural_key, NEW.sha256, NEW.pdq, NEW.pdq_quality, NEW.phash, NEW.verdict,
      NEW.title, NEW.note, NEW.fact_check_url, NEW.original_date, NEW.original_place,
      NEW.source, NEW.created_at, NEW.updated_at, NEW.created_by, NEW.updated_by,
      NEW.retired_at)
BEGIN
    UPDATE known_items SET revision = (SELECT MAX(revision) + 1 FROM known_items)
    WHERE id = NEW.id;
END;

CREATE TABLE submissions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket              TEXT NOT NULL UNIQUE,           -- e.g. K7QM-2XTD
    update_id           INTEGER UNIQUE,                 -- Telegram update: a retry is no new tip
    status              TEXT NOT NULL,
    tipster             TEXT,                           -- HMAC pseudonym; NULL after /forget
    sealed_chat         BLOB,                           -- encrypted chat id; dropped when done
    notify              INTEGER NOT NULL DEFAULT 1 CHECK (notify IN (0, 1)),
    provenance          TEXT CHECK (provenance IS NULL OR json_valid(provenance)),
    media_group         TEXT,                           -- joins the updates of one album
    claimed_by          TEXT,                           -- moderator pseudonym
    note                TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    first_reply_at      TEXT,                           -- the tipster's first verdict card
    review_posted_at    TEXT                            -- the moderators' review card
) STRICT;
CREATE INDEX submissions_status ON submissions (status, created_at);
CREATE INDEX submissions_tipster ON submissions (tipster);
CREATE INDEX submissions_media_group ON submissions (media_group);
CREATE INDEX submissions_created ON submissions (created_at);

CREATE TABLE submission_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id   INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position >= 0),
    update_id       INTEGER UNIQUE,                     -- the update that brought this picture
    origin          TEXT NOT NULL,                      -- photo, document, link
    ref             TEXT NOT NULL,                      -- Telegram file_id, or the URL
    file_size       INTEGER,
    mime_type       TEXT,
    status          TEXT NOT NULL,
    sha256          TEXT CHECK (length(sha256) = 64),
    pdq             TEXT CHECK (length(pdq) = 64),
    pdq_quality     INTEGER CHECK (pdq_quality BETWEEN 0 AND 100),
    phash           TEXT CHECK (length(phash) = 16),
    media_path      TEXT,
    report          TEXT CHECK (report IS NULL OR json_valid(report)),
    error           TEXT CHECK (error IS NULL OR json_valid(error)),
    UNIQUE (submission_id, position)
) STRICT;
CREATE INDEX submission_items_sha256 ON submission_items (sha256);

CREATE TABLE reviews (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id   INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    verdict         TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    fact_check_url  TEXT,
    moderator       TEXT NOT NULL,                      -- pseudonym
    created_at      TEXT NOT NULL,
    reverted_at     TEXT
) STRICT;
CREATE INDEX reviews_submission ON reviews (submission_id);

-- The known items a review created or changed, and what each was before: enough to undo it.
CREATE TABLE review_known_items (
    review_id       INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    known_item_id   INTEGER NOT NULL REFERENCES known_items (id),
    created         INTEGER NOT NULL CHECK (created IN (0, 1)),
    previous        TEXT CHECK (previous IS NULL OR json_valid(previous)),
    PRIMARY KEY (review_id, known_item_id)
) STRICT;
CREATE INDEX review_known_items_item ON review_known_items (known_item_id);

CREATE TABLE moderators (
    pseudonym   TEXT PRIMARY KEY,                       -- of the Telegram user
    role        TEXT NOT NULL,
    added_by    TEXT,
    added_at    TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT,                                   -- pseudonym, or a system name
    action      TEXT NOT NULL,
    subject     TEXT,                                   -- e.g. a ticket code or known item id
    detail      TEXT CHECK (detail IS NULL OR json_valid(detail))
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);
