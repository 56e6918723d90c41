"""The known-items exchange format: manifests in (CSV or JSON Lines), the same rows out.

Export writes exactly the columns import reads, so an export imports back unchanged into any
Tipline database. :mod:`~storage.exchange.manifest` reads and checks the rows,
:mod:`~storage.exchange.importer` saves them, :mod:`~storage.exchange.export` writes them out.
"""

from storage.exchange.export import EXPORT_FORMATS, ExportWriter, export_row
from storage.exchange.importer import IMPORT_BATCH, ImportSummary, import_manifest
from storage.exchange.manifest import (
    EXPORT_FIELDS,
    ManifestRow,
    count_manifest_rows,
    draft_from_row,
    read_manifest,
)

__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_FORMATS",
    "IMPORT_BATCH",
    "ExportWriter",
    "ImportSummary",
    "ManifestRow",
    "count_manifest_rows",
    "draft_from_row",
    "export_row",
    "import_manifest",
    "read_manifest",
]
