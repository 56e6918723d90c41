-- Telegram numbers updates per bot, and several bots (newsrooms) may share one database: the
-- key that makes recording idempotent is "<bot id>:<update id>", not the update id alone.
-- update_id keeps its old values (and its UNIQUE, harmlessly); new rows leave it NULL.
ALTER TABLE submissions ADD COLUMN update_key TEXT;
ALTER TABLE submission_items ADD COLUMN update_key TEXT;
UPDATE submissions SET update_key = '0:' || update_id WHERE update_id IS NOT NULL;
UPDATE submission_items SET update_key = '0:' || update_id WHERE update_id IS NOT NULL;
CREATE UNIQUE INDEX submissions_update_key ON submissions (update_key);
CREATE UNIQUE INDEX submission_items_update_key ON submission_items (update_key);
