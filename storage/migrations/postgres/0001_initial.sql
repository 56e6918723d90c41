-- Tipline schema, version 1 (PostgreSQL): the whole schema the bot needs, so it does not churn.
-- Hashes are lower-case hex (the form checks.signals validates). Vocabularies (verdicts,
-- statuses, roles, origins) are checked in code, not here, as in the SQLite schema.
-- No raw Telegram identity is stored anywhere: people are HMAC pseudonyms (hex).

CREATE TABLE known_items (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    natural_key     TEXT NOT NULL UNIQUE,               -- first of sha256:, pdq:, phash:
    sha256          TEXT CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    pdq             TEXT CHECK (pdq ~ '^[0-9a-f]{64}$'),
    pdq_quality     SMALLINT CHECK (pdq_quality BETWEEN 0 AND 100),
    phash           TEXT CHECK (phash ~ '^[0-9a-f]{16}$'),
    verdict         TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    fact_check_url  TEXT,
    original_date   TEXT,
    original_place  TEXT,
    source          TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,               -- moves only when the content changes
    created_by      TEXT,
    updated_by      TEXT,
    -- Set when a review that created the item is undone: the row stays (other instances must
    -- hear of it through the revision), but lookups, reads and counts no longer see it.
    retired_at      TIMESTAMPTZ,
    -- The transaction that last changed the row (kept by the default and the trigger below).
    -- A refresh reads rows whose transaction is not older than the oldest one still running
    -- at the previous refresh (pg_snapshot_xmin), so rows committed out of order are never
    -- skipped, whatever the clocks say.
    revision        BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    CHECK (sha256 IS NOT NULL OR pdq IS NOT NULL OR phash IS NOT NULL)
);
CREATE INDEX known_items_revision ON known_items (revision, id);

CREATE FUNCTION known_items_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.revision := pg_current_xact_id()::text::bigint;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER known_items_revise BEFORE UPDATE ON known_items
    FOR EACH ROW EXECUTE FUNCTION known_items_revise();

-- Wake every instance listening on this database when an item is added or changed. The
-- payload is the schema, so instances of other Tipline schemas ignore it. Identical
-- notifications in one transaction are folded, so a bulk import sends one.
CREATE FUNCTION known_items_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.revision IS DISTINCT FROM OLD.revision THEN
        PERFORM pg_notify('tipline_known_items', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER known_items_notify AFTER INSERT OR UPDATE ON known_items
    FOR EACH ROW EXECUTE FUNCTION known_items_notify();

CREATE TABLE submissions (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket              TEXT NOT NULL UNIQUE,           -- e.g. K7QM-2XTD
    update_id           BIGINT UNIQUE,                  -- Telegram update: a retry is no new tip
    status              TEXT NOT NULL,
    tipster             TEXT,                           -- HMAC pseudonym; NULL after /forget
    sealed_chat         BYTEA,                          -- encrypted chat id; dropped when done
    notify              BOOLEAN NOT NULL DEFAULT TRUE,
    provenance          JSONB,
    media_group         TEXT,                           -- joins the updates of one album
    claimed_by          TEXT,                           -- moderator pseudonym
    note                TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    first_reply_at      TIMESTAMPTZ,                    -- the tipster's first verdict card
    review_posted_at    TIMESTAMPTZ                     -- the moderators' review card
);
CREATE INDEX submissions_status ON submissions (status, created_at);
CREATE INDEX submissions_tipster ON submissions (tipster);
CREATE INDEX submissions_media_group ON submissions (media_group);
CREATE INDEX submissions_created ON submissions (created_at);

CREATE TABLE submission_items (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id   BIGINT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position >= 0),
    update_id       BIGINT UNIQUE,                      -- the update that brought this picture
    origin          TEXT NOT NULL,                      -- photo, document, link
    ref             TEXT NOT NULL,                      -- Telegram file_id, or the URL
    file_size       BIGINT,
    mime_type       TEXT,
    status          TEXT NOT NULL,
    sha256          TEXT CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    pdq             TEXT CHECK (pdq ~ '^[0-9a-f]{64}$'),
    pdq_quality     SMALLINT CHECK (pdq_quality BETWEEN 0 AND 100),
    phash           TEXT CHECK (phash ~ '^[0-9a-f]{16}$'),
    media_path      TEXT,
    report          JSONB,
    error           JSONB,
    UNIQUE (submission_id, position)
);
CREATE INDEX submission_items_sha256 ON submission_items (sha256);

CREATE TABLE reviews (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id   BIGINT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    verdict         TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    fact_check_url  TEXT,
    moderator       TEXT NOT NULL,                      -- pseudonym
    created_at      TIMESTAMPTZ NOT NULL,
    reverted_at     TIMESTAMPTZ
);
CREATE INDEX reviews_submission ON reviews (submission_id);

-- The known items a review created or changed, and what each was before: enough to undo it.
CREATE TABLE review_known_items (
    review_id       BIGINT NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    known_item_id   BIGINT NOT NULL REFERENCES known_items (id),
    created         BOOLEAN NOT NULL,
    previous        JSONB,
    PRIMARY KEY (review_id, known_item_id)
);
CREATE INDEX review_known_items_item ON review_known_items (known_item_id);

CREATE TABLE moderators (
    pseudonym   TEXT PRIMARY KEY,                       -- of the Telegram user
    role        TEXT NOT NULL,
    added_by    TEXT,
    added_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT,                                   -- pseudonym, or a system name
    action      TEXT NOT NULL,
    subject     TEXT,                                   -- e.g. a ticket code or known item id
    detail      JSONB
);
CREATE INDEX audit_log_at ON audit_log (at);
