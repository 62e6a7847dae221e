"""Issue 12 item 10: configuration checks that used to pass what should fail."""

from __future__ import annotations

import pytest

from bot.config import parse_config_text
from bot.errors import ConfigError

CHANNEL = 123456789012345678


def refused(toml: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config_text(toml, {}, "config.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("config.toml: ")
    return message


@pytest.mark.parametrize(
    ("table", "value", "floor"), [("arxiv", "1s", '"15m"'), ("huggingface", "1m", '"5m"')]
)
def test_polling_faster_than_the_floor_is_refused_naming_it(
    table: str, value: str, floor: str
) -> None:
    message = refused(f'[sources.{table}]\ninterval = "{value}"')
    assert f"[sources.{table}] interval" in message and floor in message and value in message


def test_the_floor_itself_is_accepted() -> None:
    config = parse_config_text(
        '[sources.arxiv]\ninterval = "15m"\n[sources.huggingface]\ninterval = "5m"', {}
    )
    assert config.sources.arxiv.interval.total_seconds() == 900


def test_the_floor_guards_the_public_services_not_a_server_of_your_own() -> None:
    config = parse_config_text(
        '[sources.arxiv]\ninterval = "10s"\napi_url = "http://127.0.0.1:9/api/query"\n'
        'rss_url = "http://127.0.0.1:9/rss"\n'
        '[sources.huggingface]\ninterval = "10s"\nbase_url = "http://mirror.example:8000"',
        {},
    )
    assert config.sources.arxiv.interval.total_seconds() == 10
    assert config.sources.huggingface.interval.total_seconds() == 10
    # One public URL is enough for the floor: arXiv's API on its own host, the feed mirrored.
    message = refused('[sources.arxiv]\ninterval = "10s"\nrss_url = "http://127.0.0.1:9/rss"')
    assert '"15m"' in message


@pytest.mark.parametrize(
    ("category", "suggestion"),
    [("cs.lg", '"cs.LG"'), ("CS.CL", '"cs.CL"'), ("stat.ml", '"stat.ML"')],
)
def test_a_miscased_category_is_refused_with_the_right_spelling(
    category: str, suggestion: str
) -> None:
    message = refused(f'[sources.arxiv]\ncategories = ["{category}"]')
    assert f'"{category}"' in message and f"did you mean {suggestion}" in message


@pytest.mark.parametrize("category", ["foo", "cs.XX", "cs", "math.ZZ"])
def test_a_category_arxiv_does_not_have_is_refused(category: str) -> None:
    message = refused(f'[sources.arxiv]\ncategories = ["{category}"]')
    assert "[sources.arxiv] categories" in message and "arXiv" in message


def test_a_near_miss_gets_a_suggestion() -> None:
    message = refused('[sources.arxiv]\ncategories = ["cs.LGG"]')
    assert 'did you mean "cs.LG"' in message


def test_real_categories_and_standalone_archives_pass() -> None:
    config = parse_config_text(
        '[sources.arxiv]\ncategories = ["cs.LG", "stat.ML", "hep-th", "quant-ph", '
        '"cond-mat.stat-mech", "astro-ph.CO", "q-bio.NC", "eess.SP", "econ.EM"]',
        {},
    )
    assert "cond-mat.stat-mech" in config.sources.arxiv.categories


def test_feeds_may_name_whole_archives_but_not_inventions() -> None:
    ok = parse_config_text(
        f"[[feeds]]\nname = 'a'\nchannel_id = {CHANNEL}\nquery = 'x'\ncategories = ['cs', 'math.ST']",
        {},
    )
    assert ok.feeds[0].categories == ("cs", "math.ST")
    message = refused(
        f"[[feeds]]\nname = 'a'\nchannel_id = {CHANNEL}\nquery = 'x'\ncategories = ['cs.lg']"
    )
    assert '"a" categories' in message and 'did you mean "cs.LG"' in message


@pytest.mark.parametrize(
    "toml",
    [
        "[[feeds]]\nname = 'a'\nchannel_id = 1\nquery = 'x'",
        "[[feeds]]\nname = 'a'\nchannel_id = 123456\nquery = 'x'",
        "[discord]\nalerts_channel_id = 5",
        "[discord]\ndev_guild_ids = [42]",
    ],
)
def test_small_numbers_are_not_discord_ids(toml: str) -> None:
    message = refused(toml)
    assert "snowflake" in message or "Discord" in message


def test_real_snowflakes_pass() -> None:
    config = parse_config_text(
        f'[discord]\nalerts_channel_id = {CHANNEL}\ndev_guild_ids = ["{CHANNEL + 1}"]\n'
        f"[[feeds]]\nname = 'a'\nchannel_id = {CHANNEL}\nquery = 'x'",
        {},
    )
    assert config.discord.dev_guild_ids == (CHANNEL + 1,)
