"""A finding in words: its code and parameters as one sentence in the reader's language.

``checks/`` says what it found as a code with plain values; this is the one place those become
a sentence, for the cards (HTML, any language) and for ``tipline check`` (plain English).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from checks.findings import Finding, FindingCode
from checks.metadata.model import GpsFix
from handlers.i18n import N_, Safe, Texts

__all__ = ["PLATFORM_NAMES", "finding_text"]

#: Who re-encodes photos to a size (the keys of ``checks.findings.PLATFORM_LONG_SIDES``).
PLATFORM_NAMES = {
    "telegram": N_("Telegram"),
    "telegram_hd": N_("Telegram (HD photo)"),
    "whatsapp_signal": N_("WhatsApp or Signal"),
    "facebook_signal_x": N_("Facebook, Signal (high quality) or X/Twitter"),
    "signal_desktop": N_("Signal Desktop (high quality)"),
    "whatsapp_hd_x": N_("WhatsApp (HD) or X/Twitter"),
    "instagram": N_("Instagram"),
}
#: What a C2PA validation failure code means.
_C2PA_PROBLEMS = {
    "assertion.dataHash.mismatch": N_("the picture was changed after signing"),
    "claimSignature.mismatch": N_("the signature does not match the claim"),
    "signingCredential.revoked": N_("the signing certificate was revoked"),
    "signingCredential.expired": N_("the signing certificate had expired"),
}
#: How clauses of one sentence are separated, where a semicolon is not ``"; "``.
_CLAUSE_SEPARATOR = {"ar": "؛ ", "fa": "؛ ", "zh_Hans": "；"}


def _gps(t: Texts, p: Mapping[str, Any]) -> str:
    place = GpsFix(float(p["latitude"]), float(p["longitude"])).describe()
    return t._(
        "The file reveals where it was taken: {place}. Anyone who gets the file can see this "
        "place; remove it before passing the file on.",
        place=t.ltr(place),
    )


def _serial(t: Texts, p: Mapping[str, Any]) -> str:
    return t._(
        "The file carries the camera's serial number ({serial}), which can link it to other "
        "photos from the same camera and to the camera's owner.",
        serial=p["serial"],
    )


def _author(t: Texts, p: Mapping[str, Any]) -> str:
    names = [str(n) for n in p["names"]]
    return t.ngettext(
        "The file names a person as its author ({names}); if that is the source, the file "
        "identifies them.",
        "The file names people as its authors ({names}); if one of them is the source, the "
        "file identifies them.",
        len(names),
        names=t.join(names),
    )


def _edited(t: Texts, p: Mapping[str, Any]) -> str:
    return t._(
        "The file was saved by editing software ({software}): the picture may have been "
        "changed after it was taken.",
        software=t.join([str(s) for s in p["software"]]),
    )


def _thumbnail(t: Texts, p: Mapping[str, Any]) -> str:
    if p["thumbnail"] == "mirrored":
        return t._(
            "The camera's preview stored inside the file is the mirror image of the picture: "
            "the picture was flipped left to right after it was taken, so text and directions "
            "in it are reversed."
        )
    if p["thumbnail"] == "other_frame":
        return t._(
            "The camera's preview stored inside the file shows a differently shaped frame: the "
            "picture was cropped, retouched or replaced after it was taken."
        )
    return t._(
        "The camera's preview stored inside the file shows a different picture: the picture "
        "was cropped, retouched or replaced after it was taken."
    )


def _dates(t: Texts, p: Mapping[str, Any]) -> str:
    clauses = []
    for reason in p["reasons"]:
        if reason == "taken_after_modified":
            clauses.append(
                t._(
                    "it says it was taken ({taken}) after it was last modified ({modified})",
                    taken=t.ltr(str(p["taken"])),
                    modified=t.ltr(str(p["modified"])),
                )
            )
        elif reason == "future":
            clauses.append(
                t._("it carries a date in the future ({date})", date=t.ltr(str(p["future"])))
            )
        elif reason == "digitised_apart":
            clauses.append(
                t._(
                    "it was taken on {original} but digitised on {digitised} (normal for a "
                    "scanned print, otherwise a sign of an edited date)",
                    original=t.ltr(str(p["original"])),
                    digitised=t.ltr(str(p["digitised"])),
                )
            )
    separator = _CLAUSE_SEPARATOR.get(t.code, "; ")
    return t._(
        "The dates in this file do not add up: {reasons}.",
        reasons=Safe(separator.join(clauses)),
    )


def _no_metadata(t: Texts, p: Mapping[str, Any]) -> str:
    platform = p.get("platform")
    if not platform:
        return t._(
            "The file carries no camera metadata (no EXIF, XMP or IPTC): it was stripped by an "
            "app or a platform, or removed on purpose."
        )
    if p.get("long_side"):
        basis = t._("{pixels} px on the long side", pixels=int(p["long_side"]))
    else:
        basis = t._("{pixels} px wide", pixels=int(p.get("width") or 0))
    if p.get("quality") is not None:
        basis = t._("{basis}, standard JPEG quality {quality}", basis=basis, quality=p["quality"])
    name = PLATFORM_NAMES.get(str(platform))
    return t._(
        "The file carries no camera metadata, and its size and compression ({basis}) match a "
        "photo re-sent through {platform}: probably not the original. Ask for the original "
        "file, sent as a document.",
        basis=basis,
        platform=t._(name) if name else str(platform),
    )


def _ai(t: Texts, p: Mapping[str, Any]) -> str:
    return t._(
        "The file declares that it was made or altered by generative AI ({source_type}).",
        source_type=t.ltr(str(p["source_type"])),
    )


def _c2pa_valid(t: Texts, p: Mapping[str, Any]) -> str:
    signer = t.user(p["signer"]) if p.get("signer") else t._("an unnamed signer")
    generator = p.get("generator")
    if p.get("trusted"):
        if generator:
            return t._(
                "Content Credentials (C2PA) are intact: made by {generator}, signed by {signer}.",
                generator=generator,
                signer=signer,
            )
        return t._("Content Credentials (C2PA) are intact: signed by {signer}.", signer=signer)
    if generator:
        return t._(
            "Content Credentials (C2PA) are intact (made by {generator}), but the signer, "
            "{signer}, is not on a trust list, so they show only that the file is unchanged "
            "since signing.",
            generator=generator,
            signer=signer,
        )
    return t._(
        "Content Credentials (C2PA) are intact, but the signer, {signer}, is not on a trust "
        "list, so they show only that the file is unchanged since signing.",
        signer=signer,
    )


def _c2pa_invalid(t: Texts, p: Mapping[str, Any]) -> str:
    failures = [str(code) for code in p["failures"]]
    problems = [t._(_C2PA_PROBLEMS[code]) for code in failures if code in _C2PA_PROBLEMS]
    separator = _CLAUSE_SEPARATOR.get(t.code, "; ")
    why = Safe(separator.join(problems)) if problems else t._("verification failed")
    return t._(
        "Content Credentials (C2PA) are present but broken: {problems} ({codes}).",
        problems=why,
        codes=t.ltr(", ".join(failures)),
    )


def _c2pa_remote(t: Texts, p: Mapping[str, Any]) -> str:
    if p.get("url"):
        return t._(
            "The file points to Content Credentials stored online at {url}. They were not "
            "fetched: looking them up would tell that server someone is examining this picture.",
            url=p["url"],
        )
    return t._(
        "The file points to Content Credentials stored online. They were not fetched: looking "
        "them up would tell that server someone is examining this picture."
    )


def _low_quality(t: Texts, p: Mapping[str, Any]) -> str:
    return t._(
        "The picture has too little detail for reliable matching (PDQ quality {quality} of "
        "100): a match, or the lack of one, is less certain than usual.",
        quality=int(p["quality"]),
    )


def _damaged(t: Texts, p: Mapping[str, Any]) -> str:
    return t.ngettext(
        "Part of the file's metadata is damaged or unreadable ({n} problem); what could be read "
        "is shown.",
        "Part of the file's metadata is damaged or unreadable ({n} problems); what could be "
        "read is shown.",
        int(p["problems"]),
    )


_RENDER: dict[str, Callable[[Texts, Mapping[str, Any]], str]] = {
    FindingCode.GPS_PRESENT: _gps,
    FindingCode.SERIAL_NUMBER_PRESENT: _serial,
    FindingCode.AUTHOR_NAMED: _author,
    FindingCode.EDITED_WITH_SOFTWARE: _edited,
    FindingCode.THUMBNAIL_MISMATCH: _thumbnail,
    FindingCode.DATES_INCONSISTENT: _dates,
    FindingCode.NO_METADATA: _no_metadata,
    FindingCode.AI_GENERATED_DECLARED: _ai,
    FindingCode.C2PA_VALID: _c2pa_valid,
    FindingCode.C2PA_INVALID: _c2pa_invalid,
    FindingCode.C2PA_REMOTE: _c2pa_remote,
    FindingCode.LOW_HASH_QUALITY: _low_quality,
    FindingCode.METADATA_DAMAGED: _damaged,
}


def finding_text(finding: Finding, t: Texts) -> Safe:
    """The finding as a sentence for ``t``'s reader. A finding stored before findings had
    parameters is shown in its stored English; one whose parameters this version cannot read
    is named by its code."""
    if finding.legacy_message is not None:
        return t.user(finding.legacy_message)
    render = _RENDER.get(str(finding.code))
    if render is None:
        return t.ltr(str(finding.code))
    try:
        return Safe(render(t, finding.params))
    except (KeyError, TypeError, ValueError):
        return t.ltr(str(finding.code))
