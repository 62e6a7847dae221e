"""Maintenance through the interface: backups are private and never overwrite, checks answer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.interfaces import Database
from tests.store.contract.support import paper


async def test_backup_is_private_and_never_overwrites(db: Database, tmp_path: Path) -> None:
    await db.papers.upsert([paper("2401.00001")])
    (tmp_path / "backups").mkdir()  # backup() creates no folders
    dest = await db.backup(tmp_path / "backups" / "copy")
    assert dest.exists() and stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    with pytest.raises(StoreError, match="already exists"):
        await db.backup(dest)


async def test_backup_refuses_a_bad_folder_and_creates_none(db: Database, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(StoreError, match="no such folder"):
        await db.backup(work / "no" / "such" / "copy")
    (work / "a-file").write_text("")
    with pytest.raises(StoreError, match="not a folder"):
        await db.backup(work / "a-file" / "copy")
    assert list(work.iterdir()) == [work / "a-file"]  # no folder, no partial copy


async def test_a_healthy_database_says_so(db: Database) -> None:
    assert await db.integrity_check() == "ok"
    assert await db.check_writable() is True
    async with db.transaction():
        await db.papers.upsert([paper("2401.00001")])
        assert await db.check_writable() is True  # a probe never disturbs an open transaction
    assert await db.papers.count() == 1
