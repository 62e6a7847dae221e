"""SQLite's online backup: a private copy that never overwrites and creates no folders."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import open_store
from bot.store.sqlite.database import SqliteDatabase
from tests.store.contract.support import paper


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "db" / "papers.sqlite3")) as database:
        yield database


async def test_backup_is_private_and_never_overwrites(db: SqliteDatabase, tmp_path: Path) -> None:
    await db.papers.upsert([paper("2401.00001")])
    (tmp_path / "backups").mkdir()  # backup() creates no folders
    dest = await db.backup(tmp_path / "backups" / "copy")
    assert dest.exists() and stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    with pytest.raises(StoreError, match="already exists"):
        await db.backup(dest)


async def test_backup_refuses_a_bad_folder_and_creates_none(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(StoreError, match="no such folder"):
        await db.backup(work / "no" / "such" / "copy")
    (work / "a-file").write_text("")
    with pytest.raises(StoreError, match="not a folder"):
        await db.backup(work / "a-file" / "copy")
    assert list(work.iterdir()) == [work / "a-file"]  # no folder, no partial copy
