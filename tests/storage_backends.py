"""What both storage contract suites share: a throwaway PostgreSQL schema per test, raw SQL as
another writer would run it, random hashes. (The parametrised ``backend_server`` fixture is in
conftest.)"""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import asyncpg

#: Seeded, so a failing run can be repeated.
RNG = random.Random(20240601)


def rand_hex(bits: int) -> str:
    return format(RNG.getrandbits(bits), f"0{bits // 4}x")


def flip(value: str, count: int) -> str:
    number = int(value, 16)
    for bit in RNG.sample(range(len(value) * 4), count):
        number ^= 1 << bit
    return format(number, f"0{len(value)}x")


@asynccontextmanager
async def fresh_schema(url: str, prefix: str = "tipline_test_") -> AsyncIterator[str]:
    """A new empty schema on the server; yields a URL whose search_path points at it. The
    schema is dropped at the end."""
    schema = f"{prefix}{secrets.token_hex(6)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}search_path={schema}"
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def sqlite_execute(path: Path, sql: str) -> None:
    async with aiosqlite.connect(path) as conn:
        await conn.execute(sql)
        await conn.commit()


async def postgres_execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
