"""XMP: the saving tool, the edit history, document ids and provenance pointers.

The packet is parsed with defusedxml (XMP is attacker-supplied XML: no entities, no DTDs). Real
packets are often damaged (truncated, NUL-padded, bad escapes); when the XML does not parse, a
tolerant text scan still recovers the creator tool and history, and the damage is recorded.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeElementTree
from PIL import Image

from checks.metadata.model import XmpFields
from checks.metadata.values import decode_text, strip_trailing

__all__ = ["XmpRead", "raw_xmp", "read_xmp"]

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMP = "http://ns.adobe.com/xap/1.0/"
_XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
_ST_EVT = "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
_AUX = "http://ns.adobe.com/exif/1.0/aux/"
_EXIF_EX = "http://cipa.jp/exif/1.0/"
_DC = "http://purl.org/dc/elements/1.1/"
_DCTERMS = "http://purl.org/dc/terms/"
_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"

_CREATOR_TOOL = f"{{{_XMP}}}CreatorTool"
_HISTORY = f"{{{_XMP_MM}}}History"
_SOFTWARE_AGENT = f"{{{_ST_EVT}}}softwareAgent"
_LI = f"{{{_RDF}}}li"
_DOCUMENT_ID = f"{{{_XMP_MM}}}DocumentID"
_ORIGINAL_DOCUMENT_ID = f"{{{_XMP_MM}}}OriginalDocumentID"
_SERIALS = (f"{{{_EXIF_EX}}}BodySerialNumber", f"{{{_AUX}}}SerialNumber")
_CREATOR = f"{{{_DC}}}creator"
_DIGITAL_SOURCE_TYPE = f"{{{_IPTC_EXT}}}DigitalSourceType"
_PROVENANCE = f"{{{_DCTERMS}}}provenance"

#: Photoshop image resource that holds an XMP packet (JPEG APP13 / TIFF 34377).
_PHOTOSHOP_XMP = 0x0424
_TIFF_XMP_TAG = 700

_META_END = re.compile(rb"</(?:[\w.-]+:)?x[am]pmeta\s*>")  # xapmeta: XMP before 2004
_RDF_END = re.compile(rb"</(?:[\w.-]+:)?RDF\s*>")


@dataclass(frozen=True, slots=True)
class XmpRead:
    """The XMP fields and what was wrong with the packet, if anything."""

    fields: XmpFields
    problems: tuple[str, ...]


def raw_xmp(image: Image.Image) -> bytes | None:
    """The XMP packet as stored: JPEG APP1, PNG iTXt, WebP/GIF/HEIF chunk, TIFF tag 700."""
    candidates: list[Any] = [image.info.get("xmp"), image.info.get("XML:com.adobe.xmp")]
    tags = getattr(image, "tag_v2", None)
    if tags is not None:
        candidates.append(tags.get(_TIFF_XMP_TAG))
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict):
        candidates.append(photoshop.get(_PHOTOSHOP_XMP))
    for value in candidates:
        if isinstance(value, str) and value:
            return value.encode("utf-8")
        if isinstance(value, bytes | bytearray) and value:
            return bytes(value)
        if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
            try:
                return bytes(value)
            except ValueError:
                continue
    return None


def _trim_packet(raw: bytes) -> bytes:
    """Cut junk before the first tag and after the closing element (padding, NULs, garbage)."""
    start = raw.find(b"<")
    if start > 0:
        raw = raw[start:]
    for pattern in (_META_END, _RDF_END):
        last = max(pattern.finditer(raw), key=lambda match: match.end(), default=None)
        if last is not None:
            return raw[: last.end()]
    return raw


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return strip_trailing(value.strip("\x00"))


def _property(element: Element, name: str) -> str | None:
    """A simple property written either as an attribute or as a child element's text."""
    value = element.attrib.get(name)
    if value is not None:
        return _clean(value)
    for child in element:
        if child.tag == name:
            text = "".join(child.itertext())
            return _clean(text)
    return None


def _find_property(root: Element, name: str) -> str | None:
    for element in root.iter():
        if name in element.attrib:
            return _clean(element.attrib[name])
        if element.tag == name:
            resource = element.attrib.get(f"{{{_RDF}}}resource")
            text = "".join(element.itertext()).strip()
            return _clean(text or resource)
    return None


def _history_agents(root: Element) -> tuple[str, ...]:
    agents: list[str] = []
    for history in root.iter(_HISTORY):
        for item in history.iter(_LI):
            for node in item.iter():
                agent = _property(node, _SOFTWARE_AGENT)
                if agent:
                    agents.append(agent)
                    break
    return tuple(agents)


def _list_items(root: Element, name: str) -> tuple[str, ...]:
    for element in root.iter(name):
        items = [_clean("".join(li.itertext())) for li in element.iter(_LI)]
        return tuple(item for item in items if item)
    return ()


def _fields_from_tree(root: Element) -> XmpFields:
    serial = None
    for name in _SERIALS:
        serial = serial or _find_property(root, name)
    return XmpFields(
        present=True,
        creator_tool=_find_property(root, _CREATOR_TOOL),
        history_software=_history_agents(root),
        document_id=_find_property(root, _DOCUMENT_ID),
        original_document_id=_find_property(root, _ORIGINAL_DOCUMENT_ID),
        serial_number=serial,
        creators=_list_items(root, _CREATOR),
        digital_source_type=_find_property(root, _DIGITAL_SOURCE_TYPE),
        provenance=_find_property(root, _PROVENANCE),
    )


def _scan(text: str, prefix_name: str) -> list[str]:
    """Values of ``prefix:name`` written as attributes or elements, found without parsing."""
    pattern = re.compile(
        rf"""{prefix_name}\s*=\s*(["'])(.*?)\1|<{prefix_name}>([^<]*)</{prefix_name}>""",
        re.DOTALL,
    )
    values = []
    for match in pattern.finditer(text):
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        value = _clean(html.unescape(raw))
        if value:
            values.append(value)
    return values


def _fields_from_text(text: str) -> XmpFields:
    """Best effort for XMP that is not well-formed XML: the common prefixes only."""
    creator = _scan(text, "xmp:CreatorTool")
    document = _scan(text, "xmpMM:DocumentID")
    serial = _scan(text, "exifEX:BodySerialNumber") or _scan(text, "aux:SerialNumber")
    source = _scan(text, "Iptc4xmpExt:DigitalSourceType")
    provenance = _scan(text, "dcterms:provenance")
    return XmpFields(
        present=True,
        creator_tool=creator[0] if creator else None,
        history_software=tuple(_scan(text, "stEvt:softwareAgent")),
        document_id=document[0] if document else None,
        serial_number=serial[0] if serial else None,
        digital_source_type=source[0] if source else None,
        provenance=provenance[0] if provenance else None,
    )


def read_xmp(image: Image.Image) -> XmpRead:
    """Parse the file's XMP packet, falling back to a text scan when it is malformed."""
    raw = raw_xmp(image)
    if raw is None:
        return XmpRead(XmpFields(), ())
    packet = _trim_packet(raw)
    try:
        root = SafeElementTree.fromstring(packet)
    except Exception as exc:  # ParseError, defusedxml's DTD/entity refusals, ValueError
        problem = f"xmp: not well-formed ({type(exc).__name__}); read by text scan"
        return XmpRead(_fields_from_text(decode_text(packet)), (problem,))
    return XmpRead(_fields_from_tree(root), ())
