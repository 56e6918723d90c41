"""schema.org MediaReview, the format other fact-checkers publish: one known item as a review,
and a review (ours or another tool's) back as manifest rows.

How reviews sit in a file (an export's ``@graph`` document, others' documents) is
:mod:`~storage.exchange.jsonld`'s.

Where each field goes (as the README's "Formats other fact-checkers use" says):

- ``verdict``: ``mediaAuthenticityCategory``, and always ``reviewRating.alternateName`` (the
  textual rating, as ClaimReview carries it). ``inconclusive`` has no MediaReview category, so
  its review has none and the textual rating alone says it; schema.org's ``Review`` has no
  ``additionalProperty`` to carry it instead.
- ``title``: ``name``; ``note``: ``originalMediaContextDescription``; ``fact_check_url``:
  ``url`` (the review's own page: ``originalMediaLink`` would claim it is the original
  picture); ``source``: ``citation``; the newsroom's name, when given: ``author``.
- ``original_date`` and ``original_place``: ``itemReviewed`` (a ``MediaReviewItem``)
  ``dateCreated`` and ``contentLocation`` (a ``Place`` by ``name``).
- hashes: ``itemReviewed.mediaItemAppearance``, an ``ImageObject`` with ``sha256`` and
  ``identifier`` ``PropertyValue`` entries ``pdq`` (its quality, 0-100, in ``valueReference``,
  a ``QuantitativeValue`` named ``quality``) and ``phash``.

No claim is recorded with a known item, so no ``ClaimReview`` is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checks.errors import InvalidInput
from checks.verdicts import Verdict
from storage.base import KnownItem
from storage.exchange.manifest import ManifestRow

__all__ = ["media_review", "review_rows", "types_of"]

_BY_CATEGORY = {v.media_review_rating: v for v in Verdict if v.media_review_rating}
_SCHEMA_PREFIXES = ("https://schema.org/", "http://schema.org/", "schema:")
_PICTURES = frozenset({"ImageObject", "MediaObject"})


def media_review(item: KnownItem, author: str | None = None) -> dict[str, Any]:
    """One known item as a MediaReview JSON-LD object (without ``@context``)."""
    draft, fp = item.draft, item.fingerprint
    identifiers: list[dict[str, Any]] = []
    if fp.pdq:
        pdq: dict[str, Any] = {"@type": "PropertyValue", "propertyID": "pdq", "value": fp.pdq}
        if fp.pdq_quality is not None:
            pdq["valueReference"] = {
                "@type": "QuantitativeValue",
                "name": "quality",
                "value": fp.pdq_quality,
                "minValue": 0,
                "maxValue": 100,
            }
        identifiers.append(pdq)
    if fp.phash:
        identifiers.append({"@type": "PropertyValue", "propertyID": "phash", "value": fp.phash})
    picture: dict[str, Any] = {"@type": "ImageObject"}
    if fp.sha256:
        picture["sha256"] = fp.sha256
    if identifiers:
        picture["identifier"] = identifiers
    reviewed: dict[str, Any] = {"@type": "MediaReviewItem"}
    if draft.original_date:
        reviewed["dateCreated"] = draft.original_date
    if draft.original_place:
        reviewed["contentLocation"] = {"@type": "Place", "name": draft.original_place}
    reviewed["mediaItemAppearance"] = [picture]
    review: dict[str, Any] = {"@type": "MediaReview"}
    if draft.title:
        review["name"] = draft.title
    if draft.fact_check_url:
        review["url"] = draft.fact_check_url
    if category := draft.verdict.media_review_rating:
        review["mediaAuthenticityCategory"] = category
    review["reviewRating"] = {"@type": "Rating", "alternateName": draft.verdict.value}
    if draft.note:
        review["originalMediaContextDescription"] = draft.note
    if draft.source:
        review["citation"] = draft.source
    if author:
        review["author"] = {"@type": "Organization", "name": author}
    review["dateCreated"] = item.created_at.isoformat()
    review["dateModified"] = item.updated_at.isoformat()
    review["itemReviewed"] = reviewed
    return review


def types_of(node: dict[str, Any]) -> set[str]:
    """A node's ``@type`` names, less any schema.org prefix."""
    raw = node.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    return {_schema_name(n) for n in names if isinstance(n, str)}


def _schema_name(value: str) -> str:
    for prefix in _SCHEMA_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def review_rows(
    line: int, label: str, review: dict[str, Any]
) -> Iterator[ManifestRow | InvalidInput]:
    """A review's manifest rows, one per pictured appearance, or what is wrong with it."""
    try:
        common = _review_values(review)
        pictures = _pictures(review)
    except InvalidInput as exc:
        yield InvalidInput(f"{label}: {exc.message}")
        return
    for hashes in pictures:
        yield ManifestRow(line, {**common, **hashes}, label=label)


def _review_values(review: dict[str, Any]) -> dict[str, str]:
    """The manifest values a review carries besides its hashes."""
    values = {"verdict": _verdict(review).value}
    for key, prop in (
        ("title", "name"),
        ("note", "originalMediaContextDescription"),
        ("fact_check_url", "url"),
        ("source", "citation"),
    ):
        if (text := _text(review, prop)) is not None:
            values[key] = text
    reviewed = review.get("itemReviewed")
    if reviewed is not None and not isinstance(reviewed, dict):
        raise InvalidInput("itemReviewed must be a MediaReviewItem object")
    if reviewed:
        if (date := _text(reviewed, "dateCreated")) is not None:
            values["original_date"] = date
        if (place := _place(reviewed.get("contentLocation"))) is not None:
            values["original_place"] = place
    return values


def _text(node: dict[str, Any], prop: str) -> str | None:
    value = node.get(prop)
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("@value"), str):
        value = value["@value"]
    if not isinstance(value, str):
        raise InvalidInput(f"{prop} must be text, got {type(value).__name__}")
    return value


def _place(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value, "name")
    raise InvalidInput(f"contentLocation must be a Place or text, got {type(value).__name__}")


def _verdict(review: dict[str, Any]) -> Verdict:
    """The verdict from the category and the textual rating, which must agree if both say."""
    raw = review.get("mediaAuthenticityCategory")
    if isinstance(raw, dict):
        raw = raw.get("@id")
    category = None
    if raw is not None:
        if not isinstance(raw, str) or _schema_name(raw.strip()) not in _BY_CATEGORY:
            known = ", ".join(_BY_CATEGORY)
            raise InvalidInput(f"unknown mediaAuthenticityCategory {raw!r}; use one of: {known}")
        category = _BY_CATEGORY[_schema_name(raw.strip())]
    rating = review.get("reviewRating")
    named = rating.get("alternateName") if isinstance(rating, dict) else None
    textual = _textual_verdict(named)
    if category is not None and textual is not None and category is not textual:
        raise InvalidInput(f"mediaAuthenticityCategory {raw!r} and reviewRating {named!r} disagree")
    if category is not None:
        return category
    if textual is not None:
        return textual
    raise InvalidInput(
        "no verdict: give a mediaAuthenticityCategory, or reviewRating.alternateName 'inconclusive'"
    )


def _textual_verdict(named: object) -> Verdict | None:
    """A textual rating that is one of our verdicts; another tool's wording says nothing."""
    if not isinstance(named, str):
        return None
    try:
        return Verdict.parse(named)
    except InvalidInput:
        return None


def _pictures(review: dict[str, Any]) -> list[dict[str, str]]:
    """The hashes of each pictured appearance (at least one), as manifest values."""
    reviewed = review.get("itemReviewed") or {}
    appearances = reviewed.get("mediaItemAppearance")
    if isinstance(appearances, dict):
        appearances = [appearances]
    if not isinstance(appearances, list) or not appearances:
        raise InvalidInput("itemReviewed has no mediaItemAppearance")
    found: list[dict[str, str]] = []
    other: set[str] = set()
    for appearance in appearances:
        if not isinstance(appearance, dict):
            raise InvalidInput("a mediaItemAppearance must be an object")
        kinds = types_of(appearance)
        if kinds and not kinds & _PICTURES:
            other |= kinds
            continue
        if hashes := _hashes(appearance):
            found.append(hashes)
    if not found:
        what = f" ({', '.join(sorted(other))} are not pictures)" if other else ""
        raise InvalidInput(f"no ImageObject with a sha256, pdq or phash{what}")
    return found


def _hashes(picture: dict[str, Any]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    if (sha256 := _text(picture, "sha256")) is not None:
        hashes["sha256"] = sha256
    identifiers = picture.get("identifier") or []
    for entry in identifiers if isinstance(identifiers, list) else [identifiers]:
        if not isinstance(entry, dict):
            continue  # a plain-text identifier names the picture some other way
        kind = entry.get("propertyID")
        if not isinstance(kind, str) or kind.strip().lower() not in ("pdq", "phash"):
            continue
        kind = kind.strip().lower()
        value = entry.get("value")
        if not isinstance(value, str):
            raise InvalidInput(f"the {kind} identifier's value must be hexadecimal text")
        if kind in hashes:
            raise InvalidInput(f"one ImageObject with two {kind} identifiers")
        hashes[kind] = value
        if kind == "pdq" and (quality := _quality(entry.get("valueReference"))) is not None:
            hashes["pdq_quality"] = quality
    return hashes


def _quality(reference: object) -> str | None:
    """A PDQ quality from ``valueReference`` (checked as a manifest's ``pdq_quality`` is)."""
    if not isinstance(reference, dict) or reference.get("name") != "quality":
        return None
    value = reference.get("value")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"the pdq quality must be a whole number, got {value!r}")
    return str(value)
