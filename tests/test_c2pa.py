"""Content Credentials: every C2PA fixture against the c2pa oracle, and never a network fetch."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from checks.metadata import C2paState, extract_metadata
from checks.metadata.c2pa import might_carry_manifest, read_content_credentials

ROOT = Path(__file__).resolve().parent.parent
#: A port nothing listens on: a fetch through this "proxy" would fail with a connection error.
CLOSED_PROXY = "http://127.0.0.1:9"
REMOTE_MAX_SECONDS = 1.0


@pytest.fixture(scope="module")
def expected(shared_data: Path) -> dict[str, dict[str, Any]]:
    return json.loads((shared_data / "expected-c2pa.json").read_text(encoding="utf-8"))


def test_every_fixture_is_in_the_oracle(images: Path, expected: dict[str, Any]) -> None:
    files = {f"images/c2pa/{p.name}" for p in (images / "c2pa").iterdir()}
    assert files == set(expected)


@pytest.mark.parametrize(
    "name", ["A.jpg", "C.jpg", "CA.jpg", "CIE-sig-CA.jpg", "E-sig-CA.jpg", "XCA.jpg", "cloud.jpg"]
)
def test_fixture_matches_the_c2pa_oracle(
    images: Path, expected: dict[str, dict[str, Any]], name: str
) -> None:
    data = (images / "c2pa" / name).read_bytes()
    metadata = extract_metadata(Image.open(io.BytesIO(data)), data)
    credentials = metadata.c2pa
    want = expected[f"images/c2pa/{name}"]
    assert not [p for p in metadata.problems if p.startswith("c2pa")]
    if "validation_state" in want:
        state = {"Valid": C2paState.VALID, "Trusted": C2paState.VALID}.get(
            want["validation_state"], C2paState.INVALID
        )
        assert credentials.state is state
        assert list(credentials.failure_codes) == want["failure_codes"]
        assert credentials.claim_generator == want["claim_generator"]
        assert credentials.issuer == want["issuer"]
        assert not credentials.trusted  # the fixtures are signed with the C2PA test certificate
    elif "ManifestNotFound" in want.get("error", ""):
        assert credentials.state is C2paState.NONE
    else:  # the remote-manifest fixture
        assert credentials.state is C2paState.REMOTE
        assert credentials.remote_url and credentials.remote_url.startswith("https://")
    as_json = metadata.to_oracle_dict()["c2pa"]
    assert as_json["state"] == credentials.state.value
    assert as_json["failure_codes"] == list(credentials.failure_codes)


def test_remote_manifest_is_reported_without_any_network(images: Path) -> None:
    # Any fetch attempt would go to the closed proxy and fail as a connection error, which is
    # not "remote"; and it would take longer than the limit.
    script = (
        "import io, json, sys, time\n"
        "from PIL import Image\n"
        "from checks.metadata import extract_metadata\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "start = time.perf_counter()\n"
        "metadata = extract_metadata(Image.open(io.BytesIO(data)), data)\n"
        "elapsed = time.perf_counter() - start\n"
        "print(json.dumps({'c2pa': metadata.c2pa.as_dict(), 'elapsed': elapsed,\n"
        "                  'problems': list(metadata.problems)}))\n"
    )
    env = {
        **os.environ,
        "HTTPS_PROXY": CLOSED_PROXY,
        "HTTP_PROXY": CLOSED_PROXY,
        "ALL_PROXY": CLOSED_PROXY,
        "https_proxy": CLOSED_PROXY,
        "http_proxy": CLOSED_PROXY,
        "all_proxy": CLOSED_PROXY,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(images / "c2pa" / "cloud.jpg")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["c2pa"]["state"] == "remote"
    assert result["c2pa"]["remote_url"].startswith("https://cai-manifests.adobe.com/")
    assert result["problems"] == []
    assert result["elapsed"] < REMOTE_MAX_SECONDS


def test_cheap_precheck_skips_files_without_a_manifest(images: Path) -> None:
    unsigned = (images / "c2pa" / "A.jpg").read_bytes()
    signed = (images / "c2pa" / "C.jpg").read_bytes()
    assert not might_carry_manifest(unsigned, "image/jpeg", None)
    assert might_carry_manifest(signed, "image/jpeg", None)
    assert might_carry_manifest(unsigned, "image/jpeg", "https://example.org/manifest")
    assert not might_carry_manifest(signed, "image/x-unknown", None)


def _png_with_chunk(kind: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    png = buffer.getvalue()
    body = b"\x00" * 16
    chunk = len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    return png[:33] + chunk + png[33:]  # after the 8-byte signature and the 25-byte IHDR


def test_precheck_finds_the_store_in_each_container() -> None:
    assert might_carry_manifest(_png_with_chunk(b"caBX"), "image/png", None)
    assert not might_carry_manifest(_png_with_chunk(b"tEXt"), "image/png", None)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "WEBP")
    webp = buffer.getvalue()
    assert not might_carry_manifest(webp, "image/webp", None)
    assert might_carry_manifest(
        webp + b"C2PA" + (4).to_bytes(4, "little") + b"jumb", "image/webp", None
    )
    heif = b"\x00\x00\x00\x10ftypheic\x00\x00\x00\x00" + b"\x00\x00\x00\x18uuid" + bytes(16)
    assert might_carry_manifest(heif, "image/heic", None)
    assert not might_carry_manifest(heif[:16], "image/heic", None)


def test_a_damaged_manifest_is_a_problem_not_an_exception(images: Path) -> None:
    data = bytearray((images / "c2pa" / "C.jpg").read_bytes())
    data[60:124] = bytes(64)  # zero the start of the JUMBF store in the first APP11 segment
    credentials, problems = read_content_credentials(bytes(data), "image/jpeg")
    assert credentials.state is C2paState.NONE
    assert len(problems) == 1 and problems[0].startswith("c2pa: could not read the manifest")


def test_a_fetch_attempt_would_not_pass_silently() -> None:
    # What the SDK says when fetching is left on and the fetch fails: the subprocess test above
    # asserts no problems, so losing the setting cannot go unnoticed.
    from checks.metadata.c2pa import _from_error

    attempted = Exception("Remote: could not fetch the remote manifest (https://host.example/m)")
    credentials, problems = _from_error(attempted, None)
    assert credentials.state is C2paState.REMOTE
    assert credentials.remote_url == "https://host.example/m"
    assert problems and "tried to fetch" in problems[0]
