-- Which bot instance is processing a tip, and until when: instances sharing one database
-- must not both resume the same unfinished tip (the tipster would get two cards).
ALTER TABLE submissions ADD COLUMN worker TEXT;
ALTER TABLE submissions ADD COLUMN worker_until TEXT;
