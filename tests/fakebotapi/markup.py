"""Telegram text rules: the HTML parse mode, entity offsets, and entities a client would detect.

The real Bot API turns ``parse_mode=HTML`` text into plain text plus entities and refuses
anything its parser does not accept with 400 "Bad Request: can't parse entities: ...". This
module follows the rules of tdlib's parser (the one behind the Bot API) closely enough that text
the fake accepts, Telegram accepts too, and the error messages read the same. Offsets are in
UTF-16 code units, as everywhere in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALLOWED_TAGS",
    "HtmlError",
    "detect_entities",
    "parse_html",
    "strip_text",
    "utf16_len",
]

ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_SPACES = " \t\r\n\x0b\x0c"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class HtmlError(ValueError):
    """The text is not HTML that Telegram accepts; ``str()`` is tdlib's wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every entity offset in the Bot API."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``text[pos] == '&'``, as tdlib does, or ``None``.

    tdlib knows only ``&lt; &gt; &amp; &quot;`` and numeric references; the ``;`` is optional.
    Anything else leaves the ``&`` as a literal character.
    """
    end = pos + 1
    n = len(text)
    if end < n and text[end] == "#":
        end += 1
        code = 0
        if end < n and text[end] == "x":
            end += 1
            start = end
            while end < n and text[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(text[end], 16)
                end += 1
                if code >= 0x10FFFF:
                    return None
        else:
            start = end
            while end < n and text[end].isascii() and text[end].isdigit():
                code = code * 10 + int(text[end])
                end += 1
                if code >= 0x10FFFF:
                    return None
        if end == start or code == 0 or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[pos + 1 : end]
        if name not in _NAMED:
            return None
        char = _NAMED[name]
    if end < n and text[end] == ";":
        end += 1
    return char, end


@dataclass
class _Open:
    tag: str
    argument: str | None
    offset: int  # UTF-16 offset in the output where the entity starts
    text_pos: int  # position in the input just after the start tag


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(plain_text, entities)`` or raise :class:`HtmlError`.

    Stricter than Telegram in one way: a bare ``&`` or ``>`` is refused. Telegram would show it
    literally, but in a bot's output it almost always means user text went out unescaped,
    which is what these tests are here to catch.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 units emitted so far
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    i = 0
    n = len(source)

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8"))

    def emit(chunk: str) -> None:
        nonlocal out_len
        out.append(chunk)
        out_len += utf16_len(chunk)

    while i < n:
        c = source[i]
        if c == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                emit(decoded[0])
                i = decoded[1]
                continue
            raise HtmlError(
                f"Unescaped '&' at byte offset {byte_offset(i)} "
                "(write &amp;; the real API would show it as is)"
            )
        if c == ">":
            raise HtmlError(
                f"Unescaped '>' at byte offset {byte_offset(i)} "
                "(write &gt;; the real API would show it as is)"
            )
        if c != "<":
            emit(c)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            i = _close_tag(source, begin, i, stack, entities, out_len, byte_offset)
            continue

        while i < n and source[i] not in _SPACES and source[i] != ">":
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        tag = source[begin + 1 : i].lower()
        if tag not in ALLOWED_TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
        argument, i = _attributes(source, tag, begin, i, byte_offset)
        if tag == "span" and argument != "spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        i += 1  # the '>'
        stack.append(_Open(tag, argument, out_len, i))

    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(
    source: str, tag: str, begin: int, i: int, byte_offset: Any
) -> tuple[str | None, int]:
    """Read attributes up to the closing ``>``; return the one that matters for ``tag``."""
    n = len(source)
    argument: str | None = None
    while i < n and source[i] != ">":
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            break
        if source[i] == ">":
            break
        name_start = i
        while i < n and source[i] not in _SPACES and source[i] not in "=>/\"'":
            i += 1
        name = source[name_start:i]
        if not name:
            raise HtmlError(
                f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}'
            )
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            break
        if source[i] != "=":
            if tag == "blockquote" and name == "expandable":
                argument = "1"
            continue
        i += 1
        while i < n and source[i] in _SPACES:
            i += 1
        if i >= n:
            break
        if source[i] not in "\"'":
            token_start = i
            while i < n and ((source[i].isascii() and source[i].isalnum()) or source[i] in ".-"):
                i += 1
            value = source[token_start:i].lower()
            if i < n and source[i] not in _SPACES and source[i] != ">":
                raise HtmlError(f"Unexpected end of name token at byte offset {byte_offset(i)}")
        else:
            quote = source[i]
            i += 1
            chars: list[str] = []
            while i < n and source[i] != quote:
                if source[i] == "&":
                    decoded = _decode_entity(source, i)
                    if decoded is not None:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                chars.append(source[i])
                i += 1
            if i < n:
                i += 1
            value = "".join(chars)
        if i >= n:
            break
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value.removeprefix("tg-")
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
        elif tag == "pre" and name == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
    if i >= n:
        raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
    return argument, i


def _close_tag(
    source: str,
    begin: int,
    i: int,
    stack: list[_Open],
    entities: list[dict[str, Any]],
    out_len: int,
    byte_offset: Any,
) -> int:
    """Handle ``</tag>`` at ``begin``; append the finished entity; return the next position."""
    n = len(source)
    if not stack:
        raise HtmlError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
    i += 1  # the '/'
    name_start = i
    while i < n and source[i] not in _SPACES and source[i] != ">":
        i += 1
    end_name = source[name_start:i].lower()
    while i < n and source[i] in _SPACES:
        i += 1
    if i >= n or source[i] != ">":
        raise HtmlError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
    opened = stack.pop()
    if end_name and end_name != opened.tag:
        raise HtmlError(
            f"Unmatched end tag at byte offset {byte_offset(begin)}, "
            f'expected "</{opened.tag}>", found "</{end_name}>"'
        )
    length = out_len - opened.offset
    if length > 0:
        entity = _entity_for(opened, length, source[opened.text_pos : begin])
        if entity is not None:
            _merge_pre_code(entities, entity)
    return i + 1


def _entity_for(opened: _Open, length: int, inner: str) -> dict[str, Any] | None:
    tag = opened.tag
    base: dict[str, Any] = {"offset": opened.offset, "length": length}
    if tag in _SIMPLE:
        return {"type": _SIMPLE[tag], **base}
    if tag == "span":
        return {"type": "spoiler", **base}
    if tag == "a":
        url = opened.argument if opened.argument is not None else inner
        if url.startswith("tg://user?id="):
            user_id = url.removeprefix("tg://user?id=")
            if user_id.isdigit():
                return {"type": "text_mention", **base, "user": {"id": int(user_id)}}
        if not re.match(r"^(?:https?://|tg://|ton://)?[^\s]+\.[^\s]+|^tg://", url):
            return None  # tdlib silently drops links it cannot make sense of
        return {"type": "text_link", **base, "url": url}
    if tag == "tg-emoji":
        if not (opened.argument or "").isdigit():
            raise HtmlError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", **base, "custom_emoji_id": opened.argument}
    if tag == "code":
        entity = {"type": "code", **base}
        if opened.argument:
            entity["language"] = opened.argument
        return entity
    if tag == "pre":
        entity = {"type": "pre", **base}
        if opened.argument:
            entity["language"] = opened.argument
        return entity
    if tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument == "1" else "blockquote"
        return {"type": kind, **base}
    return None


def _merge_pre_code(entities: list[dict[str, Any]], entity: dict[str, Any]) -> None:
    """``<pre><code class="language-x">`` is one ``pre`` entity with a language, as in tdlib."""
    if entities and entity["type"] == "pre":
        last = entities[-1]
        if (
            last["type"] == "code"
            and last["offset"] == entity["offset"]
            and last["length"] == entity["length"]
        ):
            merged = {"type": "pre", "offset": entity["offset"], "length": entity["length"]}
            if "language" in last:
                merged["language"] = last["language"]
            entities[-1] = merged
            return
    entities.append(entity)


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace and shift entities, as Telegram does to every message text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_ENTITY_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?!\w)")),
    ("url", re.compile(r"(?i)\bhttps?://[^\s<>\"]+")),
)
_TRAILING = ".,;:!?'\")]}"


def detect_entities(text: str) -> list[dict[str, Any]]:
    """The entities a Telegram client marks in typed text that the bot relies on: commands
    (PTB's CommandHandler needs one at offset 0) and links."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            while kind == "url" and end > start and text[end - 1] in _TRAILING:
                end -= 1
            if not any(s < end and start < e for s, e, _ in found):
                found.append((start, end, kind))
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for start, end, kind in sorted(found)
    ]
