-- The identical file is found by the database, not by the in-memory index: a look-up reads the
-- known items whose SHA-256 is the query's (the natural key holds it only for items recorded
-- here; a partner's item is keyed by its entry), so that column needs an index of its own.
CREATE INDEX known_items_sha256 ON known_items (sha256);
