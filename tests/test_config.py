"""Configuration: defaults without a file, one clear line for every kind of mistake."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    Config,
    Secret,
    describe,
    format_duration,
    load_config,
    parse_config_text,
    parse_duration,
    search_index_path,
)
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "MTIz.FAKE-TOKEN-for-tests.xyz"


def test_no_file_at_all_gives_working_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"DISCORD_TOKEN": TOKEN})
    assert config.path is None
    assert config.discord.token.get() == TOKEN
    assert config.sources.arxiv.interval == timedelta(hours=1)
    assert config.sources.huggingface.interval == timedelta(minutes=20)
    assert config.database.path == "data/paperfeed.sqlite3"
    assert config.feeds == ()


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(str(tmp_path / "nope.toml"), {})


def test_env_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pf.toml"
    path.write_text('[database]\npath = "x.sqlite3"\n')
    config = load_config(None, {"PAPERFEED_CONFIG": str(path)})
    assert config.database.path == "x.sqlite3"
    assert config.path == str(path)


def test_example_file_parses_and_matches_the_defaults() -> None:
    example = (ROOT / "config.example.toml").read_text()
    parsed = parse_config_text(example, {}, "config.example.toml")
    defaults = Config()
    for f in fields(Config):
        if f.name == "path":
            continue
        assert getattr(parsed, f.name) == getattr(defaults, f.name), f.name


def test_example_file_documents_every_key() -> None:
    """Every key the loader knows appears in the example (the commented [[feeds]] included)."""
    example = (ROOT / "config.example.toml").read_text()
    uncommented = re.sub(r"(?m)^# (\[\[feeds\]\]|\w+ = )", r"\1", example)
    raw = tomllib.loads(uncommented)
    described = describe(parse_config_text(uncommented, {}, "x"))
    for section in ("discord", "cluster", "database", "health", "logging", "semantic", "search"):
        for key in described[section].keys() - {"token"}:  # the token never sits in a file
            assert key in raw[section], f"[{section}] {key} missing from config.example.toml"
    for name in ("huggingface", "arxiv"):
        assert set(described["sources"][name]) == set(raw["sources"][name])
    assert set(described["feeds"][0]) == set(raw["feeds"][0])


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[sources.arxiv]\ninterval = "soon"',
            '[sources.arxiv] interval: expected a duration like "30m", got "soon"',
        ),
        ("[sources.arxiv]\ninterval = 30", "[sources.arxiv] interval: expected a duration"),
        ('[sources.arxiv]\ninterval = "0m"', "[sources.arxiv] interval"),
        (
            "[discord]\nalerts_channel_id = -5",
            "[discord] alerts_channel_id: expected a Discord channel id or 0",
        ),
        (
            '[discord]\ndev_guild_ids = ["abc"]',
            "[discord] dev_guild_ids: expected a list of Discord guild ids",
        ),
        ('[discord]\ntoken = "abc"', "[discord] token: the token must not be in a config file"),
        ("[discrod]\n", "discrod: unknown key"),
        ("[sources.arxiv]\ncategorys = []", "[sources.arxiv] categorys: unknown key"),
        (
            '[sources.arxiv]\ncategories = ["cs LG"]',
            "[sources.arxiv] categories: expected a list of arXiv categories",
        ),
        (
            '[sources.huggingface]\nbase_url = "ftp://x"',
            "[sources.huggingface] base_url: expected an http(s) URL",
        ),
        (
            "[sources.huggingface]\nenabled = 1",
            "[sources.huggingface] enabled: expected true or false, got 1",
        ),
        ("[health]\nport = 70000", "[health] port: expected a port"),
        ('[logging]\nlevel = "LOUD"', "[logging] level: expected one of"),
        ('[logging]\nformat = "xml"', '[logging] format: expected "text" or "json"'),
        ('[discord]\ngateway_url = "http://x"', "[discord] gateway_url"),
        ("[[feeds]]\nchannel_id = 1\nquery = 'x'", "[[feeds]] #1 name: missing"),
        ("[[feeds]]\nname = 'a'\nquery = 'x'", '[[feeds]] "a" channel_id: missing'),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 'x'\nquery = 'q'",
            '[[feeds]] "a" channel_id: expected a Discord channel id',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'q'\nmode = 'hourly'",
            '[[feeds]] "a" mode: expected "instant" or "digest"',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'q'\ndigest_time = '9am'",
            '[[feeds]] "a" digest_time: expected a UTC time like "09:00"',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'q'\nsources = ['reddit']",
            '[[feeds]] "a" sources',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'q'\ncolour = 'red'",
            '[[feeds]] "a" colour: unknown key',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = '-survey'",
            '[[feeds]] "a" query:',
        ),
        (
            "[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'x'\n[[feeds]]\nname = 'a'\nchannel_id = 666666666666666666\nquery = 'y'",
            '"a" is used twice',
        ),
        ("feeds = 3", "feeds: expected [[feeds]] tables"),
        ("[database\n", "not valid TOML"),
    ],
)
def test_bad_files_are_refused_with_one_line_naming_file_key_and_expectation(
    toml: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text(toml, {}, "config.toml")
    text = str(info.value)
    assert text.startswith("config.toml: ")
    assert message in text
    assert "\n" not in text


def test_feeds_are_read_with_defaults() -> None:
    config = parse_config_text(
        "[[feeds]]\nname = 'causality'\nchannel_id = 123456789012345678\n"
        "query = 'causal (inference OR discovery) -survey'\nmode = 'digest'\n",
        {},
    )
    (feed,) = config.feeds
    assert feed.name == "causality"
    assert feed.channel_id == 123456789012345678
    assert feed.mode.value == "digest"
    assert feed.sources == ("huggingface", "arxiv")
    assert feed.backfill == 3


def test_token_file_wins_and_token_never_shows(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    config = parse_config_text(f'[discord]\ntoken_file = "{secret}"', {"DISCORD_TOKEN": "other"})
    assert config.discord.token.get() == TOKEN
    for text in (repr(config), str(config), repr(config.discord), str(describe(config))):
        assert TOKEN not in text


def test_unreadable_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[discord\] token_file: cannot read"):
        parse_config_text(f'[discord]\ntoken_file = "{tmp_path / "missing"}"', {})


def test_secret_hides_itself() -> None:
    s = Secret(TOKEN)
    assert TOKEN not in repr(s) and TOKEN not in str(s) and TOKEN not in f"{s}"
    assert s.get() == TOKEN and bool(s)
    assert not Secret("")


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("20m", 1200), ("6h", 21600), ("1d", 86400), (" 2h ", 7200)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["soon", "", "5", "5 minutes", "-5m", "1w", "0s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("backfill = 99", "backfill: expected a number from 0 to 50, got 99"),
        (
            "min_upvotes = 1000001",
            "min_upvotes: expected a whole number from 0 to 1000000, got 1000001",
        ),
    ],
)
def test_feed_limits_are_the_feeds_services_in_its_words(option: str, message: str) -> None:
    """Issue 13: the config file, the CLI and /feed add refuse the same value in the same words."""
    toml = f"[[feeds]]\nname = 'a'\nchannel_id = 555555555555555555\nquery = 'x'\n{option}"
    with pytest.raises(ConfigError) as info:
        parse_config_text(toml, {}, "config.toml")
    assert str(info.value) == f'config.toml: [[feeds]] "a" {message}'


# --- [database] url: PostgreSQL, with the password never shown ------------------------------

PG_URL = "postgresql://paperfeed:hunter2-SECRET@db.example:5432/paperfeed"


def test_database_url_selects_postgresql_and_hides_the_password() -> None:
    config = parse_config_text(f'[database]\nurl = "{PG_URL}"', {})
    assert config.database.backend == "postgresql"
    assert config.database.url is not None and config.database.url.get() == PG_URL
    shown = [repr(config), str(config.database.url), repr(config.database), str(describe(config))]
    for text in shown:
        assert "hunter2" not in text
    assert config.database.url.redacted() == "postgresql://paperfeed:***@db.example:5432/paperfeed"
    assert describe(config)["backend"] == "postgresql"


def test_without_a_url_the_backend_is_sqlite() -> None:
    config = parse_config_text("", {})
    assert config.database.backend == "sqlite" and config.database.url is None
    assert describe(config)["database"] == {"path": "data/paperfeed.sqlite3", "url": ""}


def test_database_url_from_the_environment_and_the_file_wins() -> None:
    env = {"PAPERFEED_DATABASE_URL": "postgres://u:pw@envhost/db"}
    from_env = parse_config_text("", env)
    assert from_env.database.url is not None
    assert from_env.database.url.get() == "postgres://u:pw@envhost/db"
    from_file = parse_config_text(f'[database]\nurl = "{PG_URL}"', env)
    assert from_file.database.url is not None and from_file.database.url.get() == PG_URL


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@h/db?password=alsosecret",
        "postgresql://user@/paperfeed?host=/var/run/postgresql",
        "postgresql:///paperfeed",
        "postgresql://:p@h",
    ],
)
def test_redaction_hides_every_password(url: str) -> None:
    config = parse_config_text(f'[database]\nurl = "{url}"', {})
    assert config.database.url is not None
    redacted = config.database.url.redacted()
    assert "alsosecret" not in redacted and ":p@" not in redacted
    assert redacted.startswith("postgresql://")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            '[database]\nurl = "mysql://root:topsecret@h/db"',
            {},
            '[database] url: expected a URL like "postgresql://user@host/dbname" (or ""), '
            'got "mysql://root:***@h/db"',
        ),
        ('[database]\nurl = "postgresql://h:notaport/db"', {}, "[database] url: expected a URL"),
        ("[database]\nurl = 5", {}, "[database] url: expected a URL"),
        (
            "",
            {"PAPERFEED_DATABASE_URL": "sqlite:///x?password=topsecret"},
            "$PAPERFEED_DATABASE_URL: expected a URL",
        ),
        ('[database]\nurl = "postgresql://u:top secret@h/db"', {}, "[database] url"),
    ],
)
def test_a_bad_database_url_is_one_line_without_the_password(
    toml: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text(toml, env)
    text = str(info.value)
    assert message in text
    assert "topsecret" not in text and "top secret" not in text
    assert "\n" not in text


def test_semantic_thresholds_are_cosines() -> None:
    config = parse_config_text("[semantic]\nabout_threshold = 0.5\nlike_threshold = 1", {}, "x")
    assert (config.semantic.about_threshold, config.semantic.like_threshold) == (0.5, 1.0)
    for bad in ("about_threshold = 1.5", 'like_threshold = "high"', "like_threshold = true"):
        with pytest.raises(ConfigError, match=r"\[semantic\]"):
            parse_config_text(f"[semantic]\n{bad}", {}, "x")


def test_the_search_index_path_defaults_per_backend_and_refuses_a_bad_value() -> None:
    sqlite = parse_config_text('[database]\npath = "/srv/pf/papers.sqlite3"', {}, "x")
    assert search_index_path(sqlite) == Path("/srv/pf/papers.sqlite3.index")
    pg = parse_config_text(
        '[database]\npath = "/data/paperfeed.sqlite3"\nurl = "postgresql://u@h/db"', {}, "x"
    )
    assert search_index_path(pg) == Path("/data/search-index")
    chosen = parse_config_text('[search]\nindex_path = "/var/lib/pf/idx"', {}, "x")
    assert search_index_path(chosen) == Path("/var/lib/pf/idx")
    for bad in ("5", '"/"', '"  "', '".."', '"idx/.."'):
        with pytest.raises(ConfigError, match=r"x: \[search\] index_path: expected .* folder path"):
            parse_config_text(f"[search]\nindex_path = {bad}", {}, "x")
    with pytest.raises(ConfigError, match=r"\[search\] index: unknown key"):
        parse_config_text('[search]\nindex = "x"', {}, "x")
