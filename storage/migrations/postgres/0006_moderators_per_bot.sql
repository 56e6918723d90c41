-- Moderators belong to one newsroom's bot: on a database several newsrooms share, one admin's
-- /mods must not list another newsroom's moderators, nor a role given in one count in another.
-- Bot 0 holds the roles given before bots were told apart, until the first bot to start on
-- this database adopts them.
ALTER TABLE moderators ADD COLUMN bot_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE moderators ALTER COLUMN bot_id DROP DEFAULT;
ALTER TABLE moderators DROP CONSTRAINT moderators_pkey;
ALTER TABLE moderators ADD PRIMARY KEY (bot_id, pseudonym);
