"""Known items in and out: Tipline's manifests (CSV or JSON Lines), schema.org MediaReview
JSON-LD, and ThreatExchange's file-exchange lines (in only).

Export writes exactly what import reads, so an export imports back unchanged into any Tipline
database. :mod:`~storage.exchange.manifest` reads and checks the rows;
:mod:`~storage.exchange.mediareview` (one review), :mod:`~storage.exchange.jsonld` (files of
reviews) and :mod:`~storage.exchange.pytx` read the other formats into the same rows;
:mod:`~storage.exchange.formats` tells which format a file is in;
:mod:`~storage.exchange.importer` saves the rows; :mod:`~storage.exchange.export` writes them.
"""

from storage.exchange.export import EXPORT_FORMATS, ExportWriter, export_row
from storage.exchange.formats import (
    ImportFormat,
    ImportOptions,
    count_records,
    detect_format,
    read_records,
    resolve_format,
)
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
    "ImportFormat",
    "ImportOptions",
    "ImportSummary",
    "ManifestRow",
    "count_manifest_rows",
    "count_records",
    "detect_format",
    "draft_from_row",
    "export_row",
    "import_manifest",
    "read_manifest",
    "read_records",
    "resolve_format",
]
