-- Which bot (newsroom) a tip came to. Newsrooms sharing one database share their known items,
-- not their tips: each bot lists, resumes and reviews only its own. Filled in from the update
-- key where it names a bot; tips recorded before bots were told apart (key "0:...") stay NULL
-- until the first bot that starts on this database adopts them.
ALTER TABLE submissions ADD COLUMN bot_id INTEGER;
UPDATE submissions SET bot_id = CAST(substr(update_key, 1, instr(update_key, ':') - 1) AS INTEGER)
WHERE instr(update_key, ':') > 1 AND substr(update_key, 1, 2) <> '0:';
CREATE INDEX submissions_bot ON submissions (bot_id, status);
