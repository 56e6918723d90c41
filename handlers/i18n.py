"""Languages: which one a person reads, its catalogue, and how values sit in its sentences.

Every text a person reads is an English gettext message; ``handlers/locale/<code>/LC_MESSAGES/
tipline.po`` holds each other language. The ``.po`` files are read at run time with Babel (no
compile step): an installed package is ready to speak every language it ships.

A :class:`Texts` translates and fills in a message for one reader. Values are never pasted raw:

- text someone else typed (titles, notes, channel names, names in a file) is escaped, stripped of
  bidi controls (an RTL override must not turn the rest of a card around) and wrapped in a first
  strong isolate, in every language;
- codes of ours that read left to right (tickets, coordinates, dates, commands) are wrapped in a
  left-to-right isolate in right-to-left languages, so ``K7QM-2XTD`` reads as typed in Arabic.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from gettext import GNUTranslations, NullTranslations
from html import escape
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_timedelta
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Language",
    "Safe",
    "Texts",
    "catalogue_path",
    "resolve_language",
    "supported_language",
    "texts_for",
]

DOMAIN = "tipline"
LOCALE_DIR = Path(__file__).parent / "locale"
#: The language the messages are written in; it needs no catalogue.
DEFAULT_LANGUAGE = "en"

FSI, LRI, PDI, LRM = "\u2068", "\u2066", "\u2069", "\u200e"
#: A command in a sentence (``/status``): in right-to-left text its slash would stand on the
#: wrong side of the word without a left-to-right mark before it.
_COMMAND = re.compile(r"(?<![\w/<\u200e])/(?=[a-z])")
#: Embeddings, overrides and isolates a stranger's text may not carry into a card.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class Language:
    """A language Tipline speaks."""

    #: The catalogue's folder, a Babel locale identifier (``zh_Hans``).
    code: str
    #: Its name in itself, as the /language buttons show it.
    native: str
    #: The ISO 639-1 code Telegram's setMyCommands takes (``zh``).
    telegram: str
    rtl: bool = False

    def name_in(self, reader: str) -> str:
        """This language's name in the reader's language (``Korean``, ``корейский``)."""
        return Locale.parse(self.code).get_display_name(Locale.parse(reader)) or self.native


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("en", "English", "en"),
        Language("ko", "한국어", "ko"),
        Language("ru", "Русский", "ru"),
        Language("uk", "Українська", "uk"),
        Language("zh_Hans", "简体中文", "zh"),
        Language("ar", "العربية", "ar", rtl=True),
        Language("fa", "فارسی", "fa", rtl=True),
        Language("es", "Español", "es"),
    )
}


def N_(message: str) -> str:
    """Mark a message for the catalogues where it is defined; it is translated where used."""
    return message


def resolve_language(tag: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The language to speak to someone whose Telegram is set to ``tag`` (an IETF tag such as
    ``ko``, ``pt-br`` or ``zh-hans``): the exact language, else its primary language, else
    ``default``. Every Chinese tag gets Simplified Chinese, the only Chinese catalogue: a
    reader of Traditional characters reads it more easily than the default."""
    if not tag:
        return default
    parts = [p for p in re.split(r"[-_]", tag.strip().lower()) if p]
    if not parts:
        return default
    by_lower = {code.lower(): code for code in LANGUAGES}
    exact = by_lower.get("_".join(parts))
    if exact is not None:
        return exact
    if parts[0] == "zh":
        return "zh_Hans"
    return by_lower.get(parts[0], default)


def supported_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """``code`` if Tipline speaks it (a stored choice may name a language since removed),
    else ``default``."""
    return code if code in LANGUAGES else default


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _translations(code: str) -> NullTranslations:
    """A language's catalogue as gettext translations, read from its ``.po`` file once."""
    if code == DEFAULT_LANGUAGE:
        return NullTranslations()
    with catalogue_path(code).open("rb") as handle:
        catalogue = read_po(handle, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # in memory: fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return GNUTranslations(compiled)


class Safe(str):
    """Text already rendered for its :class:`Texts` (escaped, isolated): inserted as it is."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Texts:
    """One reader's language, and how values go into its sentences.

    ``html`` (Telegram): values are escaped and isolated. Plain (the terminal, JSON): values are
    inserted as they are, without bidi controls.
    """

    language: Language
    html: bool = True
    _catalogue: NullTranslations = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_catalogue", _translations(self.language.code))

    @property
    def code(self) -> str:
        return self.language.code

    @property
    def plain(self) -> Texts:
        """The same language without markup: button labels, callback answers, the terminal."""
        return texts_for(self.code, html=False)

    # -- messages -----------------------------------------------------------------------------

    def _(self, message: str, **values: Any) -> Safe:
        """The message in this language, with ``values`` filled in."""
        return self._fill(self._catalogue.gettext(message), values)

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> Safe:
        """The plural form for ``n`` (given to the message as ``{n}`` too)."""
        return self._fill(self._catalogue.ngettext(singular, plural, n), {"n": n, **values})

    def pgettext(self, context: str, message: str, **values: Any) -> Safe:
        """A message whose translation depends on where it is used."""
        return self._fill(self._catalogue.pgettext(context, message), values)

    def _fill(self, text: str, values: Mapping[str, Any]) -> Safe:
        if self.html and self.language.rtl:
            text = _COMMAND.sub(LRM + "/", text)
        if not values:
            return Safe(text)
        return Safe(text.format_map({k: self.value(v) for k, v in values.items()}))

    # -- values -------------------------------------------------------------------------------

    def value(self, value: Any) -> Safe:
        """A value as it goes into a sentence: rendered text stays; numbers are written out;
        any other text is someone else's (see :meth:`user`)."""
        if isinstance(value, Safe):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.user(str(value))
        return Safe(str(value))

    def decimal(self, value: float, digits: int = 1) -> Safe:
        """A measured number with this language's decimal mark (``1,5`` in Spanish)."""
        pattern = "0." + "0" * digits if digits > 0 else "0"
        return Safe(format_decimal(value, format=pattern, locale=Locale.parse(self.code)))

    def duration(self, span: timedelta, *, ahead: bool = False) -> Safe:
        """A span of time in whole minutes or more, in this language's words (``10 minutes``);
        ``ahead``: from now (``in 7 minutes``), so no number needs a plural form of ours."""
        words = format_timedelta(
            max(span, timedelta(minutes=1)),
            granularity="minute",
            threshold=1.0,
            add_direction=ahead,
            locale=Locale.parse(self.code),
        )
        return Safe(escape(words, quote=False) if self.html else words)

    def user(self, text: str, *, isolate: bool = True) -> Safe:
        """Text typed by someone else: escaped, without bidi controls, isolated (unless it is
        a paragraph of its own, whose direction its own first letter decides)."""
        clean = _BIDI_CONTROLS.sub("", text)
        if not self.html:
            return Safe(clean)
        escaped = escape(clean, quote=False)
        return Safe(f"{FSI}{escaped}{PDI}" if isolate else escaped)

    def ltr(self, text: str) -> Safe:
        """A code of ours that reads left to right: a date, coordinates, a command."""
        clean = escape(text, quote=False) if self.html else text
        if self.html and self.language.rtl:
            return Safe(f"{LRI}{clean}{PDI}")
        return Safe(clean)

    def ticket(self, ticket: str) -> Safe:
        """A ticket code to copy: monospaced, the isolate outside so a tap copies the code."""
        if not self.html:
            return Safe(ticket)
        code = f"<code>{escape(ticket, quote=False)}</code>"
        return Safe(f"{LRI}{code}{PDI}" if self.language.rtl else code)

    def attribute(self, text: str) -> Safe:
        """A value inside an HTML attribute (a link's address): escaped, never isolated."""
        return Safe(escape(_BIDI_CONTROLS.sub("", text), quote=True) if self.html else text)

    def join(self, items: Sequence[str]) -> Safe:
        """``A, B and C`` in this language; each item is someone else's text."""
        rendered = [self.user(item) for item in items]
        if not rendered:
            return Safe("")
        return Safe(format_list(rendered, locale=Locale.parse(self.code)))


@functools.cache
def texts_for(code: str, *, html: bool = True) -> Texts:
    """The :class:`Texts` of a supported language code (see :func:`resolve_language`)."""
    return Texts(LANGUAGES[code], html=html)
