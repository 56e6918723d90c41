"""Which format a file to import is in, and its rows whatever the format.

Four formats come in: the manifest (CSV or JSON Lines, Tipline's own), schema.org MediaReview
JSON-LD (:mod:`~storage.exchange.mediareview`) and ThreatExchange's file-exchange lines
(:mod:`~storage.exchange.pytx`). Each is read into the same :class:`ManifestRow` values, so one
function (:func:`~storage.exchange.manifest.draft_from_row`) checks every row of every format.
The format is told by the file's name (``.jsonld``) or its first line, unless given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from checks.errors import InvalidInput
from checks.verdicts import Verdict
from storage.exchange.jsonld import GRAPH_HEADER, count_media_reviews, read_media_reviews
from storage.exchange.manifest import (
    ManifestRow,
    count_manifest_rows,
    open_manifest,
    read_manifest,
)
from storage.exchange.pytx import count_pytx, looks_like_pytx, read_pytx

__all__ = [
    "ImportFormat",
    "ImportOptions",
    "count_records",
    "detect_format",
    "read_records",
    "resolve_format",
]

_JSONLD_SUFFIXES = frozenset({".jsonld", ".json-ld"})
#: How much of a file's head is searched for JSON-LD's keywords when its first line is not
#: JSON on its own (a pretty-printed document).
_SNIFF_CHARS = 4096
_JSONLD_KEYWORDS = ('"@context"', '"@type"', '"@graph"')


class ImportFormat(StrEnum):
    """What ``tipline import --format`` takes; ``auto`` tells by name and content."""

    AUTO = "auto"
    MANIFEST = "manifest"
    MEDIAREVIEW = "mediareview"
    PYTX = "pytx"


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read a file: its format, and for ThreatExchange lines (which carry none) the
    verdict to record and, optionally, the source to name."""

    format: ImportFormat = ImportFormat.AUTO
    verdict: Verdict | None = None
    source: str | None = None


def detect_format(path: Path) -> ImportFormat:
    """The file's format from its suffix, else from its first non-blank line."""
    if path.suffix.lower() in _JSONLD_SUFFIXES:
        return ImportFormat.MEDIAREVIEW
    with open_manifest(path) as handle:
        first = next((line.strip() for line in handle if line.strip()), "")
        handle.seek(0)
        head = handle.read(_SNIFF_CHARS)
    if first.startswith(("{", "[")):
        return ImportFormat.MEDIAREVIEW if _is_jsonld(first, head) else ImportFormat.MANIFEST
    if first and looks_like_pytx(first):
        return ImportFormat.PYTX
    return ImportFormat.MANIFEST


def _is_jsonld(first: str, head: str) -> bool:
    if first == GRAPH_HEADER:
        return True
    try:
        value = json.loads(first)
    except RecursionError:
        return False  # no format holds it: the manifest reader refuses the line
    except json.JSONDecodeError:
        # Not a line of JSON Lines: a document spread over lines, or a broken manifest line.
        return any(keyword in head for keyword in _JSONLD_KEYWORDS)
    return isinstance(value, list) or (
        isinstance(value, dict) and any(key.startswith("@") for key in value)
    )


def resolve_format(path: Path, options: ImportOptions) -> ImportFormat:
    """The format to read ``path`` in, checked against the options it needs or refuses."""
    fmt = detect_format(path) if options.format is ImportFormat.AUTO else options.format
    if fmt is ImportFormat.PYTX and options.verdict is None:
        known = ", ".join(v.value for v in Verdict)
        raise InvalidInput(
            f"{path.name} holds ThreatExchange signal lines, which carry no verdict: "
            f"give the one they all get with --verdict (one of: {known})"
        )
    if fmt is not ImportFormat.PYTX and (options.verdict is not None or options.source):
        raise InvalidInput(
            f"{path.name} is a {fmt.value} file, whose rows carry their own verdict and source; "
            "--verdict and --source are for ThreatExchange signal lines only"
        )
    return fmt


def read_records(path: Path, options: ImportOptions) -> Iterator[ManifestRow | InvalidInput]:
    """Every row of the file as manifest values, or an error naming where it is."""
    fmt = resolve_format(path, options)
    if fmt is ImportFormat.MANIFEST:
        yield from read_manifest(path)
        return
    with open_manifest(path) as handle:
        if fmt is ImportFormat.MEDIAREVIEW:
            yield from read_media_reviews(handle)
        else:
            assert options.verdict is not None  # resolve_format refused a pytx file without
            yield from read_pytx(handle, options.verdict, options.source)


def count_records(path: Path, options: ImportOptions) -> int | None:
    """How many rows :func:`read_records` will yield (a progress bar's total), or ``None`` if
    only parsing the whole file could tell."""
    fmt = resolve_format(path, options)
    if fmt is ImportFormat.MANIFEST:
        return count_manifest_rows(path)
    with open_manifest(path) as handle:
        if fmt is ImportFormat.MEDIAREVIEW:
            return count_media_reviews(handle)
        return count_pytx(handle)
