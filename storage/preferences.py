"""Tipsters' preferences over SQL: the language each chose, by pseudonym."""

from __future__ import annotations

from storage.sql_runner import SqlRunner, non_empty
from storage.tips import Preferences

__all__ = ["PreferencesRepository"]


class PreferencesRepository(SqlRunner, Preferences):
    """:class:`storage.tips.Preferences` over SQL."""

    async def language_of(self, pseudonym: str) -> str | None:
        rows = await self._run("read a language", self._tips.language_of, pseudonym)
        return rows[0]["language"] if rows else None

    async def set_language(self, pseudonym: str, language: str) -> None:
        _, now = self._now()
        await self._run(
            "remember a language",
            self._tips.set_language,
            non_empty(pseudonym, "a pseudonym"),
            non_empty(language, "a language"),
            now,
        )
