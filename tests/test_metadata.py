"""Metadata extraction: agreement with the ExifTool oracle, the known traps, and damaged files."""

from __future__ import annotations

import importlib.util
import io
import json
import struct
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image, ImageCms, TiffImagePlugin

from checks.metadata import Metadata, extract_metadata
from checks.metadata.icc import profile_description
from checks.metadata.iptc import decode_iim_text, parse_iim
from checks.metadata.jpeg_tables import estimate_quality, reference_thresholds
from checks.metadata.makernote import makernote_serial
from checks.metadata.values import as_float, as_int, as_text

ROOT = Path(__file__).resolve().parent.parent
SLOW_FILE_SECONDS = 2.0
_RDF = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Image.open(io.BytesIO(data))


def _extract(path: Path) -> Metadata:
    data = path.read_bytes()
    return extract_metadata(_open(data), data)


def _jpeg(**save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 200)).save(buffer, "JPEG", **save)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def oracle(shared_data: Path) -> dict[str, dict[str, Any]]:
    return json.loads((shared_data / "expected-exiftool.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The agreement bench itself, so the test and the published figure are one computation."""
    spec = importlib.util.spec_from_file_location(
        "metadata_agreement", ROOT / "bench" / "metadata_agreement.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- agreement with ExifTool ---------------------------------------------------------------


def test_agrees_with_exiftool_on_at_least_98_percent_of_pairs(
    bench: ModuleType, shared_data: Path
) -> None:
    report = bench.agreement(shared_data)
    assert report["errors"] == []
    assert report["pairs"] > 1000
    assert report["ratio"] >= 0.98, report["disagreements"]
    # Even without the two documented normalisations the extractor clears the bar.
    assert report["raw_ratio_without_normalisation"] >= 0.98


@pytest.mark.parametrize("field", ["mime_type", "width", "height", "orientation", "create_date"])
def test_secondary_fields_match_the_oracle_exactly(
    images: Path, oracle: dict[str, dict[str, Any]], field: str
) -> None:
    wrong = {}
    for relative, expected in oracle.items():
        ours = _extract(images.parent / relative).to_oracle_dict()
        if expected.get(field) != ours.get(field):
            wrong[relative] = (expected.get(field), ours.get(field))
    assert wrong == {}


def _exif_with_southern_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[271], exif[272], exif[305] = "Nikon", "D850", "Adobe Photoshop 25.0"
    exif[0x8825] = {1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0)}
    return exif


@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "WEBP", "JPEG"])
def test_every_container_format_is_read(fmt: str) -> None:
    exif = _exif_with_southern_gps()
    save: dict[str, Any] = {"exif": exif}
    if fmt == "TIFF":  # TIFF keeps its tags in the file's own IFD, plus XMP and IPTC tags
        tags = TiffImagePlugin.ImageFileDirectory_v2()
        for tag, value in exif.items():
            tags[tag] = value
        tags[700] = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="%s">' % _RDF + (
            b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="GIMP"/>'
            b"</rdf:RDF></x:xmpmeta>"
        )
        tags[33723] = b"\x1c\x02\x78\x00\x06Sydney"
        tags.tagtype[700], tags.tagtype[33723] = 1, 7
        save = {"tiffinfo": tags}
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, fmt, **save)
    data = buffer.getvalue()
    metadata = extract_metadata(_open(data), data)
    assert metadata.problems == ()
    assert (metadata.exif.make, metadata.exif.model) == ("Nikon", "D850")
    assert metadata.exif.gps is not None
    assert metadata.exif.gps.latitude == pytest.approx(-(33 + 51 / 60 + 54 / 3600))
    assert metadata.mime_type == f"image/{fmt.lower()}"
    if fmt == "TIFF":
        assert metadata.xmp.creator_tool == "GIMP"
        assert metadata.iptc.caption == "Sydney"


# --- the known traps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "lat_sign", "lon_sign"),
    [
        ("exif-samples/cameras/Kodak_CX7530.jpg", -1, 1),  # S
        ("exif-samples/hdr/iphone_hdr_YES.jpg", 1, -1),  # W
        ("heic/IMG_5195.HEIC", 1, -1),  # W, in a HEIF container
        ("exif-samples/gps/DSCN0010.jpg", 1, 1),
    ],
)
def test_gps_refs_s_and_w_give_negative_degrees(
    images: Path,
    oracle: dict[str, dict[str, Any]],
    relative: str,
    lat_sign: int,
    lon_sign: int,
) -> None:
    gps = _extract(images / relative).exif.gps
    assert gps is not None
    expected = oracle[f"images/{relative}"]
    assert gps.latitude == pytest.approx(expected["gps_latitude"], abs=1e-5)
    assert gps.longitude == pytest.approx(expected["gps_longitude"], abs=1e-5)
    assert gps.latitude * lat_sign > 0
    assert gps.longitude * lon_sign > 0


def test_gps_exactly_zero_is_no_fix(images: Path) -> None:
    metadata = _extract(images / "phones-and-editors" / "Samsung_GT-I9000_Galaxy_S_.jpg")
    assert metadata.exif.gps is None
    assert metadata.exif.gps_zero_fix
    assert "gps_latitude" not in metadata.to_oracle_dict()


def test_gps_with_zero_over_zero_seconds_still_gives_the_position(images: Path) -> None:
    # Nikon writes seconds as 0/0 when the minutes carry the fraction; the place is still known.
    gps = _extract(images / "photos" / "Nikon_D5000.jpg").exif.gps
    assert gps is not None
    assert gps.latitude == pytest.approx(48 + 53.32358 / 60, abs=1e-6)
    assert gps.longitude == pytest.approx(21 + 2.59507 / 60, abs=1e-6)


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_read_from_every_variant(images: Path, shape: str, orientation: int) -> None:
    metadata = _extract(images / "exif-samples" / "orientation" / f"{shape}_{orientation}.jpg")
    assert metadata.orientation == orientation


def test_heic_reports_the_stored_orientation_and_size(images: Path) -> None:
    # pillow-heif rotates at open; the metadata must still describe the file as stored.
    metadata = _extract(images / "heic" / "iphone_13_pro_max.HEIC")
    assert metadata.exif.orientation == 6
    assert (metadata.width, metadata.height) == (4032, 3024)
    assert metadata.mime_type == "image/heic"
    assert metadata.exif.offset_time_original == "+01:00"


def test_iphone_software_is_an_ios_version_and_history_names_camera_raw(images: Path) -> None:
    metadata = _extract(images / "phones-and-editors" / "Apple_iPhone_6_plus.jpg")
    assert metadata.exif.software == "8.1"
    assert metadata.xmp.history_software == (
        "Adobe Photoshop Camera Raw 8.6",
        "Adobe Photoshop Camera Raw 8.6 (Macintosh)",
    )


def test_xmp_history_is_the_list_of_agents(images: Path, oracle: dict[str, dict[str, Any]]) -> None:
    metadata = _extract(images / "exif-samples" / "xmp" / "no_exif.jpg")
    expected = oracle["images/exif-samples/xmp/no_exif.jpg"]
    assert list(metadata.xmp.history_software) == expected["xmp_history_software"]
    assert metadata.xmp.creator_tool == expected["xmp_creator_tool"]
    assert metadata.xmp.document_id


def test_pre_2004_xapmeta_packets_parse(images: Path) -> None:
    metadata = _extract(images / "phones-and-editors" / "FujiFilm_FinePixS1Pro_1_.jpg")
    assert metadata.problems == ()
    assert metadata.xmp.creators == ("Ian Britton",)
    assert metadata.xmp.document_id


@pytest.mark.parametrize(
    ("relative", "field", "fragment"),
    [
        ("photos/Nikon_E995_iptc_.jpg", "iptc_caption", "Dateigröße : 668.1 KB"),
        ("photos/Issue_600_1_.jpg", "iptc_caption", "dark “barges” — tracked"),
        ("photos/Canon_EOS_7D.jpg", "iptc_byline", "Peter Bemmann"),
    ],
)
def test_iptc_text_is_decoded_not_left_as_bytes(
    images: Path, relative: str, field: str, fragment: str
) -> None:
    value = _extract(images / relative).to_oracle_dict()[field]
    assert isinstance(value, str)
    assert fragment.replace("“", '"').replace("”", '"') in value


def test_iptc_honours_the_coded_character_set() -> None:
    utf8_marker = b"\x1c\x01\x5a\x00\x03\x1b%G"
    caption = "Zürich".encode()
    block = utf8_marker + b"\x1c\x02\x78" + len(caption).to_bytes(2, "big") + caption
    datasets, problem = parse_iim(block)
    assert problem is None
    assert decode_iim_text(datasets[(2, 120)][0], utf8=True) == "Zürich"
    # Without the marker, bytes that are not UTF-8 are read as Windows-1252 / Latin-1.
    assert decode_iim_text("Zürich".encode("latin-1"), utf8=False) == "Zürich"
    assert decode_iim_text(b"\x93quoted\x94", utf8=False) == "“quoted”"


def test_iptc_extended_length_and_truncation() -> None:
    body = b"x" * 40
    extended = b"\x1c\x02\x78\x80\x04" + len(body).to_bytes(4, "big") + body
    datasets, problem = parse_iim(extended)
    assert datasets[(2, 120)] == [body] and problem is None
    truncated = b"\x1c\x02\x50\x00\x10short"
    datasets, problem = parse_iim(truncated)
    assert datasets == {} and problem is not None


def test_iptc_empty_values_are_kept_like_exiftool(
    images: Path, oracle: dict[str, dict[str, Any]]
) -> None:
    ours = _extract(images / "photos" / "Nikon_D1X.jpg").to_oracle_dict()
    assert ours["iptc_byline"] == oracle["images/photos/Nikon_D1X.jpg"]["iptc_byline"] == ""


# --- damaged and odd files ---------------------------------------------------------------------


def _every_openable(folder: Path) -> list[tuple[Path, bytes, Image.Image]]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        try:
            image = _open(data)
        except Exception:  # the decoder rejects it: CorruptImage, never reaches metadata
            continue
        found.append((path, data, image))
    return found


@pytest.mark.parametrize(
    "folder",
    ["exif-samples/odd-exif", "malformed/exif-samples-corrupted", "malformed/exif-samples-invalid"],
)
def test_odd_and_broken_exif_gives_partial_metadata_quickly(
    images: Path, oracle: dict[str, dict[str, Any]], folder: str
) -> None:
    files = _every_openable(images / folder)
    assert files
    for path, data, image in files:
        start = time.perf_counter()
        metadata = extract_metadata(image, data)
        assert time.perf_counter() - start < SLOW_FILE_SECONDS, path.name
        expected = oracle.get(f"images/{folder}/{path.name}", {})
        ours = metadata.to_oracle_dict()
        for field in ("make", "model", "xmp_creator_tool", "datetime_original"):
            assert ours.get(field) == expected.get(field), (path.name, field)


def test_every_fuzzed_file_that_opens_goes_through_without_raising(images: Path) -> None:
    files = _every_openable(images / "malformed" / "fuzzed")
    assert len(files) > 40
    damaged = 0
    for path, data, image in files:
        start = time.perf_counter()
        metadata = extract_metadata(image, data)
        assert time.perf_counter() - start < SLOW_FILE_SECONDS, path.name
        damaged += bool(metadata.problems)
    assert damaged >= 1  # the fuzzer broke at least one EXIF block, and that was recorded


def test_garbage_exif_is_a_problem_not_an_exception() -> None:
    data = _jpeg(exif=b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0garbage")
    metadata = extract_metadata(_open(data), data)
    assert not metadata.exif.present
    assert any(p.startswith("exif:") for p in metadata.problems)


def test_malformed_xmp_is_read_by_text_scan_and_recorded() -> None:
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'xmp:CreatorTool="Tool &amp; Co" stEvt:softwareAgent="GIMP 2.10"><broken'
    )
    data = _jpeg(xmp=packet)
    metadata = extract_metadata(_open(data), data)
    assert metadata.xmp.creator_tool == "Tool & Co"
    assert metadata.xmp.history_software == ("GIMP 2.10",)
    assert any(p.startswith("xmp:") for p in metadata.problems)


def test_xmp_entity_expansion_is_refused() -> None:
    packet = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    data = _jpeg(xmp=packet)
    metadata = extract_metadata(_open(data), data)
    assert any(p.startswith("xmp:") for p in metadata.problems)


# --- quantization tables, ICC, MakerNote, value helpers ---------------------------------------


def test_reference_rows_reproduce_imagemagick_and_exiftool() -> None:
    colour, grey = reference_thresholds(True), reference_thresholds(False)
    assert [h for h, _ in colour[:6]] == [1020, 1015, 932, 848, 780, 735]
    assert [s for _, s in colour[:4]] == [32640, 32635, 32266, 31495]
    assert [s for _, s in grey[:4]] == [16320, 16315, 15946, 15277]
    assert [s for _, s in grey[-3:]] == [151, 86, 64]


@pytest.mark.parametrize("quality", [30, 50, 75, 87, 95])
def test_libjpeg_files_are_standard_at_their_quality(quality: int) -> None:
    data = _jpeg(quality=quality)
    jpeg = extract_metadata(_open(data), data).jpeg
    assert jpeg is not None
    assert jpeg.ijg_quality == quality
    assert jpeg.quality_estimate == quality


def test_camera_tables_are_not_standard(images: Path) -> None:
    jpeg = _extract(images / "exif-samples" / "hdr" / "iphone_hdr_YES.jpg").jpeg
    assert jpeg is not None and not jpeg.is_standard
    assert jpeg.quality_estimate is not None and 80 <= jpeg.quality_estimate <= 100
    assert estimate_quality(()) is None


def test_icc_profile_description_v2_and_v4(images: Path) -> None:
    v4 = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert profile_description(v4) == "sRGB built-in"
    assert profile_description(b"\x00" * 10) is None
    assert _extract(images / "c2pa" / "cloud.jpg").icc_profile == "sRGB IEC61966-2.1"  # v2
    assert _extract(images / "heic" / "IMG_5195.HEIC").icc_profile == "Display P3"  # v4 mluc


def test_nikon_makernote_serial(images: Path) -> None:
    metadata = _extract(images / "exif-samples" / "odd-exif" / "32-lens_data.jpeg")
    assert metadata.exif.makernote_serial_number == "3105364"
    assert metadata.serial_number == "3105364"
    # ExifTool files MakerNote serials under the maker's group, so the oracle key stays EXIF's.
    assert "serial_number" not in metadata.to_oracle_dict()


def test_canon_makernote_serial_from_a_built_block() -> None:
    # A little-endian TIFF: IFD0 -> Exif IFD -> MakerNote (a Canon IFD with SerialNumber).
    exif_ifd, makernote = 26, 44
    tiff = bytearray(b"II*\x00" + struct.pack("<I", 8))
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, exif_ifd) + b"\x00" * 4
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x927C, 7, 18, makernote) + b"\x00" * 4
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x000C, 4, 1, 1234567) + b"\x00" * 4
    assert len(tiff) == makernote + 18
    serial = makernote_serial(bytes(tiff), "Canon", {0x8769: exif_ifd}, b"")
    assert serial == "1234567"
    assert makernote_serial(bytes(tiff), "Sony", {0x8769: exif_ifd}, b"") is None


def test_value_helpers_normalise_odd_exif_values() -> None:
    assert as_text(b"Canon\x00\x00junk") == "Canon"
    assert as_text("Ver 1.00  \x00") == "Ver 1.00"
    assert as_text("caf\xc3\xa9") == "café"  # UTF-8 bytes that Pillow decoded as Latin-1
    assert as_text((0x41, 0x42, 0)) == "AB"
    assert as_float(float("nan")) is None
    assert as_float((1.5,)) == 1.5
    assert as_int(10**12, low=0, high=65535) is None
    assert as_int(6.0, low=1, high=8) == 6
    assert as_int("7", low=1, high=8) == 7


def test_oracle_dict_omits_absent_keys_and_carries_c2pa() -> None:
    data = _jpeg()
    out = extract_metadata(_open(data), data).to_oracle_dict()
    assert out["has_thumbnail"] is False
    assert out["mime_type"] == "image/jpeg"
    assert "make" not in out and "gps_latitude" not in out
    assert out["c2pa"] == {"state": "none", "failure_codes": []}
    assert out["jpeg_quality_estimate"] == 75


def test_loose_offsets_in_a_nikon_makernote_are_not_reported_as_damage(images: Path) -> None:
    # Coolpix P6000 MakerNotes point at data outside the block; the file itself is sound.
    metadata = _extract(images / "exif-samples" / "gps" / "DSCN0010.jpg")
    assert metadata.problems == ()
    assert metadata.exif.gps is not None
