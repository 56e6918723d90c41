"""Files of MediaReviews: the ``@graph`` document an export writes, and the reviews in any
JSON-LD file another tool wrote.

An export is one JSON-LD document, ``{"@context": "https://schema.org", "@graph": [...]}``, with
one review a line between its first and last lines, so it is written and read back as a stream
(a million items never sit in memory) and a bad review is named by its line. Reading also takes
JSON Lines of documents, and any other document (a MediaReview, a list, ``@graph``, an
``ItemList``, a ``DataFeed``; pretty-printed), parsed whole, its reviews named by position.
What one review says is :mod:`~storage.exchange.mediareview`'s.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any, TextIO

from checks.errors import InvalidInput
from storage.base import KnownItem
from storage.exchange.manifest import ManifestRow, not_utf8
from storage.exchange.mediareview import media_review, review_rows, types_of

__all__ = [
    "GRAPH_FOOTER",
    "GRAPH_HEADER",
    "MAX_DOCUMENT_CHARS",
    "MediaReviewWriter",
    "count_media_reviews",
    "read_media_reviews",
]

#: The first and last lines of an export; between them, one review a line.
GRAPH_HEADER = '{"@context": "https://schema.org", "@graph": ['
GRAPH_FOOTER = "]}"
#: A whole document (not one review a line) is parsed at once: past this many characters
#: (as many bytes or more), it is refused.
MAX_DOCUMENT_CHARS = 256 * 1024 * 1024


class MediaReviewWriter:
    """Writes the ``@graph`` document a review at a time; :meth:`close` ends the document."""

    def __init__(self, out: TextIO, author: str | None = None) -> None:
        self._out = out
        self._author = author
        self.count = 0
        out.write(GRAPH_HEADER)

    def write(self, item: KnownItem) -> None:
        # The separator goes before a review, so the last one needs no look-ahead.
        line = json.dumps(media_review(item, self._author), ensure_ascii=False)
        self._out.write(("\n" if self.count == 0 else ",\n") + line)
        self.count += 1

    def close(self) -> None:
        self._out.write("\n" + GRAPH_FOOTER + "\n")


def read_media_reviews(handle: TextIO) -> Iterator[ManifestRow | InvalidInput]:
    """Each review's hashes as manifest rows (one per pictured appearance), or what is wrong.

    Our own export and JSON Lines are read a line at a time, errors named by line; any
    other document is parsed whole and its reviews named by their place in it.
    """
    lines = enumerate(handle, start=1)
    first = next(((n, text) for n, text in lines if text.strip()), None)
    if first is None:
        return
    if first[1].strip() == GRAPH_HEADER:
        yield from _read_lines(lines, graph=True)
    elif _one_per_line(first[1]):
        yield from _read_line(*first)
        yield from _read_lines(lines, graph=False)
    else:
        yield from _read_document(first, lines)


def count_media_reviews(handle: TextIO) -> int | None:
    """How many reviews a line-per-review file holds (a progress bar's total), or ``None``
    for a document that would have to be parsed to be counted."""
    lines = (text.strip() for text in handle)
    first = next((text for text in lines if text), None)
    if first is None:
        return 0
    if first == GRAPH_HEADER:
        return sum(1 for text in lines if text not in ("", GRAPH_FOOTER))
    if _one_per_line(first):
        return 1 + sum(1 for text in lines if text)
    return None


def _one_per_line(first: str) -> bool:
    """Whether a file is JSON Lines, from its first line: JSON on its own, or one object whose
    JSON is broken (a document spread over lines starts with a bare bracket or a header)."""
    text = first.strip()
    if len(text) > 2 and text.startswith("{") and text.endswith("}"):
        return True
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    except RecursionError:
        return True  # JSON, nested too deeply: the line's reader says so
    return True


def _parse(text: str) -> tuple[object, list[dict[str, Any]]]:
    """The JSON value and the reviews in it; ``RecursionError`` for one nested too deeply."""
    document = json.loads(text)
    return document, list(_reviews(document))


def _read_lines(
    lines: Iterator[tuple[int, str]], *, graph: bool
) -> Iterator[ManifestRow | InvalidInput]:
    """One review (or document) a line; in our ``@graph`` layout, less its comma."""
    for number, line in lines:
        text = line.strip()
        if not text or (graph and text == GRAPH_FOOTER):
            continue
        yield from _read_line(number, text.removesuffix(",") if graph else text)


def _read_line(number: int, text: str) -> Iterator[ManifestRow | InvalidInput]:
    where = f"line {number}"
    if (error := not_utf8(number, text)) is not None:
        yield error
        return
    try:
        document, reviews = _parse(text)
    except json.JSONDecodeError as exc:
        yield InvalidInput(f"{where}: not valid JSON ({exc.msg})")
        return
    except RecursionError:
        yield InvalidInput(f"{where}: JSON nested too deeply")
        return
    if not reviews:
        yield InvalidInput(f"{where}: no MediaReview in it{_found(document)}")
        return
    for index, review in enumerate(reviews, start=1):
        label = where if len(reviews) == 1 else f"{where}, review {index}"
        yield from review_rows(number, label, review)


def _read_document(
    first: tuple[int, str], lines: Iterator[tuple[int, str]]
) -> Iterator[ManifestRow | InvalidInput]:
    """A document that is not one review a line: parsed whole, reviews named by position.

    Nothing of it can be read if any of it cannot, so its faults stop the import at once.
    """
    start, size, parts = first[0], 0, []
    for number, text in itertools.chain([first], lines):
        if (error := not_utf8(number, text)) is not None:
            raise error
        size += len(text)
        if size > MAX_DOCUMENT_CHARS:
            raise InvalidInput(
                f"a JSON-LD document over {MAX_DOCUMENT_CHARS // 2**20} MB; "
                "write one review a line (as an export does)"
            )
        parts.append(text)
    try:
        document, reviews = _parse("".join(parts))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"line {start + exc.lineno - 1}: not a JSON document ({exc.msg})"
        ) from None
    except RecursionError:
        raise InvalidInput("the JSON document is nested too deeply") from None
    if not reviews:
        raise InvalidInput(f"no MediaReview in the document{_found(document)}")
    for index, review in enumerate(reviews, start=1):
        yield from review_rows(start, f"review {index}", review)


def _reviews(node: object) -> Iterator[dict[str, Any]]:
    """The MediaReviews in a document: itself, or inside a list, ``@graph``, an ``ItemList``
    (``itemListElement``) or a ``DataFeed`` (``dataFeedElement``), each item bare or wrapped
    in a ``ListItem`` / ``DataFeedItem``. Other nodes (a page's ``Organization``) are passed."""
    if isinstance(node, list):
        for child in node:
            yield from _reviews(child)
        return
    if not isinstance(node, dict):
        return
    if "MediaReview" in types_of(node):
        yield node
        return
    for key in ("@graph", "itemListElement", "dataFeedElement", "item"):
        if key in node:
            yield from _reviews(node[key])


def _found(document: object) -> str:
    found = sorted(types_of(document)) if isinstance(document, dict) else []
    return f" (found {', '.join(found)})" if found else ""
