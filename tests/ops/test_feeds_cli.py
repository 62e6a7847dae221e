"""`paperfeed feeds ...` from the shell: list, add, remove, pause, resume, export, import."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import main
from bot.cli.feeds import feeds_to_toml, toml_string
from bot.config import parse_config_text
from bot.models import FeedMode, FeedSpec

GUILD = "111111111111111111"
CHANNEL = "222222222222222222"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration pointing at a fresh database in a temporary folder."""
    return use_database(tmp_path / "one", monkeypatch)


def use_database(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(f'[database]\npath = "{folder / "paperfeed.sqlite3"}"\n')
    monkeypatch.setenv("PAPERFEED_CONFIG", str(config))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(list(args)) == code, capsys.readouterr()
    return capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    return json.loads(run(capsys, *args, "--json"))


def add_samples(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "feeds", "add", "causality", "--channel", CHANNEL, "--guild", GUILD,
        "--query", 'causal (inference OR discovery) author:"Bernhard Schölkopf"')  # fmt: skip
    run(capsys, "feeds", "add", "it's \\ odd", "--channel", "333333333333333333", "--guild", GUILD,
        "--query", "diffusion OR flow", "--mode", "digest", "--digest-time", "07:30",
        "--digest-size", "5", "--categories", "cs.LG,cs.CV", "--sources", "arxiv",
        "--min-upvotes", "4", "--backfill", "0")  # fmt: skip


def test_add_then_list_as_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_samples(capsys)
    feeds = run_json(capsys, "feeds", "list")["feeds"]
    assert [f["name"] for f in feeds] == ["causality", "it's \\ odd"]
    first = feeds[0]
    for key in ("id", "name", "guild_id", "channel_id", "query", "mode", "origin", "paused",
                "pause_reason"):  # fmt: skip
        assert key in first
    assert first["guild_id"] == GUILD and first["channel_id"] == CHANNEL
    assert first["origin"] == "discord" and first["paused"] is False
    assert first["mode"] == "instant"
    second = feeds[1]
    assert (second["mode"], second["digest_time"], second["digest_size"]) == ("digest", "07:30", 5)
    assert second["categories"] == ["cs.LG", "cs.CV"] and second["sources"] == ["arxiv"]
    assert second["min_upvotes"] == 4 and second["backfill"] == 0
    assert run_json(capsys, "feeds", "list", "--guild", "999")["feeds"] == []
    text = run(capsys, "feeds", "list")
    assert 'feed 1 "causality"' in text and "digest at 07:30 UTC" in text


def test_add_refuses_bad_values_with_one_line(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra, wanted in (
        (["--query", "(" * 20 + "x"], "nests parentheses"),
        (["--query", "a", "--digest-time", "25:00"], 'digest_time: expected a UTC time like "09:00"'),
        (["--query", "a", "--categories", "cs.LG.x"], "categories"),
        (["--query", "a", "--sources", "reddit"], "sources"),
        (["--query", "a", "--backfill", "99"], "backfill"),
    ):  # fmt: skip
        capsys.readouterr()
        assert main(["feeds", "add", "x", "--channel", "555555555555555555", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and wanted in err, err
    assert main(["feeds", "add", "x", "--channel", "555555555555555555", "--query=-survey"]) == 2
    assert run_json(capsys, "feeds", "list")["feeds"] == []


def test_pause_resume_and_remove_by_name_or_id(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_samples(capsys)
    paused = run_json(capsys, "feeds", "pause", "causality", "--reason", "too noisy")
    assert paused["changed"] and paused["feed"]["paused"]
    assert paused["feed"]["pause_reason"] == "too noisy"
    assert "already paused" in run(capsys, "feeds", "pause", "1")
    feeds = run_json(capsys, "feeds", "list")["feeds"]
    assert [f["paused"] for f in feeds] == [True, False]
    assert not run_json(capsys, "feeds", "resume", "CAUSALITY")["feed"]["paused"]
    assert "removed" in run(capsys, "feeds", "remove", "2")
    assert [f["name"] for f in run_json(capsys, "feeds", "list")["feeds"]] == ["causality"]
    capsys.readouterr()
    assert main(["feeds", "remove", "nope"]) == 1
    assert "no feed" in capsys.readouterr().err


def test_an_ambiguous_name_asks_for_the_id_or_guild(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        capsys,
        "feeds",
        "add",
        "same",
        "--channel",
        "555555555555555555",
        "--guild",
        "1",
        "--query",
        "a",
    )
    run(
        capsys,
        "feeds",
        "add",
        "same",
        "--channel",
        "666666666666666666",
        "--guild",
        "2",
        "--query",
        "b",
    )
    capsys.readouterr()
    assert main(["feeds", "pause", "same"]) == 2
    assert "several feeds" in capsys.readouterr().err
    assert (
        run_json(capsys, "feeds", "pause", "same", "--guild", "2")["feed"]["channel_id"]
        == "666666666666666666"
    )
    assert main(["feeds", "export"]) == 2  # one file cannot hold both
    assert "--guild" in capsys.readouterr().err
    assert "same" in run(capsys, "feeds", "export", "--guild", "1")


def test_export_import_round_trip_into_a_fresh_database(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_samples(capsys)
    exported = run(capsys, "feeds", "export")
    assert exported.count("\n[[feeds]]\n") == 2
    parsed = parse_config_text(exported, {}).feeds  # a valid config.toml fragment too
    assert [f.name for f in parsed] == ["causality", "it's \\ odd"]
    file = tmp_path / "feeds.toml"
    assert "exported 2" in run(capsys, "feeds", "export", str(file))
    assert file.read_text(encoding="utf-8") == exported

    use_database(tmp_path / "two", monkeypatch)
    result = run_json(capsys, "feeds", "import", str(file), "--guild", GUILD)
    assert result["created"] == ["causality", "it's \\ odd"]
    assert result["updated"] == result["unchanged"] == result["skipped"] == []
    assert run(capsys, "feeds", "export") == exported
    moved = run_json(capsys, "feeds", "list")["feeds"]
    assert {f["guild_id"] for f in moved} == {GUILD}

    again = run_json(capsys, "feeds", "import", str(file), "--guild", GUILD)
    assert again["unchanged"] == ["causality", "it's \\ odd"] and again["created"] == []
    file.write_text(exported.replace('"diffusion OR flow"', '"diffusion OR flows"'))
    changed = run(capsys, "feeds", "import", str(file), "--guild", GUILD)
    assert "created=0 updated=1 unchanged=1" in changed
    assert run_json(capsys, "feeds", "list")["feeds"][1]["query"] == "diffusion OR flows"


def test_importing_an_export_without_a_guild_duplicates_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12 item 6: re-importing an export (no --guild) made a second feed per channel."""
    add_samples(capsys)
    file = tmp_path / "feeds.toml"
    run(capsys, "feeds", "export", str(file))
    before = run_json(capsys, "feeds", "list")["feeds"]
    for _ in range(2):
        result = run_json(capsys, "feeds", "import", str(file))
        assert result["created"] == [] and result["updated"] == []
        assert result["unchanged"] == ["causality", "it's \\ odd"]
    assert run_json(capsys, "feeds", "list")["feeds"] == before

    # Renamed in the file: the same channel and query is the same feed, renamed in place.
    file.write_text(file.read_text().replace('name = "causality"', 'name = "causal"'))
    renamed = run_json(capsys, "feeds", "import", str(file))
    assert renamed["updated"] == ["causal"] and renamed["created"] == []
    feeds = run_json(capsys, "feeds", "list")["feeds"]
    assert [(f["id"], f["name"], f["guild_id"]) for f in feeds] == [
        (before[0]["id"], "causal", GUILD),
        (before[1]["id"], "it's \\ odd", GUILD),
    ]
    # With the guild named, the same file is still the same feeds.
    again = run_json(capsys, "feeds", "import", str(file), "--guild", GUILD)
    assert again["unchanged"] == ["causal", "it's \\ odd"] and again["created"] == []
    # A new feed on a known channel joins that channel's guild.
    file.write_text(feeds_to_toml([FeedSpec(name="more", channel_id=int(CHANNEL), query="flow")]))
    assert run_json(capsys, "feeds", "import", str(file))["created"] == ["more"]
    assert run_json(capsys, "feeds", "list")["feeds"][-1]["guild_id"] == GUILD


def test_import_refuses_a_bad_file_whole(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.toml"
    for text, wanted in (
        ("[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'x'\n[[feeds]]\nname = 'b'\n", "channel_id: missing"),
        ("[discord]\napi_base = 'https://x'\n", "only [[feeds]] tables"),
        ("[[feeds]\n", "not valid TOML"),
        ("[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'x'\ncolour = 'red'\n", "unknown key"),
    ):  # fmt: skip
        file.write_text(text)
        capsys.readouterr()
        assert main(["feeds", "import", str(file)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(file) in err and wanted in err, err
    assert run_json(capsys, "feeds", "list")["feeds"] == []


def test_file_managed_feeds_are_left_to_the_file(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.models import FeedOrigin
    from bot.store import open_store

    async def add_config_feed() -> None:
        async with open_store(str(db / "paperfeed.sqlite3")) as store:
            spec = FeedSpec(name="from-file", channel_id=999999999999999999, query="a")
            await store.feeds.add(spec, guild_id=None, origin=FeedOrigin.CONFIG)

    asyncio.run(add_config_feed())
    capsys.readouterr()
    assert main(["feeds", "remove", "from-file"]) == 2
    assert "configuration file" in capsys.readouterr().err
    file = tmp_path / "f.toml"
    file.write_text(
        feeds_to_toml([FeedSpec(name="from-file", channel_id=999999999999999999, query="b")])
    )
    result = run_json(capsys, "feeds", "import", str(file))
    assert result["skipped"] == [
        {"name": "from-file", "reason": "managed by the configuration file"}
    ]
    assert run_json(capsys, "feeds", "list")["feeds"][0]["query"] == "a"


@given(st.text(max_size=80))
def test_any_string_survives_a_trip_through_toml(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}\n")["v"] == text


def test_quoting_prefers_the_readable_form() -> None:
    assert toml_string("causal") == '"causal"'
    assert toml_string('author:"Ada Lovelace"') == "'author:\"Ada Lovelace\"'"
    assert toml_string('it\'s "x"') == '"it\'s \\"x\\""'
    assert toml_string("a\nb\x7f") == '"a\\nb\\u007F"'
    spec = FeedSpec(name="n", channel_id=2**63 - 1, query="q", mode=FeedMode.DIGEST)
    assert parse_config_text(feeds_to_toml([spec]), {}).feeds == (spec,)
