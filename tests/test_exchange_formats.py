"""Formats other fact-checkers use: MediaReview JSON-LD out and back in, ThreatExchange lines in."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from checks.errors import InvalidInput
from checks.report import analyse
from checks.signals import Fingerprint
from checks.verdicts import Verdict
from storage import open_storage
from storage.base import KnownItem, KnownItemDraft
from storage.exchange import (
    ExportWriter,
    ImportFormat,
    ImportOptions,
    ManifestRow,
    detect_format,
    draft_from_row,
    export_row,
    read_records,
)
from storage.exchange.jsonld import GRAPH_HEADER, read_media_reviews
from storage.exchange.mediareview import media_review
from storage.exchange.pytx import read_pytx
from tests.storage_backends import fresh_schema
from tests.test_cli import make_picture

runner = CliRunner()
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_B = "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064"
PDQ_C = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
#: Titles and notes a newsroom might write: scripts, emoji, quotes, and characters some
#: readers take for line ends.
UNICODE_TITLE = 'Кадр «с места» — 사진 📷 "quoted" صورة\u2028next'
UNICODE_NOTE = "Aufnahme von 2019,\nnicht von gestern.\r\nTab\there. 中文"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())


def item(draft: KnownItemDraft, number: int = 1) -> KnownItem:
    return KnownItem(id=number, draft=draft, created_at=NOW, updated_at=NOW)


def drafts_for_round_trip() -> list[KnownItemDraft]:
    """Every verdict, and items with every mix of hashes and fields."""
    drafts = [
        KnownItemDraft(
            fingerprint=Fingerprint(
                sha256=f"{n:02x}" * 32,
                pdq=f"{n:02x}{PDQ_A[2:]}",
                pdq_quality=80 + n,
                phash=f"{n:02x}ff00ff00ff00ff",
            ),
            verdict=verdict,
            title=f"{UNICODE_TITLE} {verdict.value}",
            note=UNICODE_NOTE,
            fact_check_url="https://example.org/fact-checks/1?lang=ar&x=«y»",
            original_date="2019-12-11",
            original_place="Kyiv, Україна",
            source="AFP Fact Check",
        )
        for n, verdict in enumerate(Verdict, start=10)
    ]
    drafts += [
        KnownItemDraft(fingerprint=Fingerprint(pdq=PDQ_B, pdq_quality=0), verdict=Verdict.STAGED),
        KnownItemDraft(fingerprint=Fingerprint(pdq=PDQ_C), verdict=Verdict.INCONCLUSIVE),
        KnownItemDraft(
            fingerprint=Fingerprint(phash="0123456789abcdef"),
            verdict=Verdict.SATIRE,
            title="only a pHash",
        ),
        KnownItemDraft(
            fingerprint=Fingerprint(sha256="cd" * 32),
            verdict=Verdict.INCONCLUSIVE,
            original_date="around 2015",
        ),
    ]
    return drafts


def read_back(text: str) -> list[KnownItemDraft]:
    rows = list(read_media_reviews(io.StringIO(text, newline="")))
    errors = [row.message for row in rows if isinstance(row, InvalidInput)]
    assert not errors, errors
    return [
        draft_from_row(row.values, Path(), analyse_refused)
        for row in rows
        if isinstance(row, ManifestRow)
    ]


def analyse_refused(data: bytes) -> Fingerprint:
    raise AssertionError("a MediaReview never names a file to read")


def export_text(items: list[KnownItem], author: str | None = None) -> str:
    out = io.StringIO(newline="")
    writer = ExportWriter("mediareview", out, author=author)
    for entry in items:
        writer.write(entry)
    writer.close()
    return out.getvalue()


def content(draft: KnownItemDraft) -> dict[str, object]:
    return export_row(item(draft))


# -- MediaReview, the format itself -------------------------------------------------------------


def test_every_field_of_every_verdict_round_trips() -> None:
    drafts = drafts_for_round_trip()
    text = export_text([item(d, n) for n, d in enumerate(drafts, start=1)])
    assert text.splitlines()[0] == GRAPH_HEADER
    json.loads(text)  # one JSON-LD document
    assert [content(d) for d in read_back(text)] == [content(d) for d in drafts]


def test_the_document_says_each_field_in_schema_org_terms() -> None:
    draft = drafts_for_round_trip()[1]  # misattributed, every field
    review = media_review(item(draft), author="Example Newsroom")
    assert review["@type"] == "MediaReview"
    assert review["mediaAuthenticityCategory"] == "DecontextualizedContent"
    assert review["reviewRating"] == {"@type": "Rating", "alternateName": "misattributed"}
    assert review["name"] == draft.title
    assert review["url"] == draft.fact_check_url
    assert review["originalMediaContextDescription"] == draft.note
    assert review["citation"] == "AFP Fact Check"
    assert review["author"] == {"@type": "Organization", "name": "Example Newsroom"}
    reviewed = review["itemReviewed"]
    assert reviewed["@type"] == "MediaReviewItem"
    assert reviewed["dateCreated"] == "2019-12-11"
    assert reviewed["contentLocation"] == {"@type": "Place", "name": "Kyiv, Україна"}
    (picture,) = reviewed["mediaItemAppearance"]
    fp = draft.fingerprint
    assert picture["@type"] == "ImageObject" and picture["sha256"] == fp.sha256
    pdq, phash = picture["identifier"]
    assert (pdq["propertyID"], pdq["value"]) == ("pdq", fp.pdq)
    assert pdq["valueReference"]["value"] == fp.pdq_quality
    assert (phash["propertyID"], phash["value"]) == ("phash", fp.phash)


def test_inconclusive_has_no_category_and_says_so_in_its_rating() -> None:
    draft = KnownItemDraft(fingerprint=Fingerprint(pdq=PDQ_A), verdict=Verdict.INCONCLUSIVE)
    review = media_review(item(draft))
    assert "mediaAuthenticityCategory" not in review
    assert review["reviewRating"]["alternateName"] == "inconclusive"
    assert "author" not in review, "no newsroom name given: no author"


def test_a_review_from_another_tool_reads_with_its_category_alone() -> None:
    """Another tool's textual rating ("Missing context") is not ours: the category decides."""
    review = {
        "@context": "https://schema.org",
        "@type": "MediaReview",
        "mediaAuthenticityCategory": "https://schema.org/TransformedContent",
        "reviewRating": {"@type": "Rating", "alternateName": "Altered by AI"},
        "author": {"@type": "Organization", "name": "Other Desk"},
        "itemReviewed": {
            "@type": "MediaReviewItem",
            "mediaItemAppearance": {"@type": "ImageObject", "sha256": "EF" * 32},
        },
    }
    (draft,) = read_back(json.dumps(review))
    assert draft.verdict is Verdict.SYNTHETIC
    assert draft.fingerprint.sha256 == "ef" * 32


def test_a_review_never_makes_the_import_read_a_file() -> None:
    """A manifest row's ``image`` is read from disk; a review's picture never is, whatever
    names it carries (a document from elsewhere could point at any local file)."""
    review = media_review(item(KnownItemDraft(Fingerprint(pdq=PDQ_A), Verdict.STAGED)))
    review["image"] = "/etc/passwd"
    picture = review["itemReviewed"]["mediaItemAppearance"][0]
    picture.update(contentUrl="file:///etc/passwd", image="../secret.jpg")
    (draft,) = read_back(json.dumps(review))  # analyse_refused fails the test on any read
    assert draft.fingerprint == Fingerprint(pdq=PDQ_A)


def test_category_and_rating_that_disagree_are_refused() -> None:
    review = media_review(item(KnownItemDraft(Fingerprint(pdq=PDQ_A), Verdict.AUTHENTIC)))
    review["reviewRating"]["alternateName"] = "satire"
    (row,) = read_media_reviews(io.StringIO(json.dumps(review)))
    assert isinstance(row, InvalidInput)
    assert "line 1" in row.message and "disagree" in row.message


# -- MediaReview through the command line -------------------------------------------------------


def write_manifest(path: Path, drafts: list[KnownItemDraft]) -> Path:
    lines = [
        json.dumps({k: v for k, v in content(d).items() if v not in (None, "")}) for d in drafts
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases of one backend: SQLite files, or throwaway PostgreSQL schemas
    (made and dropped on a loop of their own, as the command line runs its own)."""
    if request.param == "sqlite":
        yield str(tmp_path / "a.db"), str(tmp_path / "b.db")
        return
    server = request.getfixturevalue("postgres_url")
    loop = asyncio.new_event_loop()
    schemas = [fresh_schema(server), fresh_schema(server)]
    try:
        urls = [loop.run_until_complete(schema.__aenter__()) for schema in schemas]
        yield urls[0], urls[1]
    finally:
        for schema in schemas:
            loop.run_until_complete(schema.__aexit__(None, None, None))
        loop.close()


def test_export_then_import_through_the_cli_is_unchanged(
    tmp_path: Path, two_databases: tuple[str, str]
) -> None:
    first_db, second_db = two_databases
    manifest = write_manifest(tmp_path / "in.jsonl", drafts_for_round_trip())
    assert run("import", "--db", first_db, str(manifest))[0] == 0
    reviews = tmp_path / "known.jsonld"
    code, _, err = run("export", "--db", first_db, "--format", "mediareview", "-o", str(reviews))
    assert code == 0 and "exported 11" in err

    code, _, err = run("import", "--db", second_db, str(reviews))
    assert code == 0, err
    assert "11 created" in err
    before = run("export", "--db", first_db, "--format", "jsonl")[1]
    after = run("export", "--db", second_db, "--format", "jsonl")[1]
    assert before == after and before.count("\n") == 11
    # Idempotent, like any import.
    code, _, err = run("import", "--db", second_db, str(reviews))
    assert code == 0 and "11 unchanged" in err


def test_bad_reviews_are_named_by_line_and_the_rest_import(tmp_path: Path) -> None:
    good = [
        media_review(item(KnownItemDraft(Fingerprint(pdq=p), Verdict.EDITED)))
        for p in (PDQ_A, PDQ_B)
    ]
    no_hashes = json.loads(json.dumps(good[0]))
    no_hashes["itemReviewed"]["mediaItemAppearance"] = [{"@type": "ImageObject"}]
    video = json.loads(json.dumps(good[0]))
    video["itemReviewed"]["mediaItemAppearance"] = [{"@type": "VideoObject", "sha256": "a" * 64}]
    unknown_category = {**good[0], "mediaAuthenticityCategory": "FakeContent"}
    bad_pdq = json.loads(json.dumps(good[0]))
    bad_pdq["itemReviewed"]["mediaItemAppearance"][0]["identifier"][0]["value"] = "xyz"
    not_a_review = {"@type": "ClaimReview", "claimReviewed": "something"}
    lines = [
        GRAPH_HEADER,
        json.dumps(good[0]) + ",",
        '{"@type": "MediaReview", "name": "cut off',
        json.dumps(no_hashes) + ",",
        json.dumps(video) + ",",
        json.dumps(unknown_category) + ",",
        json.dumps(bad_pdq) + ",",
        json.dumps(not_a_review) + ",",
        json.dumps(good[1]),
        "]}",
    ]
    path = tmp_path / "reviews.jsonld"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(path))
    text = one_line(err)
    assert code == 2
    assert "line 3: not valid JSON" in text
    assert "line 4: no ImageObject with a sha256, pdq or phash" in text
    assert "line 5: no ImageObject with a sha256, pdq or phash (VideoObject are not pictures)" in (
        text
    )
    assert "line 6: unknown mediaAuthenticityCategory 'FakeContent'" in text
    assert "line 7: pdq hash must be 64 hexadecimal characters" in text
    assert "line 8: no MediaReview in it (found ClaimReview)" in text
    assert "2 created, 0 updated, 0 unchanged, 6 failed" in text


def test_a_line_that_is_not_utf8_is_refused_by_number(tmp_path: Path) -> None:
    review = media_review(item(KnownItemDraft(Fingerprint(pdq=PDQ_A), Verdict.EDITED)))
    body = (GRAPH_HEADER + "\n" + json.dumps(review) + ",\n").encode()
    body += b'{"@type": "MediaReview", "name": "\xff"}\n]}\n'
    path = tmp_path / "reviews.jsonld"
    path.write_bytes(body)
    code, _, err = run("import", "--db", str(tmp_path / "k.db"), str(path))
    assert code == 2
    assert "line 3: not UTF-8 text (byte 0xff)" in one_line(err)
    assert "1 created" in err


DOCUMENT_REVIEW = {
    "@type": "MediaReview",
    "mediaAuthenticityCategory": "StagedContent",
    "name": "Staged rescue",
    "itemReviewed": {
        "@type": "MediaReviewItem",
        "mediaItemAppearance": [
            {"@type": "ImageObject", "sha256": "12" * 32},
            {"@type": "VideoObject", "contentUrl": "https://example.org/v.mp4"},
            {
                "@type": "ImageObject",
                "identifier": [
                    "ISBN-like text",
                    {"@type": "PropertyValue", "propertyID": "PDQ", "value": PDQ_C.upper()},
                ],
            },
        ],
    },
}


@pytest.mark.parametrize(
    "document",
    [
        {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, DOCUMENT_REVIEW]},
        {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "itemListElement": [{"@type": "ListItem", "position": 1, "item": DOCUMENT_REVIEW}],
        },
        {
            "@context": "http://schema.org",
            "@type": "DataFeed",
            "dataFeedElement": [{"@type": "DataFeedItem", "item": [DOCUMENT_REVIEW]}],
        },
        [{"@context": "https://schema.org", **DOCUMENT_REVIEW}],
    ],
    ids=["graph", "item-list", "data-feed", "array"],
)
def test_documents_other_tools_write_are_read(tmp_path: Path, document: object) -> None:
    """Pretty-printed, wrapped as other tools wrap reviews; each pictured appearance of a
    review is an item, a video is passed over."""
    path = tmp_path / "page.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    assert detect_format(path) is ImportFormat.MEDIAREVIEW
    rows = list(read_records(path, ImportOptions()))
    assert all(isinstance(r, ManifestRow) for r in rows)
    assert [(r.where, r.values.get("sha256"), r.values.get("pdq")) for r in rows] == [
        ("review 1", "12" * 32, None),
        ("review 1", None, PDQ_C.upper()),
    ]
    assert {r.values["verdict"] for r in rows} == {"staged"}


def test_a_review_in_a_document_is_named_by_its_place(tmp_path: Path) -> None:
    broken = {**DOCUMENT_REVIEW, "mediaAuthenticityCategory": None, "name": 12}
    path = tmp_path / "page.jsonld"
    document = {"@context": "https://schema.org", "@graph": [DOCUMENT_REVIEW, broken]}
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(path))
    assert code == 2
    assert "review 2: no verdict" in one_line(err)
    assert "2 created" in err


def test_a_document_that_cannot_be_read_stops_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "page.jsonld"
    path.write_text('{\n  "@context": "https://schema.org",\n  "@graph": [\n  }\n', "utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(path))
    assert code == 1
    assert "line 4: not a JSON document" in one_line(err)
    claims = tmp_path / "claims.jsonld"
    claims.write_text(json.dumps({"@context": "https://schema.org", "@type": "ClaimReview"}))
    code, _, err = run("import", "--db", db, str(claims))
    assert code == 2
    assert "line 1: no MediaReview in it (found ClaimReview)" in one_line(err)
    assert asyncio.run(count_items(db)) == 0


async def count_items(db: str) -> int:
    async with await open_storage(db) as storage:
        return await storage.count_known_items()


def test_json_lines_of_reviews_read_line_by_line(tmp_path: Path) -> None:
    reviews = [
        {"@context": "https://schema.org", **media_review(item(KnownItemDraft(fp, Verdict.SATIRE)))}
        for fp in (Fingerprint(pdq=PDQ_A), Fingerprint(phash="fedcba9876543210"))
    ]
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in reviews) + "\n\n{oops\n", encoding="utf-8")
    assert detect_format(path) is ImportFormat.MEDIAREVIEW
    code, _, err = run("import", "--db", str(tmp_path / "k.db"), str(path))
    assert code == 2
    assert "line 4: not valid JSON" in one_line(err)
    assert "2 created" in err
    # A broken first line is one bad line too, not a broken document.
    path.write_text('{"@type": "MediaReview", "na}\n' + json.dumps(reviews[0]) + "\n", "utf-8")
    code, _, err = run("import", "--db", str(tmp_path / "k.db"), str(path))
    assert code == 2
    assert "line 1: not valid JSON" in one_line(err) and "1 unchanged" in err


# -- ThreatExchange / HMA file-exchange lines ---------------------------------------------------

BANK = f"""# exported from an HMA bank
pdq {PDQ_A}

'Sample Data' pdq {PDQ_B} FetchedSignalMetadata()
PDQ {PDQ_C.upper()}
video_md5 cab08b36195edb1a1231d2d09fa450e0
url https://example.org/x
pdq 1234
{PDQ_A}
photo_dna abc
just-one-word
"""


def test_pdq_lines_import_and_other_signals_are_refused_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.txt"
    path.write_text(BANK, encoding="utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(path), "--verdict", "Synthetic")
    text = one_line(err)
    assert code == 2, err
    assert "line 6: signal type video_md5 is not a picture's PDQ" in text
    assert "line 7: signal type url is not a picture's PDQ" in text
    assert "line 8: pdq hash must be 64 hexadecimal characters, got '1234'" in text
    assert f"line 9: a hash without its signal type; write it as 'pdq {PDQ_A}'" in text
    assert "line 10: unknown signal type 'photo_dna'" in text
    assert "line 11: expected '<signal type> <hash>'" in text
    assert "3 created, 0 updated, 0 unchanged, 6 failed" in text

    rows = [json.loads(line) for line in run("export", "--db", db)[1].splitlines()]
    assert [(r["pdq"], r["verdict"], r["source"]) for r in rows] == [
        (PDQ_A, "synthetic", None),
        (PDQ_B, "synthetic", "Sample Data"),
        (PDQ_C, "synthetic", None),
    ]
    assert all(r["pdq_quality"] is None and r["sha256"] is None for r in rows)
    code, _, err = run("import", "--db", db, str(path), "--verdict", "synthetic")
    assert "3 unchanged" in err


def test_a_given_source_names_every_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.te"
    path.write_text(f"'Sample Data' pdq {PDQ_B}\npdq {PDQ_A}\n", encoding="utf-8")
    db = str(tmp_path / "k.db")
    assert detect_format(path) is ImportFormat.PYTX
    args = ("--verdict", "edited", "--source", "GIFCT bank")
    assert run("import", "--db", db, str(path), *args)[0] == 0
    rows = [json.loads(line) for line in run("export", "--db", db)[1].splitlines()]
    assert {r["source"] for r in rows} == {"GIFCT bank"}


def test_without_a_verdict_nothing_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "bank.txt"
    path.write_text(f"pdq {PDQ_A}\n", encoding="utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(path))
    assert code == 1
    assert "carry no verdict" in one_line(err) and "--verdict" in err
    assert asyncio.run(count_items(db)) == 0
    code, _, err = run("import", "--db", db, str(path), "--verdict", "fake")
    assert code == 1 and "unknown verdict 'fake'" in one_line(err)


def test_a_verdict_for_a_file_that_carries_its_own_is_refused(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "in.jsonl", drafts_for_round_trip()[:1])
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, str(manifest), "--verdict", "authentic")
    assert code == 1
    assert "--verdict and --source are for ThreatExchange signal lines only" in one_line(err)
    assert asyncio.run(count_items(db)) == 0


def test_the_dataset_csv_form_imports_and_negative_opinions_do_not(tmp_path: Path) -> None:
    path = tmp_path / "collab.csv"
    path.write_text(
        "collab,signal_type,signal_str,category,tags\n"
        f"Sample Data,pdq,{PDQ_A},POSITIVE_CLASS,media_type_photo\n"
        f"Sample Data,pdq,{PDQ_B},NEGATIVE_CLASS,\n"
        "Sample Data,video_md5,cab08b36195edb1a1231d2d09fa450e0,POSITIVE_CLASS,\n",
        encoding="utf-8",
    )
    assert detect_format(path) is ImportFormat.PYTX
    rows = list(read_records(path, ImportOptions(verdict=Verdict.EDITED)))
    assert isinstance(rows[0], ManifestRow)
    assert rows[0].values == {"pdq": PDQ_A, "verdict": "edited", "source": "Sample Data"}
    assert isinstance(rows[1], InvalidInput) and "line 3" in rows[1].message
    assert "NEGATIVE_CLASS" in rows[1].message
    assert isinstance(rows[2], InvalidInput) and "line 4: signal type video_md5" in rows[2].message


def test_an_imported_bank_hash_recognises_the_picture(tmp_path: Path) -> None:
    """A hash from an HMA bank (no quality: banks share only hashes that passed the gate)
    makes a picture known, in ThreatExchange's bit order."""
    picture = make_picture(tmp_path / "p.jpg", 3)
    pdq = analyse(picture.read_bytes()).fingerprint.pdq
    path = tmp_path / "bank.txt"
    path.write_text(f"pdq {pdq}\n", encoding="utf-8")
    db = str(tmp_path / "k.db")
    assert run("import", "--db", db, str(path), "--verdict", "misattributed")[0] == 0
    code, out, _ = run("check", "--json", "--db", db, str(picture))
    record = json.loads(out)
    assert code == 0
    assert record["verdict"] == "misattributed" and record["confidence"] == "certain"


def test_a_bank_import_is_not_published_but_imported_fact_checks_are(tmp_path: Path) -> None:
    """A hash bank is shared under its collaboration's terms: publishing imported items
    (the default for public fact-checks) leaves its hashes out of the feed."""
    bank = tmp_path / "bank.txt"
    bank.write_text(f"pdq {PDQ_A}\n", encoding="utf-8")
    manifest = tmp_path / "fact-checks.jsonl"
    manifest.write_text(json.dumps({"pdq": "f" * 64, "verdict": "staged"}) + "\n")
    db = str(tmp_path / "k.db")
    assert run("import", "--db", db, str(bank), "--verdict", "misattributed")[0] == 0
    assert run("import", "--db", db, str(manifest))[0] == 0

    async def published() -> list[str]:
        storage = await open_storage(db)
        try:
            await storage.publish_imported()
            return [row.fingerprint.pdq or "" for row in await storage.feed_page(0, 10)]
        finally:
            await storage.close()

    assert asyncio.run(published()) == ["f" * 64]


def test_pytx_reader_alone() -> None:
    rows = list(read_pytx(io.StringIO(f"\n# c\n  pdq   {PDQ_A}  # trailing\n"), Verdict.STAGED))
    assert rows == [ManifestRow(3, {"pdq": PDQ_A, "verdict": "staged"})]


# -- telling formats apart ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.csv", "image,verdict\nx.jpg,authentic\n", ImportFormat.MANIFEST),
        ("a.jsonl", '{"pdq": "00", "verdict": "edited"}\n', ImportFormat.MANIFEST),
        ("a.json", '{"pdq": broken\n', ImportFormat.MANIFEST),
        ("a.jsonld", "anything\n", ImportFormat.MEDIAREVIEW),
        ("a.jsonl", GRAPH_HEADER + "\n]}\n", ImportFormat.MEDIAREVIEW),
        ("a.txt", f"\n\npdq {PDQ_A}\n", ImportFormat.PYTX),
        ("a.txt", "# only a comment\n", ImportFormat.PYTX),
        ("a.csv", "pdq,verdict\n" + PDQ_A + ",edited\n", ImportFormat.MANIFEST),
    ],
)
def test_formats_are_told_apart(
    tmp_path: Path, name: str, text: str, expected: ImportFormat
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) is expected


def test_a_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "hashes.csv"
    path.write_text(f"pdq {PDQ_A}\n", encoding="utf-8")
    db = str(tmp_path / "k.db")
    code, _, err = run("import", "--db", db, "--format", "manifest", str(path))
    assert code == 1 and "unknown column" in err
    code, _, err = run("import", "--db", db, "--format", "pytx", "--verdict", "edited", str(path))
    assert code == 0 and "1 created" in err


@pytest.mark.parametrize("name", ["reviews.jsonld", "manifest.jsonl"])
def test_json_nested_too_deeply_is_one_bad_line(tmp_path: Path, name: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    if name.endswith(".jsonld"):
        review = media_review(item(KnownItemDraft(Fingerprint(pdq=PDQ_A), Verdict.EDITED)))
        lines = [GRAPH_HEADER, json.dumps(review) + ",", deep, "]}"]
    else:
        lines = [json.dumps({"pdq": PDQ_A, "verdict": "edited"}), deep]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run("import", "--db", str(tmp_path / "k.db"), str(path))
    assert code == 2
    assert "JSON nested too deeply" in err and "1 created" in err


def test_the_newsroom_name_is_every_review_s_author(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "k.db")
    manifest = write_manifest(tmp_path / "in.jsonl", drafts_for_round_trip()[:3])
    assert run("import", "--db", db, str(manifest))[0] == 0
    monkeypatch.setenv("TIPLINE_NEWSROOM_NAME", "")  # set empty: a .env file cannot fill it
    _, plain, _ = run("export", "--db", db, "--format", "mediareview")
    assert all("author" not in r for r in json.loads(plain)["@graph"])

    monkeypatch.setenv("TIPLINE_NEWSROOM_NAME", "  Desk «Ukraine»  ")
    code, signed, _ = run("export", "--db", db, "--format", "mediareview")
    reviews = json.loads(signed)["@graph"]
    assert code == 0 and len(reviews) == 3
    assert {json.dumps(r["author"], ensure_ascii=False) for r in reviews} == {
        '{"@type": "Organization", "name": "Desk «Ukraine»"}'
    }
    path = tmp_path / "signed.jsonld"
    path.write_text(signed, encoding="utf-8")
    other = str(tmp_path / "other.db")
    assert run("import", "--db", other, str(path))[0] == 0
    assert run("export", "--db", other)[1] == run("export", "--db", db)[1]
