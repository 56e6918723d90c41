"""Every language is complete, faithful to the source's placeholders and tags, valid Telegram
HTML, and no card in any language can outgrow Telegram's limits."""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from checks.assessment import Assessment
from checks.findings import Finding, FindingCode, Severity
from checks.matching import Match, MatchKind
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from handlers.cards import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    PictureView,
    Provenance,
    review_caption,
    review_card,
    tipster_card,
    verdict_notice,
)
from handlers.finding_text import PLATFORM_NAMES, finding_text
from handlers.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALE_DIR,
    catalogue_path,
    resolve_language,
    texts_for,
)
from handlers.status import help_text, privacy_text
from tests.fakebotapi import parse_html
from tests.fakebotapi.markup import utf16_len

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [code for code in LANGUAGES if code != DEFAULT_LANGUAGE]
_TAG = re.compile(r"</?\w+(?:\s+\w+=)?")


def _in_code() -> dict[object, Message]:
    """Every message the code marks for translation, keyed as a catalogue keys it."""
    catalogue = Catalog()
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    for folder in ("handlers", "bot"):
        for _name, _line, message, _comments, context in extract_from_dir(
            ROOT / folder, keywords=keywords
        ):
            catalogue.add(message, context=context)
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue if m.id}


def _catalogue(code: str) -> Catalog:
    with catalogue_path(code).open("rb") as handle:
        return read_po(handle, locale=code)


def _forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _tags(text: str) -> Counter[str]:
    return Counter(_TAG.findall(text))


def _sample(text: str) -> str:
    """The message with every placeholder filled, as HTML Telegram must accept."""
    return text.format_map({name: "x" for name in _fields(text)})


def test_the_template_is_what_the_code_says() -> None:
    with (LOCALE_DIR / "tipline.pot").open("rb") as handle:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert template == set(_in_code()), "run the extract command in the README's Languages"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated(code: str) -> None:
    catalogue = _catalogue(code)
    expected = _in_code()
    found = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue if m.id}
    assert set(expected) - set(found) == set(), f"{code}: messages missing"
    assert set(found) - set(expected) == set(), f"{code}: messages no longer used"
    for key, message in found.items():
        assert not message.fuzzy, f"{code}: fuzzy {key!r}"
        assert all(form.strip() for form in _forms(message)), f"{code}: untranslated {key!r}"
        assert isinstance(message.id, str) == isinstance(expected[key].id, str), key


@pytest.mark.parametrize("code", TRANSLATED)
def test_plural_forms_are_the_languages_own(code: str) -> None:
    catalogue = _catalogue(code)
    assert catalogue.plural_forms == get_plural(code).plural_forms
    for message in catalogue:
        if message.id and message.pluralizable:
            assert len(message.string) == catalogue.num_plurals, message.id


@pytest.mark.parametrize("code", TRANSLATED)
def test_placeholders_and_tags_are_the_sources(code: str) -> None:
    for message in _catalogue(code):
        if not message.id:
            continue
        sources = [message.id] if isinstance(message.id, str) else list(message.id)
        for form in _forms(message):
            if isinstance(message.id, str):
                assert _fields(form) == _fields(message.id), (code, message.id, form)
            else:
                # A form may leave out the count ("one picture"), never any other value.
                allowed = _fields(sources[0]) | _fields(sources[1])
                assert _fields(sources[1]) - {"n"} <= _fields(form) <= allowed, (code, form)
            assert _tags(form) == _tags(sources[-1]), (code, message.id, form)
            parse_html(_sample(form))  # raises on anything Telegram would refuse


@pytest.mark.parametrize("code", [c for c in TRANSLATED if LANGUAGES[c].rtl])
def test_right_to_left_lines_begin_in_their_own_script(code: str) -> None:
    """A line's first strong letter sets its direction in Telegram: a line opening with a
    command (which gets a left-to-right mark) would turn left to right. (A placeholder may
    open one: its value is words of the same language, or isolated, which does not count.)"""
    for message in _catalogue(code):
        for form in _forms(message) if message.id else ():
            for line in form.split("\n"):
                bare = re.sub(r"</?\w+[^>]*>", "", line).lstrip("•… ")
                assert not bare.startswith("/"), (code, line)


def test_languages_know_their_direction_and_telegram_code() -> None:
    for code, language in LANGUAGES.items():
        assert language.rtl == (Locale.parse(code).character_order == "right-to-left")
        assert re.fullmatch(r"[a-z]{2}", language.telegram), code
        assert code == DEFAULT_LANGUAGE or catalogue_path(code).is_file()


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ko", "ko"),
        ("ko-KR", "ko"),
        ("zh-hans", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("pt-br", "ru"),  # Portuguese is not spoken yet: the newsroom's language
        ("xx", "ru"),
        ("", "ru"),
        (None, "ru"),
        ("AR", "ar"),
        ("fa-IR", "fa"),
        ("uk", "uk"),
    ],
)
def test_telegram_languages_resolve_with_fallbacks(tag: str | None, expected: str) -> None:
    assert resolve_language(tag, default="ru") == expected


# -- the longest cards ----------------------------------------------------------------------

#: Long text with astral characters (two UTF-16 units each) and bidi overrides.
LONG = ("\u202e🛰️ Очень длинный заголовок 北朝鲜 عنوان طويل جداً " * 40)[:1500]
URL = "https://example.org/" + "a" * 500 + "?q=1&r=<2>"


def _every_finding() -> tuple[Finding, ...]:
    """Each finding, with the longest parameters its rule can give."""
    names = [LONG[:200]] * 3
    params: dict[str, dict[str, object]] = {
        FindingCode.GPS_PRESENT: {"latitude": -89.123456, "longitude": -179.123456},
        FindingCode.SERIAL_NUMBER_PRESENT: {"serial": LONG[:300]},
        FindingCode.AUTHOR_NAMED: {"names": names},
        FindingCode.EDITED_WITH_SOFTWARE: {"software": names},
        FindingCode.THUMBNAIL_MISMATCH: {"thumbnail": "mirrored"},
        FindingCode.DATES_INCONSISTENT: {
            "reasons": ["taken_after_modified", "future", "digitised_apart"],
            "taken": "2031:01:01 00:00:00",
            "modified": "2019:01:01 10:00:00",
            "future": "2031:01:01 00:00:00",
            "original": "1999:07:01 10:00:00",
            "digitised": "2012:03:04 10:00:00",
        },
        FindingCode.NO_METADATA: {
            "platform": "facebook_signal_x",
            "long_side": 2048,
            "quality": 100,
        },
        FindingCode.AI_GENERATED_DECLARED: {"source_type": "compositeWithTrainedAlgorithmicMedia"},
        FindingCode.C2PA_VALID: {"trusted": False, "generator": LONG[:200], "signer": LONG[:200]},
        FindingCode.C2PA_INVALID: {
            "failures": [
                "assertion.dataHash.mismatch",
                "claimSignature.mismatch",
                "signingCredential.revoked",
                "signingCredential.expired",
            ]
        },
        FindingCode.C2PA_REMOTE: {"url": URL},
        FindingCode.LOW_HASH_QUALITY: {"quality": 49},
        FindingCode.METADATA_DAMAGED: {"problems": 123},
    }
    assert set(params) == set(FindingCode)
    return tuple(Finding(code, Severity.WARNING, p) for code, p in params.items())


#: Kinds whose known picture fills only part of the submitted one.
_PARTS = {MatchKind.FRAMED, MatchKind.CAPTIONED, MatchKind.SCREENSHOT}


def _match(kind: MatchKind) -> Match:
    return Match(
        item_id=123456789,
        verdict=Verdict.MISATTRIBUTED,
        title=LONG,
        kind=kind,
        signal="pdq",
        distance=31,
        fact_check_url=URL,
        original_date=LONG[:100],
        original_place=LONG,
        region=(0.001, 0.125, 0.999, 1.0) if kind in _PARTS else None,
    )


def _longest_album() -> list[PictureView]:
    assessment = Assessment(
        fingerprint=Fingerprint(sha256="ab" * 32, pdq="cd" * 32, pdq_quality=100),
        format="JPEG",
        mime_type="image/jpeg",
        width=40000,
        height=40000,
        file_size=20_000_000,
        metadata={"make": LONG[:300], "model": LONG[:300]},
        findings=_every_finding(),
        # Part-picture matches first: the review card shows three, each with where it sits.
        matches=tuple(_match(kind) for kind in sorted(MatchKind, key=lambda k: k not in _PARTS)),
    )
    pictures = [PictureView(i, assessment) for i in range(1, 10)]
    return [*pictures, PictureView(10, error={"code": "link_timeout", "message": LONG})]


def _fits(html: str, limit: int) -> None:
    text, _ = parse_html(html)
    assert utf16_len(text) <= limit
    assert "\u202e" not in text  # no stranger's override reaches the reader


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_the_longest_cards_fit_in_every_language(code: str) -> None:
    t = texts_for(code)
    album = _longest_album()
    card = tipster_card("K7QM-2XTD", album, t=t)
    _fits(card, MESSAGE_LIMIT)
    assert "K7QM-2XTD" in parse_html(card)[0]  # the ticket survives the cut
    provenance = Provenance("channel", title=LONG, username="u" * 32, date="2026-01-01T00:00")
    review = review_card(
        "K7QM-2XTD",
        album,
        t=t,
        tipster_language="ar",
        provenance=provenance,
        claimed_by="mod·abcdef",
        note=LONG,
        status=f"{SubmissionStatus.REVIEWED.value}: {Verdict.MISATTRIBUTED.value}",
    )
    _fits(review, MESSAGE_LIMIT)
    _fits(review_caption("K7QM-2XTD", album, t=t), CAPTION_LIMIT)
    _fits(verdict_notice("K7QM-2XTD", Verdict.SYNTHETIC, URL, LONG * 3, t=t), MESSAGE_LIMIT)
    _fits(help_text(t), MESSAGE_LIMIT)
    _fits(privacy_text(t, 3650), MESSAGE_LIMIT)


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_every_finding_has_words_in_every_language(code: str) -> None:
    t = texts_for(code)
    for finding in _every_finding():
        text = finding_text(finding, t)
        assert text != finding.code and text.strip(), (code, finding.code)
    for platform in PLATFORM_NAMES:
        finding = Finding(FindingCode.NO_METADATA, Severity.NOTICE, {"platform": platform})
        assert finding_text(finding, t) != FindingCode.NO_METADATA


def test_rtl_cards_isolate_codes_and_strangers_text() -> None:
    t = texts_for("ar")
    picture = _longest_album()[0]
    card = tipster_card("K7QM-2XTD", [picture], t=t)
    assert "\u2066<code>K7QM-2XTD</code>\u2069" in card
    assert "\u2066/status K7QM-2XTD\u2069" in card
    assert "\u2068" in card  # the known item's title, isolated
    english = tipster_card("K7QM-2XTD", [picture])
    assert "\u2066" not in english and "<code>K7QM-2XTD</code>" in english
    assert "\u2068" in english  # strangers' text is isolated in every language


def test_stored_findings_without_parameters_keep_their_sentence() -> None:
    old = {"code": "GPS_PRESENT", "severity": "warning", "message": "The file reveals where."}
    finding = Finding.from_dict(old)
    assert finding.legacy_message == "The file reveals where."
    assert "The file reveals where." in finding_text(finding, texts_for("ko"))
    assert Finding.from_dict(finding.as_dict()) == finding
