"""Roles and shards: the `[cluster]`/`[discord]` keys, `run --role/--shards`, and the refusal of
anything but `all` on SQLite (one line, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import (
    ClusterConfig,
    Config,
    DatabaseConfig,
    format_shards,
    parse_config_text,
    parse_roles,
    parse_shards,
    with_cluster,
)
from bot.errors import ConfigError
from bot.secrets import DatabaseUrl

PG = DatabaseConfig(url=DatabaseUrl("postgresql://paperfeed@db.invalid/paperfeed"))


@pytest.mark.parametrize(
    ("given", "roles"),
    [
        ("all", ("all",)),
        ("poller", ("poller",)),
        ("publisher,gateway", ("gateway", "publisher")),
        (["publisher", "poller", "publisher"], ("poller", "publisher")),
        ("gateway,all", ("all",)),
        (" gateway , publisher ", ("gateway", "publisher")),
    ],
)
def test_roles_are_read_from_a_comma_list_or_a_toml_list(
    given: object, roles: tuple[str, ...]
) -> None:
    assert parse_roles(given) == roles


@pytest.mark.parametrize("given", ["", "poler", "gateway,,x", [], [1], 3])
def test_unknown_or_empty_roles_are_refused(given: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_roles(given)


def test_shards_are_ranges_or_lists_and_print_back_as_ranges() -> None:
    assert parse_shards("0-3") == (0, 1, 2, 3)
    assert parse_shards("5") == (5,)
    assert parse_shards("6,0-1") == (0, 1, 6)
    assert parse_shards([3, 1]) == (1, 3)
    assert parse_shards([]) == ()
    for bad in ("3-1", "a", "", "0-", "-2", [-1]):
        with pytest.raises((TypeError, ValueError)):
            parse_shards(bad)
    assert format_shards((0, 1, 2, 3, 6), 8) == "0-3,6/8"
    assert format_shards((), 8) == "all/8"
    assert format_shards((), 0) == ""


def test_a_role_other_than_all_is_refused_on_sqlite_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        with_cluster(Config(), "poller")
    assert "needs PostgreSQL" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert with_cluster(Config(), "all").cluster.roles == ("all",)


def test_on_postgresql_any_roles_and_shards_go() -> None:
    config = with_cluster(Config(database=PG), "gateway,publisher", "0-3", 8)
    assert config.cluster.roles == ("gateway", "publisher")
    assert config.cluster.has("publisher") and not config.cluster.has("poller")
    assert config.discord.shard_ids == (0, 1, 2, 3)
    assert config.discord.shard_count == 8
    assert ClusterConfig().has("poller")  # all is every role


@pytest.mark.parametrize(
    ("roles", "shards", "count", "says"),
    [
        ("gateway", "0-3", None, "needs shard_count"),
        ("gateway", "0-8", 8, "out of range"),
        ("poller", "0-1", 2, "only the gateway role"),
        ("gateway", "x", 2, "--shards"),
        ("gateway", None, 0, "--shard-count"),
    ],
)
def test_inconsistent_shards_are_refused(
    roles: str, shards: str | None, count: int | None, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        with_cluster(Config(database=PG), roles, shards, count)


def test_the_config_file_keys_are_checked_at_load() -> None:
    env = {"PAPERFEED_DATABASE_URL": "postgresql://u@db.invalid/p"}
    text = '[cluster]\nroles = ["poller"]\n[discord]\nshard_count = 4\n'
    config = parse_config_text(text, env)
    assert config.cluster.roles == ("poller",)
    assert config.discord.shard_count == 4
    with pytest.raises(ConfigError, match=r"\[cluster\] roles"):
        parse_config_text('[cluster]\nroles = "pollers"\n', env)
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        parse_config_text('[cluster]\nroles = "poller"\n', {})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config_text('[cluster]\nrole = "poller"\n', env)


def test_run_with_a_role_on_sqlite_exits_2_with_one_line(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--role", "poller"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs PostgreSQL" in err
    assert main(["run", "--shards", "0-3", "--shard-count", "2"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_status_on_sqlite_shows_sources_queue_and_one_process(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["backend"] == "sqlite"
    assert document["processes"] is None and document["queue_depth"] == 0
    assert [s["name"] for s in document["sources"]] == ["huggingface", "arxiv"]
    assert main(["status"]) == 0
    assert "processes: one" in capsys.readouterr().out


def test_check_config_shows_the_roles_and_shards(
    cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["check-config", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["cluster"] == {"roles": ["all"]}
    assert document["discord"]["shard_count"] == 0


def test_metrics_carry_the_process_roles() -> None:
    from bot.metrics import Metrics

    metrics = Metrics()
    metrics.set_roles(("gateway", "publisher"))
    text = metrics.render().decode()
    assert 'paperfeed_process_role{role="gateway"} 1.0' in text
    assert 'paperfeed_process_role{role="poller"} 0.0' in text
    metrics.set_roles(("all",))
    assert 'paperfeed_process_role{role="poller"} 1.0' in metrics.render().decode()
