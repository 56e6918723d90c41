"""Every hash kind honours the same contract; the registry keeps names unique."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageOps

from checks.errors import InvalidHash
from checks.signals import HASH_KINDS, HashKind, Pdq, Phash, Sha256, get_kind, register
from checks.signals.base import hamming_hex


def _picture(seed: int = 0) -> Image.Image:
    image = Image.new("RGB", (320, 240), (30, 60, 90))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x = (i * 37 + seed * 11) % 280
        draw.rectangle((x, i * 18, x + 40, i * 18 + 30), fill=(200 - i * 10, i * 20, 120))
    draw.ellipse((20, 20, 120, 160), fill=(250, 240, 10))
    return image


@pytest.mark.parametrize("kind", list(HASH_KINDS.values()), ids=list(HASH_KINDS))
class TestHashKindContract:
    def example(self, kind: type[HashKind]) -> str:
        return kind.examples[0]

    def test_examples_are_valid_hashes_of_this_kind(self, kind: type[HashKind]) -> None:
        assert all(kind.validate(example) == example for example in kind.examples)

    def test_a_re_encoded_copy_matches_only_a_perceptual_kind(self, kind: type[HashKind]) -> None:
        original, copy = kind.examples
        assert kind.compare(original, copy).match is (kind.threshold > 0)

    def test_validate_normalises(self, kind: type[HashKind]) -> None:
        value = self.example(kind)
        assert kind.validate(f"  {value.upper()} \n") == value

    @pytest.mark.parametrize("bad", ["", "xyz", "ab"])
    def test_validate_refuses_bad_strings(self, kind: type[HashKind], bad: str) -> None:
        with pytest.raises(InvalidHash, match=kind.name):
            kind.validate(bad)

    def test_refuses_one_character_too_long(self, kind: type[HashKind]) -> None:
        with pytest.raises(InvalidHash):
            kind.validate(self.example(kind) + "0")

    def test_compare_identical_matches_at_zero(self, kind: type[HashKind]) -> None:
        value = self.example(kind)
        result = kind.compare(value, value)
        assert result.match and result.distance == 0

    def test_compare_opposite_does_not_match(self, kind: type[HashKind]) -> None:
        value = self.example(kind)
        flipped = f"{int(value, 16) ^ ((1 << kind.bits) - 1):0{kind.hex_length()}x}"
        result = kind.compare(value, flipped)
        assert not result.match
        assert result.distance == kind.bits


def test_threshold_is_inclusive_and_overridable() -> None:
    base = "0" * 64
    at_limit = f"{(1 << Pdq.threshold) - 1:064x}"  # exactly `threshold` bits set
    beyond = f"{(1 << (Pdq.threshold + 1)) - 1:064x}"
    assert Pdq.compare(base, at_limit).match
    assert not Pdq.compare(base, beyond).match
    assert not Pdq.compare(base, at_limit, threshold=10).match


def test_registry_refuses_a_second_kind_with_the_same_name() -> None:
    class Impostor(HashKind):
        name = "pdq"
        bits = 256
        threshold = 1

    with pytest.raises(ValueError, match="registered twice"):
        register(Impostor)
    assert get_kind("pdq") is Pdq


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="sha256"):
        get_kind("md5")


def test_hashes_survive_re_encoding_and_catch_the_mirror() -> None:
    original = _picture()
    buffer = io.BytesIO()
    original.resize((200, 150)).save(buffer, "JPEG", quality=40)
    recoded = Image.open(buffer).convert("RGB")
    a, b = Pdq.compute(original), Pdq.compute(recoded)
    assert Pdq.compare(a.hash, b.hash).match
    assert Phash.compare(Phash.compute(original), Phash.compute(recoded)).match
    mirrored = Pdq.compute(ImageOps.mirror(original))
    assert not Pdq.compare(a.hash, mirrored.hash).match
    assert hamming_hex(a.mirrored, mirrored.hash) <= 8


def test_different_pictures_do_not_match() -> None:
    a, b = _picture(0), _picture(7).rotate(90)
    assert not Pdq.compare(Pdq.compute(a).hash, Pdq.compute(b).hash).match


def test_flat_picture_has_low_pdq_quality() -> None:
    flat = Pdq.compute(Image.new("RGB", (100, 100), (128, 128, 128)))
    assert not Pdq.usable(flat.quality)
    assert Pdq.usable(Pdq.compute(_picture()).quality)


def test_sha256_is_of_the_bytes() -> None:
    assert Sha256.compute(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_a_picture_hashes_alike_from_its_colours_or_its_luminance() -> None:
    # Checks decode only luminance; items hashed from colour pixels must still be found.
    colour = _picture()
    from_colour, from_grey = Pdq.compute(colour), Pdq.compute(colour.convert("L"))
    assert hamming_hex(from_colour.hash, from_grey.hash) <= 2
    assert hamming_hex(from_colour.mirrored, from_grey.mirrored) <= 2
    assert Phash.compute(colour) == Phash.compute(colour.convert("L"))
