"""Issue 16: `paperfeed follows list|remove`: the operator's view of members' personal follows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.follows import FollowService
from bot.store import open_store
from tests.factories import NOW


async def _seed(db: Path) -> None:
    async with open_store(str(db), clock=lambda: NOW) as store:
        follows = FollowService(store, lambda: NOW)
        await follows.follow(111, "causal", mode="instant")
        await follows.follow(111, 'author:"Ada Lovelace"', time="09:30", min_upvotes=5)
        await follows.follow(222, "diffusion")
        await store.follows.set_notice(111, "DMs closed")


@pytest.fixture
def seeded(cli_config: Path) -> Path:
    asyncio.run(_seed(cli_config.parent / "papers.sqlite3"))
    return cli_config


def test_list_shows_every_members_follows_or_one_members(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["follows", "list"]) == 0
    out = capsys.readouterr().out
    assert 'member 111: "Ada Lovelace", daily at 09:30 UTC, 5+ upvotes, active' in out
    assert 'member 222: "diffusion"' in out and "3 follow(s) by 2 member(s)" in out
    assert main(["follows", "list", "--user", "222", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(f["user_id"], f["name"], f["mode"]) for f in doc["follows"]] == [
        ("222", "diffusion", "daily")
    ]
    assert doc["members"] == 2 and doc["dms_refused"] == 0


def test_remove_one_or_forget_the_member(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["follows", "remove", "--user", "111", "causal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == 1
    assert main(["follows", "remove", "--user", "111", "causal"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'no follow named "causal"' in err
    assert main(["follows", "remove", "--user", "111", "--all"]) == 0
    assert "forgot member 111: 1 follow(s)" in capsys.readouterr().out
    assert main(["follows", "list", "--user", "111", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["follows"] == []
    assert main(["follows", "list", "--user", "222", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["follows"]) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["follows", "remove", "causal"],  # no --user
        ["follows", "remove", "--user", "111"],  # neither NAME nor --all
        ["follows", "remove", "--user", "111", "causal", "--all"],
        ["follows", "list", "--user", "nobody"],
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    cli_config: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
