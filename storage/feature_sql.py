"""The local-feature statements, written once for both dialects (see :mod:`storage.dialect`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FeatureStatements"]


@dataclass(frozen=True, slots=True)
class FeatureStatements:
    """Templates for :mod:`storage.features`."""

    #: (item_id, features) -> nothing; a newer extraction replaces the old one
    save: str = """
INSERT INTO known_item_features (item_id, features) VALUES ($1, $2)
ON CONFLICT (item_id) DO UPDATE SET features = excluded.features
"""
    #: (ids) -> item_id, features of those items that have features and are in force
    of_items: str = """
SELECT f.item_id, f.features FROM known_item_features f JOIN known_items k ON k.id = f.item_id
WHERE f.item_id {in:1:bigint} AND k.retired_at IS NULL
"""
    #: (after id, limit) -> item_id, features of items in force, by id: the start-up load
    page: str = """
SELECT f.item_id, f.features FROM known_item_features f JOIN known_items k ON k.id = f.item_id
WHERE f.item_id > $1 AND k.retired_at IS NULL ORDER BY f.item_id LIMIT $2
"""
    #: (submission item id, features) -> nothing
    save_for_tip: str = """
INSERT INTO submission_item_features (item_id, features) VALUES ($1, $2)
ON CONFLICT (item_id) DO UPDATE SET features = excluded.features
"""
    #: (submission id) -> item_id, features of the tip's pictures that have them
    of_tip: str = """
SELECT f.item_id, f.features FROM submission_item_features f
JOIN submission_items i ON i.id = f.item_id WHERE i.submission_id = $1
"""
