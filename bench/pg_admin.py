"""The PostgreSQL benchmarks' server chores: a database's URL beside the admin one, statements
run as the admin, a database made afresh."""

from __future__ import annotations

import urllib.parse

import asyncpg


def database_url(admin: str, name: str) -> str:
    """The URL of database `name` on the server of the `admin` URL."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(admin)._replace(path="/" + name))


async def admin_execute(admin: str, *statements: str) -> None:
    """Run `statements` in order on one admin connection."""
    conn = await asyncpg.connect(admin)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def recreate_database(admin: str, name: str) -> str:
    """Database `name` dropped (connections forced off) and made empty again; its URL."""
    await admin_execute(
        admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"
    )
    return database_url(admin, name)
