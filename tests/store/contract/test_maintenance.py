"""Maintenance through the interface: backups, and the checks that health reports."""

from __future__ import annotations

from pathlib import Path

from bot.errors import StoreError
from bot.store.interfaces import Database
from tests.store.contract.support import paper


async def test_backup_copies_the_file_or_names_the_servers_tool(
    db: Database, tmp_path: Path
) -> None:
    """SQLite copies itself (tests/store/sqlite/test_backup.py has the details); a server
    database is backed up with the server's own tool, which the error names, creating nothing."""
    await db.papers.upsert([paper("2401.00001")])
    (tmp_path / "backups").mkdir()
    try:
        dest = await db.backup(tmp_path / "backups" / "copy")
    except StoreError as exc:
        assert "pg_dump" in str(exc) and len(str(exc).splitlines()) == 1
        assert list((tmp_path / "backups").iterdir()) == []
    else:
        assert dest.exists() and dest.stat().st_size > 0


async def test_a_healthy_database_says_so(db: Database) -> None:
    assert await db.integrity_check() == "ok"
    assert await db.check_writable() is True
    async with db.transaction():
        await db.papers.upsert([paper("2401.00001")])
        assert await db.check_writable() is True  # a probe never disturbs an open transaction
    assert await db.papers.count() == 1
