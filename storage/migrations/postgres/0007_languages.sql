-- The language a tipster reads. A tip remembers the one it came in (its cards are written in
-- it, and moderators see it to answer in it); a tipster's own choice (/language) is kept by
-- pseudonym, never by Telegram id, and goes with /forget.
ALTER TABLE submissions ADD COLUMN language TEXT;
CREATE TABLE tipster_languages (
    pseudonym   TEXT PRIMARY KEY,                       -- of the Telegram user
    language    TEXT NOT NULL,                          -- e.g. ko, zh_Hans
    updated_at  TIMESTAMPTZ NOT NULL
);
