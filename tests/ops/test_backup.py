"""Backups and restores as the README describes them: `db backup`, then copy the file back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import FeedSpec
from bot.store import open_store
from tests.ops.support import make_paper

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "papers.jsonl"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with the fixture corpus and one feed; returns its path."""
    db = tmp_path / "data" / "paperfeed.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{db}"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(config))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["import", str(FIXTURE)]) == 0
    assert (
        main(["feeds", "add", "causal", "--channel", "555555555555555555", "--query", "causal"])
        == 0
    )
    return db


def search_total(capsys: pytest.CaptureFixture[str], query: str) -> int:
    capsys.readouterr()
    assert main(["search", query, "--json"]) == 0
    return int(json.loads(capsys.readouterr().out)["total"])


def test_backup_is_private_and_refuses_to_overwrite(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backups" / "paperfeed-2026-11-27.sqlite3"
    backup.parent.mkdir()  # `db backup` creates no folders (issue 12 item 7)
    assert main(["db", "backup", str(backup)]) == 0
    assert "backed up 20 papers" in capsys.readouterr().out
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert main(["db", "backup", str(backup)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_restore_by_copying_the_backup_over_the_stopped_database(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.sqlite3"
    assert main(["db", "backup", str(backup)]) == 0
    before = search_total(capsys, "causal")

    async def change_after_the_backup() -> None:
        async with open_store(str(live)) as store:
            await store.papers.upsert([make_paper("2411.09999", "Causal bandits after backup")])
            await store.feeds.add(FeedSpec(name="later", channel_id=6, query="x"), guild_id=1)

    asyncio.run(change_after_the_backup())
    assert search_total(capsys, "causal") == before + 1

    # The README's restore: with the bot stopped, drop the WAL side files, copy the backup in.
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, live)

    assert search_total(capsys, "causal") == before
    capsys.readouterr()
    assert main(["feeds", "list", "--json"]) == 0
    assert [f["name"] for f in json.loads(capsys.readouterr().out)["feeds"]] == ["causal"]

    async def check() -> None:
        async with open_store(str(live), create=False) as store:
            assert await store.integrity_check() == "ok"
            assert await store.papers.count() == 20
            assert await store.check_writable()

    asyncio.run(check())


# -- issue 12 item 7: a bad destination is one line, and nothing is created unasked ----------------


@pytest.mark.parametrize(
    ("make_dest", "expected"),
    [
        (lambda tmp: tmp / "missing" / "deeper" / "copy.sqlite3", "no such folder"),
        (lambda tmp: tmp / "a-file" / "copy.sqlite3", "not a folder"),
    ],
)
def test_backup_to_a_bad_folder_is_one_line_exit_1_and_creates_nothing(
    live: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_dest: object,
    expected: str,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    dest = make_dest(tmp_path)  # type: ignore[operator]
    capsys.readouterr()
    assert main(["db", "backup", str(dest)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err and str(dest.parent) in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_backup_into_an_unwritable_folder_is_one_line_exit_1(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refusing_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).parent == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    capsys.readouterr()
    assert main(["db", "backup", str(locked / "copy.sqlite3")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Permission denied" in err and "Traceback" not in err
    assert list(locked.iterdir()) == []
