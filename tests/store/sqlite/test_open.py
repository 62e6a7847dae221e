"""Opening SQLite files: private, in WAL mode, clear errors for what is not a database."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import open_store
from tests.store.contract.support import paper


async def test_database_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "p.sqlite3"
    async with open_store(str(path)) as s:
        assert await s.integrity_check() == "ok"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] >= 1


async def test_a_backup_is_a_database_with_the_committed_rows(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "p.sqlite3")) as store:
        await store.papers.upsert([paper("2401.00001")])
        (tmp_path / "backups").mkdir()  # backup() creates no folders
        dest = await store.backup(tmp_path / "backups" / "copy.sqlite3")
    async with open_store(str(dest), create=False) as copy:
        assert await copy.papers.count() == 1
        assert await copy.integrity_check() == "ok"


async def test_opening_something_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a usable paperfeed database"):
        async with open_store(str(bogus)):
            pass


async def test_missing_database_without_create_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database here"):
        async with open_store(str(tmp_path / "none.sqlite3"), create=False):
            pass


async def test_an_in_memory_database_works_without_a_file(tmp_path: Path) -> None:
    async with open_store(":memory:") as store:
        await store.papers.upsert([paper("2401.00001")])
        assert await store.papers.count() == 1
        assert await store.check_writable()
        dest = await store.backup(tmp_path / "copy.sqlite3")
    async with open_store(str(dest), create=False) as copy:
        assert await copy.papers.count() == 1
