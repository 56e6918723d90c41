-- Moderators belong to one newsroom's bot: on a database several newsrooms share, one admin's
-- /mods must not list another newsroom's moderators, nor a role given in one count in another.
-- Bot 0 holds the roles given before bots were told apart, until the first bot to start on
-- this database adopts them.
CREATE TABLE moderators_per_bot (
    bot_id      INTEGER NOT NULL,
    pseudonym   TEXT NOT NULL,                          -- of the Telegram user
    role        TEXT NOT NULL,
    added_by    TEXT,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (bot_id, pseudonym)
) STRICT;
INSERT INTO moderators_per_bot (bot_id, pseudonym, role, added_by, added_at)
SELECT 0, pseudonym, role, added_by, added_at FROM moderators;
DROP TABLE moderators;
ALTER TABLE moderators_per_bot RENAME TO moderators;
