-- What each tipster was told about the known items behind their tip, so that when it stops
-- holding (a verdict undone or changed, a partner's retraction, newsrooms disagreeing) they
-- get one correction naming the ticket. A row per known item that answered the tip: a
-- certain match, or an item the moderator's verdict on the tip recorded. ``verdict`` is what
-- they were told of the item (NULL: told it was withdrawn); ``disputed`` whether they were
-- told newsrooms disagree. The row goes with its tip; a tip whose chat link is gone (closed
-- by retention, /forget) is never corrected.
CREATE TABLE tipster_answers (
    submission_id  INTEGER NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    item_id        INTEGER NOT NULL REFERENCES known_items (id),
    verdict        TEXT,
    disputed       INTEGER NOT NULL DEFAULT 0 CHECK (disputed IN (0, 1)),
    told_at        TEXT NOT NULL,
    PRIMARY KEY (submission_id, item_id)
) STRICT;
