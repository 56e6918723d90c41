-- The state a review left each known item in. Undoing the review restores the item's earlier
-- state only if the item is still as the review left it: a later import or edit is newer
-- knowledge and must not be overwritten. NULL for links recorded before this column existed.
ALTER TABLE review_known_items ADD COLUMN left_state TEXT
    CHECK (left_state IS NULL OR json_valid(left_state));
