"""Writing known items out (manifest or MediaReview JSON-LD), so an export imports back
unchanged."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from checks.errors import InvalidInput
from storage.base import KnownItem
from storage.exchange.jsonld import MediaReviewWriter
from storage.exchange.manifest import EXPORT_FIELDS
from storage.rows import known_item_content

__all__ = ["EXPORT_FORMATS", "ExportWriter", "export_row"]

#: The manifest as JSON Lines or CSV, or schema.org MediaReview JSON-LD.
EXPORT_FORMATS = ("jsonl", "csv", "mediareview")


def export_row(item: KnownItem) -> dict[str, str | int | None]:
    return dict(zip(EXPORT_FIELDS, known_item_content(item.draft), strict=True))


class ExportWriter:
    """Writes export rows one at a time, so a million items never sit in memory at once.

    :meth:`close` finishes the file (a JSON-LD document's closing brackets). ``author``, the
    newsroom's name, is written as each MediaReview's author; the manifest has no place for it.
    """

    def __init__(self, fmt: str, out: TextIO, author: str | None = None) -> None:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(
                f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
            )
        self._out = out
        self._csv: csv.DictWriter[str] | None = None
        self._reviews = MediaReviewWriter(out, author) if fmt == "mediareview" else None
        if fmt == "csv":
            self._csv = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            self._csv.writeheader()
        self.count = 0

    def close(self) -> None:
        if self._reviews is not None:
            self._reviews.close()

    def write(self, item: KnownItem) -> None:
        if self._reviews is not None:
            self._reviews.write(item)
            self.count += 1
            return
        row = export_row(item)
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        else:
            self._out.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1
