"""Cards are valid Telegram HTML whatever users typed, and fit Telegram's limits."""

from __future__ import annotations

import dataclasses

import pytest

from checks.assessment import Assessment, tip_status
from checks.findings import Finding, Severity
from checks.matching import Match, MatchKind
from checks.signals import Fingerprint
from checks.verdicts import SubmissionStatus, Verdict
from handlers.callbacks import claim_data, parse_review_action, verdict_data
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
from handlers.i18n import texts_for
from tests.fakebotapi import parse_html

EVIL = '<script>alert("x")</script> & <b>bold</b> <a href="javascript:x">'


def match(
    kind: MatchKind = MatchKind.NEAR,
    verdict: Verdict = Verdict.MISATTRIBUTED,
    signal: str = "pdq",
    region: tuple[float, float, float, float] | None = None,
) -> Match:
    return Match(
        item_id=7,
        verdict=verdict,
        title=EVIL,
        kind=kind,
        signal=signal,
        distance=12,
        fact_check_url='https://example.org/fc?a=1&b="2"',
        original_date="2011-03-11",
        original_place=EVIL,
        region=region,
    )


def assessed(
    position: int,
    *,
    findings: tuple[Finding, ...] = (),
    matches: tuple[Match, ...] = (),
    camera: str = "",
) -> PictureView:
    """A picture as the cards get it, with the user-controlled parts given."""
    assessment = Assessment(
        fingerprint=Fingerprint(sha256="ab" * 32, pdq="cd" * 32, pdq_quality=100),
        format="JPEG",
        mime_type="image/jpeg",
        width=800,
        height=600,
        file_size=12345,
        metadata={"make": camera} if camera else {},
        findings=findings,
        matches=matches,
    )
    return PictureView(position, assessment)


def test_user_text_is_escaped_everywhere() -> None:
    author = Finding("AUTHOR_NAMED", Severity.WARNING, {"names": [EVIL]})
    old = Finding("GPS_PRESENT", Severity.WARNING, legacy_message="Stored before params: " + EVIL)
    picture = assessed(1, findings=(author, old), matches=(match(),), camera=EVIL)
    provenance = Provenance("channel", title=EVIL, username="chan", date="2026-11-20")
    with_user_text = (
        tipster_card("K7QM-2XTD", [picture]),
        review_card("K7QM-2XTD", [picture], provenance=provenance, note=EVIL, claimed_by=EVIL),
        verdict_notice("K7QM-2XTD", Verdict.EDITED, "https://x.org/?a=1&b=2", EVIL),
    )
    for html in with_user_text:
        text, _ = parse_html(html)  # raises on anything Telegram would refuse
        assert "<script>" in text  # shown to the reader as text, not parsed as a tag
    parse_html(review_caption("K7QM-2XTD", [picture]))


def test_headlines() -> None:
    def card(*matches: Match) -> str:
        return tipster_card("K7QM-2XTD", [assessed(1, matches=matches)])

    assert "Known and debunked" in card(match())
    assert "Known and verified" in card(match(verdict=Verdict.AUTHENTIC))
    assert "Known item:" in card(match())
    assert "Known and debunked" in card(match(MatchKind.MIRRORED))  # hashed from its pixels
    weaker = match(signal="phash")
    assert "Similar to a picture we know" in card(weaker)
    assert "Known" not in card(weaker)  # never "known" for a match a person must confirm
    assert "New" in card()


def test_a_certain_match_heads_an_album_with_a_similar_one() -> None:
    album = [assessed(1, matches=(match(signal="phash"),)), assessed(2, matches=(match(),))]
    assert "Known and debunked" in tipster_card("K7QM-2XTD", album)


def test_a_framed_match_says_where_the_known_picture_sits() -> None:
    framed = match(MatchKind.FRAMED, region=(0.1666, 0.155, 0.8334, 0.8449))
    picture = assessed(1, matches=(framed,))
    text, _ = parse_html(review_card("K7QM-2XTD", [picture]))
    assert "the known picture inside borders" in text
    assert "the known picture is the part across 17–83%, down 16–84%" in text
    spanish, _ = parse_html(review_card("K7QM-2XTD", [picture], t=texts_for("es")))
    assert "del 17 al 83 % a lo ancho y del 16 al 84 % a lo alto" in spanish
    # A whole-picture match has no part to point at.
    whole, _ = parse_html(review_card("K7QM-2XTD", [assessed(1, matches=(match(),))]))
    assert "Where:" not in whole


def test_the_tipster_reads_how_a_framed_copy_was_recognised() -> None:
    card = tipster_card("K7QM-2XTD", [assessed(1, matches=(match(MatchKind.FRAMED),))])
    assert "How we recognised it:</b> the known picture inside borders" in card


def test_a_partners_verdict_names_the_partner_and_only_a_trusted_one_says_known() -> None:
    trusted = dataclasses.replace(match(), newsroom="Partner <News>")
    card = tipster_card("K7QM-2XTD", [assessed(1, matches=(trusted,))])
    assert "Known and debunked" in card
    # The partner's name is a stranger's text: escaped and isolated for bidi.
    assert "According to:</b> \u2068Partner &lt;News&gt;\u2069, a partner newsroom" in card
    careful = dataclasses.replace(trusted, trusted=False)
    card = tipster_card("K7QM-2XTD", [assessed(1, matches=(careful,))])
    assert "Known and debunked" not in card
    assert "Similar to a picture we know" in card


def test_a_disputed_picture_names_each_side_and_is_never_called_known() -> None:
    ours = match(verdict=Verdict.AUTHENTIC)
    theirs = dataclasses.replace(match(verdict=Verdict.STAGED), item_id=8, newsroom="Partner")
    picture = assessed(1, matches=(ours, theirs))
    card = tipster_card("K7QM-2XTD", [picture])
    assert "Newsrooms disagree about this picture" in card
    assert "Known and verified" not in card and "Known and debunked" not in card
    text, _ = parse_html(card)
    assert "• this newsroom: verified as authentic" in text
    assert "• \u2068Partner\u2069: staged" in text
    review, _ = parse_html(review_card("K7QM-2XTD", [picture]))
    assert "Newsrooms disagree:" in review and "Partner" in review
    assert tip_status([picture.assessment]) is SubmissionStatus.NEW
    # A partner trusted only for review does not dispute on a tipster's card.
    careful = dataclasses.replace(theirs, trusted=False)
    card = tipster_card("K7QM-2XTD", [assessed(1, matches=(ours, careful))])
    assert "Known and verified" in card and "disagree" not in card


def test_gps_warning_comes_first() -> None:
    findings = (
        Finding("EDITED_WITH_SOFTWARE", Severity.NOTICE, {"software": ["Photoshop"]}),
        Finding("GPS_PRESENT", Severity.WARNING, {"latitude": 39.9, "longitude": 125.7}),
    )
    card = tipster_card("K7QM-2XTD", [assessed(1, findings=findings)])
    assert card.index("reveals where") < card.index("Photoshop")


def test_long_albums_fit_and_keep_the_ticket() -> None:
    wordy = ["finding " + "word " * 40 + str(i) for i in range(30)]
    findings = tuple(Finding("X", Severity.INFO, legacy_message=text) for text in wordy)
    pictures = [assessed(i, findings=findings, matches=(match(),)) for i in range(1, 11)]
    card = tipster_card("K7QM-2XTD", pictures)
    text, _ = parse_html(card)
    assert len(text) <= MESSAGE_LIMIT and "K7QM-2XTD" in text and "more lines" in text
    review = review_card("K7QM-2XTD", pictures)
    assert len(parse_html(review)[0]) <= MESSAGE_LIMIT
    assert len(parse_html(review_caption("K7QM-2XTD", pictures))[0]) <= CAPTION_LIMIT


@pytest.mark.parametrize(
    "data",
    [
        "",
        "rv:",
        "rv:a",
        "rv:a:",
        "rv:z:5",
        "rv:a:-1",
        "rv:a:0",
        "cl:x",
        "cl:",
        "xx:1",
        "rv:a:1:2",
        "cl:" + "9" * 70,
    ],
)
def test_forged_callback_data_is_refused(data: str) -> None:
    assert parse_review_action(data) is None


def test_callback_data_round_trips_and_fits() -> None:
    for verdict in Verdict:
        data = verdict_data(123456789, verdict)
        assert len(data.encode()) <= 64
        action = parse_review_action(data)
        assert (
            action is not None and action.verdict is verdict and action.submission_id == 123456789
        )
    claim = parse_review_action(claim_data(5))
    assert claim is not None and claim.verdict is None
