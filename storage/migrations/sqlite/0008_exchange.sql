-- The newsroom exchange: what this newsroom publishes in its feed, and what its partners say.
--
-- feed_items: one row per known item this newsroom has decided to publish (or published and
-- then withdrew). An item from a tip has no row until a moderator publishes it: a hash in a
-- feed tells anyone holding the picture that this newsroom has it. ``seq`` is the feed's
-- change sequence: every decision, and every later change of the item (the trigger below),
-- takes MAX + 1 under SQLite's write lock, so it grows in commit order and ``?after=seq``
-- returns exactly what changed since. A withdrawn or retired item is served as a tombstone.
CREATE TABLE feed_items (
    item_id     INTEGER PRIMARY KEY REFERENCES known_items (id),
    published   INTEGER NOT NULL CHECK (published IN (0, 1)),
    decided_by  TEXT,                                   -- moderator pseudonym, or "import"
    decided_at  TEXT NOT NULL,
    seq         INTEGER NOT NULL UNIQUE
) STRICT;

-- A published item that changes (a new verdict, an undo that retires it) is news for the
-- feed. The columns are the revision trigger's: a change to any of them moves the sequence.
CREATE TRIGGER feed_items_follow AFTER UPDATE ON known_items
WHEN (OLD.natural_key, OLD.sha256, OLD.pdq, OLD.pdq_quality, OLD.phash, OLD.verdict,
      OLD.title, OLD.note, OLD.fact_check_url, OLD.original_date, OLD.original_place,
      OLD.source, OLD.updated_at, OLD.retired_at)
  IS NOT (NEW.natural_key, NEW.sha256, NEW.pdq, NEW.pdq_quality, NEW.phash, NEW.verdict,
      NEW.title, NEW.note, NEW.fact_check_url, NEW.original_date, NEW.original_place,
      NEW.source, NEW.updated_at, NEW.retired_at)
BEGIN
    UPDATE feed_items SET seq = (SELECT MAX(seq) + 1 FROM feed_items) WHERE item_id = NEW.id;
END;

-- Imports are published by default (TIPLINE_PUBLISH_IMPORTED): found by their author.
CREATE INDEX known_items_created_by ON known_items (created_by);

-- Newsrooms whose feeds this one reads. The token (if any) is sent to the partner as a bearer
-- token; it is the partner's to issue and is never logged.
CREATE TABLE partners (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    url           TEXT NOT NULL,
    public_key    TEXT NOT NULL,                        -- Ed25519, base64 of the raw 32 bytes
    trust         TEXT NOT NULL,                        -- certain, review
    token         TEXT,
    cursor        TEXT,                                 -- the partner's opaque checkpoint
    added_at      TEXT NOT NULL,
    last_sync_at  TEXT,
    last_result   TEXT,                                 -- one line: what the last sync did
    failures      INTEGER NOT NULL DEFAULT 0,           -- consecutive failed syncs
    retry_at      TEXT                                  -- backoff: not before this time
) STRICT;

-- Who said what: one row per entry of a partner's feed. A live entry's hashes and verdict are
-- a known item of its own (natural key "partner:<partner id>:<entry key>", created_by
-- "partner"), so the near-duplicate index finds it like any other; a tombstone retires that
-- item. ``entry_key`` is the publishing newsroom's natural key of the item (sha256:..., pdq:...,
-- phash:...), the same key this newsroom's own item would have: it ties together every
-- newsroom's opinion of one picture. ``sequence`` refuses a replayed older entry.
CREATE TABLE partner_entries (
    partner_id  INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    entry_key   TEXT NOT NULL,
    item_id     INTEGER REFERENCES known_items (id),
    sequence    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL,                          -- as the partner signed it
    verdict     TEXT,                                   -- NULL: retracted (a tombstone)
    newsroom    TEXT NOT NULL,                          -- the name the partner signs with
    PRIMARY KEY (partner_id, entry_key)
) STRICT;
CREATE INDEX partner_entries_key ON partner_entries (entry_key);
CREATE INDEX partner_entries_item ON partner_entries (item_id);
