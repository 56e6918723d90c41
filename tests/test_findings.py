"""Findings: each rule fires where it should, and stays quiet on the rest of the corpus."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from checks.findings import Finding, FindingCode, Severity, derive_findings
from checks.metadata import (
    ContentCredentials,
    ExifFields,
    Metadata,
    XmpFields,
    extract_metadata,
)
from handlers.finding_text import finding_text
from handlers.i18n import texts_for

#: Thumbnails checked by eye: the camera's preview is the mirror image of the picture, or shows
#: a wider scene than the picture (cropped after shooting). Everything else must stay quiet.
MISMATCHED_THUMBNAILS = {
    "phones-and-editors/Panasonic_DMC-LC70_Lumix_.jpg",  # mirrored
    "photos/Panasonic_DMC-LC70_Lumix_.jpg",  # the same file, mirrored
    "exif-samples/odd-exif/35-empty.jpg",  # cropped to the car
    "photos/Pentax_ist_D.jpg",  # cropped into the text
    "photos/Traveler_SX330Z.jpg",  # cropped to the flowers
    "photos/Nikon_E5000.jpg",  # cropped to the cine camera on the box
}
FIXED_NOW = datetime(2025, 6, 1, tzinfo=UTC)
PIPELINE_DRAFT, PIPELINE_MAX_SIDE = 256, 512


def _picture(data: bytes) -> Image.Image:
    """What the pipeline hands over: drafted to >= 256 px (1/8 scale for a camera JPEG), upright,
    RGB, at most 512 px on the long side (as checks.decode does)."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (PIPELINE_DRAFT, PIPELINE_DRAFT))
    picture = ImageOps.exif_transpose(image).convert("RGB")
    picture.thumbnail((PIPELINE_MAX_SIDE, PIPELINE_MAX_SIDE), Image.Resampling.BILINEAR)
    return picture


def _findings(path: Path, pdq_quality: int | None = 90) -> list[Finding]:
    data = path.read_bytes()
    metadata = extract_metadata(Image.open(io.BytesIO(data)), data)
    return derive_findings(
        metadata, _picture(data), pdq_quality=pdq_quality, file_size=len(data), now=FIXED_NOW
    )


def _codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def said(finding: Finding) -> str:
    """The finding as ``tipline check`` prints it (English, plain)."""
    return finding_text(finding, texts_for("en", html=False))


def _one(findings: list[Finding], code: FindingCode) -> Finding:
    [finding] = [f for f in findings if f.code == code]
    return finding


def _metadata(**exif: str | None) -> Metadata:
    return Metadata(mime_type="image/jpeg", width=4000, height=3000, exif=ExifFields(**exif))


def _synthetic_jpeg(width: int, height: int, quality: int = 87) -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    gradient.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# --- thumbnails ------------------------------------------------------------------------------


def test_mirrored_thumbnail_is_flagged(images: Path) -> None:
    findings = _findings(images / "phones-and-editors" / "Panasonic_DMC-LC70_Lumix_.jpg")
    finding = _one(findings, FindingCode.THUMBNAIL_MISMATCH)
    assert finding.severity is Severity.WARNING
    assert "mirror image" in said(finding)


def test_thumbnail_mismatch_fires_only_on_the_checked_files(images: Path) -> None:
    fired, compared = set(), 0
    for path in sorted(p for p in images.rglob("*") if p.is_file()):
        data = path.read_bytes()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                metadata = extract_metadata(Image.open(io.BytesIO(data)), data)
                if metadata.thumbnail is None:
                    continue
                picture = _picture(data)
        except Exception:  # files the decoder refuses never reach the findings
            continue
        compared += 1
        findings = derive_findings(metadata, picture, pdq_quality=90, file_size=len(data))
        if FindingCode.THUMBNAIL_MISMATCH in _codes(findings):
            fired.add(str(path.relative_to(images)))
    assert compared > 155
    assert fired == MISMATCHED_THUMBNAILS


# --- location, identity, editing ---------------------------------------------------------------


def test_gps_present_on_every_gps_sample(images: Path) -> None:
    for path in sorted((images / "exif-samples" / "gps").glob("*.jpg")):
        finding = _one(_findings(path), FindingCode.GPS_PRESENT)
        assert finding.severity is Severity.WARNING
        assert "° N" in said(finding) and "° E" in said(finding), path.name


def test_gps_message_uses_south_and_west(images: Path) -> None:
    message = said(
        _one(
            _findings(images / "exif-samples" / "hdr" / "iphone_hdr_YES.jpg"),
            FindingCode.GPS_PRESENT,
        )
    )
    assert "40.44697° N, 3.72475° W" in message


def test_no_gps_finding_for_a_zero_fix(images: Path) -> None:
    findings = _findings(images / "phones-and-editors" / "Samsung_GT-I9000_Galaxy_S_.jpg")
    assert FindingCode.GPS_PRESENT not in _codes(findings)


@pytest.mark.parametrize(
    "relative",
    [
        "phones-and-editors/Photoshop_3_.jpg",
        "phones-and-editors/Canon_EOS-1D_Mark_III_via_Adobe_Lightroom_.jpg",
        "phones-and-editors/Apple_iPhone_6_plus.jpg",  # iOS "8.1", but Camera Raw in history
        "exif-samples/xmp/BlueSquare.jpg",
    ],
)
def test_edited_with_software_on_editor_files(images: Path, relative: str) -> None:
    finding = _one(_findings(images / relative), FindingCode.EDITED_WITH_SOFTWARE)
    assert finding.severity is Severity.NOTICE


@pytest.mark.parametrize(
    "relative",
    [
        "phones-and-editors/Apple_iPhone_4S.jpg",
        "photos/Apple_iPhone_4.jpg",
        "exif-samples/hdr/iphone_hdr_NO.jpg",
        "heic/iphone_13_pro_max.HEIC",
        "heic/IMG_5195.HEIC",
    ],
)
def test_plain_iphone_originals_are_not_edited(images: Path, relative: str) -> None:
    assert FindingCode.EDITED_WITH_SOFTWARE not in _codes(_findings(images / relative))


def test_serial_number_and_author_are_flagged_for_source_safety(images: Path) -> None:
    serial = _one(_findings(images / "c2pa" / "A.jpg"), FindingCode.SERIAL_NUMBER_PRESENT)
    assert "062062059949" in said(serial)
    author = _one(
        _findings(images / "phones-and-editors" / "Photoshop_3_.jpg"), FindingCode.AUTHOR_NAMED
    )
    # IPTC's 32-byte cut of the name and XMP's full name are one person, named once.
    assert "(Test author string for metadata-extractor)" in said(author)


# --- no metadata and platform fingerprints ----------------------------------------------------


def test_no_metadata_on_a_telegram_sized_jpeg_names_the_platform() -> None:
    data = _synthetic_jpeg(1280, 853)
    metadata = extract_metadata(Image.open(io.BytesIO(data)), data)
    findings = derive_findings(metadata, _picture(data), pdq_quality=90, file_size=len(data))
    finding = _one(findings, FindingCode.NO_METADATA)
    assert finding.severity is Severity.NOTICE
    assert "Telegram" in said(finding)
    assert "quality 87" in said(finding)


@pytest.mark.parametrize(("width", "height"), [(1000, 750), (853, 1280)])
def test_no_metadata_without_a_platform_guess(width: int, height: int) -> None:
    # 1000 px is no platform's cap; a portrait 1280 px long side is Telegram again.
    data = _synthetic_jpeg(width, height)
    metadata = extract_metadata(Image.open(io.BytesIO(data)), data)
    finding = _one(
        derive_findings(metadata, _picture(data), pdq_quality=90, file_size=len(data)),
        FindingCode.NO_METADATA,
    )
    assert ("Telegram" in said(finding)) == (max(width, height) == 1280)


def test_camera_tables_or_metadata_prevent_a_platform_guess(images: Path) -> None:
    for path in sorted((images / "photos").glob("*.jpg")):
        for finding in _findings(path):
            assert "re-sent through" not in said(finding), path.name


def test_no_metadata_is_quiet_when_metadata_exists(images: Path) -> None:
    assert FindingCode.NO_METADATA not in _codes(
        _findings(images / "exif-samples/gps/DSCN0010.jpg")
    )


# --- hash quality, dates, C2PA, declared AI ---------------------------------------------------


def test_low_hash_quality_below_the_pdq_gate(images: Path) -> None:
    path = images / "exif-samples" / "gps" / "DSCN0010.jpg"
    low = _one(_findings(path, pdq_quality=20), FindingCode.LOW_HASH_QUALITY)
    assert "20" in said(low)
    assert FindingCode.LOW_HASH_QUALITY not in _codes(_findings(path, pdq_quality=50))
    assert FindingCode.LOW_HASH_QUALITY not in _codes(_findings(path, pdq_quality=None))


@pytest.mark.parametrize(
    ("exif", "reason"),
    [
        (
            {"datetime_original": "2020:05:01 12:00:00", "modify_date": "2019:01:01 10:00:00"},
            "after it was last modified",
        ),
        ({"datetime_original": "2031:01:01 00:00:00"}, "in the future"),
        (
            {"datetime_original": "1999:07:01 10:00:00", "create_date": "2012:03:04 10:00:00"},
            "digitised",
        ),
    ],
)
def test_dates_inconsistent_rules(exif: dict[str, str], reason: str) -> None:
    picture = Image.new("RGB", (64, 48))
    findings = derive_findings(
        _metadata(**exif), picture, pdq_quality=90, file_size=1000, now=FIXED_NOW
    )
    assert reason in said(_one(findings, FindingCode.DATES_INCONSISTENT))


def test_dates_with_offsets_are_compared_in_utc() -> None:
    # 10:00 at +02:00 is 08:00 UTC, before the 09:30 UTC modification: consistent.
    metadata = _metadata(
        datetime_original="2020:05:01 10:00:00",
        offset_time_original="+02:00",
        modify_date="2020:05:01 09:30:00",
        offset_time="+00:00",
        create_date="2020:05:01 10:00:00",
    )
    findings = derive_findings(
        metadata, Image.new("RGB", (64, 48)), pdq_quality=90, file_size=1, now=FIXED_NOW
    )
    assert FindingCode.DATES_INCONSISTENT not in _codes(findings)


def test_ordinary_camera_dates_are_consistent(images: Path) -> None:
    for path in sorted((images / "exif-samples" / "gps").glob("*.jpg")):
        assert FindingCode.DATES_INCONSISTENT not in _codes(_findings(path)), path.name


@pytest.mark.parametrize(
    ("name", "code", "severity", "words"),
    [
        ("C.jpg", FindingCode.C2PA_VALID, Severity.NOTICE, "not on a trust list"),
        ("XCA.jpg", FindingCode.C2PA_INVALID, Severity.WARNING, "assertion.dataHash.mismatch"),
        ("E-sig-CA.jpg", FindingCode.C2PA_INVALID, Severity.WARNING, "claimSignature.mismatch"),
        ("cloud.jpg", FindingCode.C2PA_REMOTE, Severity.NOTICE, "were not fetched"),
    ],
)
def test_c2pa_findings(
    images: Path, name: str, code: FindingCode, severity: Severity, words: str
) -> None:
    finding = _one(_findings(images / "c2pa" / name), code)
    assert finding.severity is severity
    assert words in said(finding)


def test_no_c2pa_finding_without_credentials(images: Path) -> None:
    codes = _codes(_findings(images / "c2pa" / "A.jpg"))
    assert not codes & {FindingCode.C2PA_VALID, FindingCode.C2PA_INVALID, FindingCode.C2PA_REMOTE}


def test_declared_generative_ai() -> None:
    source = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    metadata = Metadata(
        mime_type="image/png",
        width=512,
        height=512,
        xmp=XmpFields(present=True, digital_source_type=source),
        c2pa=ContentCredentials(),
    )
    findings = derive_findings(metadata, Image.new("RGB", (64, 64)), pdq_quality=90, file_size=1)
    assert "trainedAlgorithmicMedia" in said(_one(findings, FindingCode.AI_GENERATED_DECLARED))


def test_findings_are_most_serious_first_and_serialise(images: Path) -> None:
    findings = _findings(images / "phones-and-editors" / "Apple_iPhone_6_plus.jpg")
    order = [f.severity for f in findings]
    rank = {Severity.WARNING: 0, Severity.NOTICE: 1, Severity.INFO: 2}
    assert order == sorted(order, key=rank.__getitem__)
    assert findings[0].as_dict() == {
        "code": findings[0].code,
        "severity": findings[0].severity.value,
        "params": dict(findings[0].params),
    }
    assert Finding.from_dict(findings[0].as_dict()) == findings[0]
    assert all(isinstance(f.as_dict()["code"], str) for f in findings)
