-- Local features of a known item's picture (checks/local_features.py): its keypoints and a
-- thumbnail, to find it again cropped, tilted or inside a screenshot. Items imported by hash
-- alone have none and match by their global hashes only.
CREATE TABLE known_item_features (
    item_id   INTEGER PRIMARY KEY REFERENCES known_items(id) ON DELETE CASCADE,
    features  BLOB NOT NULL
) STRICT;

-- A tip's picture's features, kept until a verdict makes it a known item (or the tip goes).
CREATE TABLE submission_item_features (
    item_id   INTEGER PRIMARY KEY REFERENCES submission_items(id) ON DELETE CASCADE,
    features  BLOB NOT NULL
) STRICT;
