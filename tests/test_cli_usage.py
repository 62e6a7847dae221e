"""Issue 12: the command line behaves as its README says for usage, messages and `--json`."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from bot.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "papers.jsonl"


@pytest.fixture
def config(cli_config: Path) -> Path:
    """A configuration pointing at a database that does not exist yet."""
    return cli_config


@pytest.fixture
def corpus(config: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["import", str(FIXTURE)]) == 0
    capsys.readouterr()
    return config


def search_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["search", *args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


# -- item 9: usage -------------------------------------------------------------------------------


def test_a_query_may_start_with_a_dash(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = search_json(capsys, "interpretability -causal", "--json")
    dashed = search_json(capsys, "-causal", "interpretability", "--json")
    assert dashed["query"] == "-causal interpretability"
    assert [r["id"] for r in dashed["results"]] == [r["id"] for r in plain["results"]]
    assert dashed["total"] == plain["total"] > 0


def test_options_work_in_any_position_around_the_query(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = search_json(capsys, "--limit", "2", "--json", "causal", "-survey")
    last = search_json(capsys, "causal", "-survey", "--sort", "recent", "--limit=2", "--json")
    assert first["query"] == last["query"] == "causal -survey"
    assert len(first["results"]) == len(last["results"]) == 2


def test_a_query_of_several_words_needs_no_quotes(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quoted = search_json(capsys, "causal discovery", "--json")
    words = search_json(capsys, "causal", "discovery", "--json")
    assert words == quoted


def test_a_dash_word_that_looks_like_help_is_a_query_word(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = search_json(capsys, "-hypothesis", "causal", "--json")
    assert result["query"] == "-hypothesis causal"


@pytest.mark.parametrize(
    "argv",
    [
        ["search"],
        ["search", "causal", "--limit", "many"],
        ["search", "causal", "--frobnicate"],
        ["nonsense"],
        ["db"],
        ["show"],
    ],
)
def test_usage_errors_are_one_line_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("paperfeed")
    assert "usage:" not in captured.err
    assert captured.out == ""


def test_paperfeed_alone_lists_the_commands(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("run", "search", "show", "import", "poll", "feeds", "db", "check-config"):
        assert re.search(rf"^ +{command}\b", out, re.MULTILINE), out


def test_help_still_exits_0(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--help"]) == 0
    assert "--since" in capsys.readouterr().out


def test_db_backup_takes_json(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "copy.sqlite3"
    assert main(["db", "backup", str(dest), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {"path": str(dest), "papers": 20}


# -- item 11: messages ---------------------------------------------------------------------------


def test_no_match_inside_the_window_says_how_many_match_outside(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everywhere = search_json(capsys, "causal", "--json")["total"]
    assert everywhere > 0
    capsys.readouterr()
    assert main(["search", "causal", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert f"{everywhere} older papers" in out and "--since" in out
    assert "no papers match" not in out


def test_searching_an_empty_database_says_it_is_empty(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "causal"]) == 0
    out = capsys.readouterr().out
    assert "empty" in out and "paperfeed import" in out
    assert "no papers match" not in out


def test_first_use_logs_no_migration_lines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "causal"]) == 0
    assert "migration" not in capsys.readouterr().err


def test_feeds_add_prints_its_result_once(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["feeds", "add", "causal", "--channel", "123456789012345678", "--query", "causal"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "added" in captured.out
    assert "causal" not in captured.err, captured.err


def test_an_upgrade_is_one_info_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import sqlite3

    import aiosqlite

    from bot.store.sqlite.migrate import available_migrations, migrate

    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()
    latest = available_migrations()[-1].version

    async def run(target: int | None) -> None:
        async with aiosqlite.connect(path) as conn:
            await migrate(conn, target)

    with caplog.at_level(logging.INFO, logger="bot.store.sqlite.migrate"):
        asyncio.run(run(1))
        assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
        asyncio.run(run(None))
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(infos) == 1, infos
    assert "1" in infos[0] and str(latest) in infos[0]
