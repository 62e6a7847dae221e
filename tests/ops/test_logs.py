"""Logging: JSON lines that parse one object per line, per-module levels, quiet libraries."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.config import LoggingConfig, parse_config_text
from bot.logs import setup_logging
from bot.services.poller import Poller
from bot.sources.base import FetchResult
from bot.store.interfaces import Database
from tests.ops.support import StepClock, make_paper

LIBRARIES = ("httpx", "httpcore", "discord", "discord.gateway", "discord.http", "apscheduler")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root logger and every logger the test touched back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    touched = ("bot", "bot.sources", "bot.store", *LIBRARIES)
    levels = {name: logging.getLogger(name).level for name in touched}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def configure(**kw: object) -> io.StringIO:
    stream = io.StringIO()
    setup_logging(LoggingConfig(**kw), stream=stream)  # type: ignore[arg-type]
    return stream


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]  # every line is one whole JSON object


def test_json_lines_parse_one_object_per_line_with_exceptions_and_extras() -> None:
    stream = configure(format="json")
    log = logging.getLogger("bot.sources.arxiv")
    log.info("fetched %d papers", 3)
    log.warning("two\nlines in one message")
    try:
        raise ValueError("listing is not XML")
    except ValueError:
        log.exception("poll of %s crashed", "arxiv")
    log.info("delivered", extra={"feed_id": 7, "when": datetime(2026, 1, 2)})
    entries = json_lines(stream)
    assert len(entries) == 4
    first = entries[0]
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "bot.sources.arxiv"
    assert first["message"] == "fetched 3 papers"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(first["time"]))
    assert entries[1]["message"] == "two\nlines in one message"
    crash = entries[2]
    assert crash["level"] == "ERROR" and crash["message"] == "poll of arxiv crashed"
    assert "Traceback" in str(crash["exception"])
    assert "ValueError: listing is not XML" in str(crash["exception"])
    assert entries[3]["feed_id"] == 7 and entries[3]["when"] == "2026-01-02 00:00:00"


def test_text_format_is_one_readable_line_with_a_utc_time() -> None:
    stream = configure()
    logging.getLogger("bot.store").warning("database is %s", "busy")
    line = stream.getvalue().rstrip("\n")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WARNING bot\.store: database is busy", line
    ), line


def test_levels_per_module_are_honoured() -> None:
    stream = configure(format="json", level="WARNING", levels=(("bot.sources", "DEBUG"),))
    logging.getLogger("bot.sources.huggingface").debug("page %d", 2)
    logging.getLogger("bot.store").info("hidden: below the root level")
    logging.getLogger("bot.store").warning("shown")
    assert [e["message"] for e in json_lines(stream)] == ["page 2", "shown"]


def test_levels_come_from_the_config_file() -> None:
    config = parse_config_text(
        '[logging]\nformat = "json"\nlevel = "info"\nlevels = { "bot.store" = "error" }\n', {}
    )
    stream = io.StringIO()
    setup_logging(config.logging, stream=stream)
    logging.getLogger("bot.store").warning("hidden")
    logging.getLogger("bot.app").info("shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown"]


@pytest.mark.parametrize("root_level", ["DEBUG", "INFO"])
def test_chatty_libraries_are_quiet(root_level: str) -> None:
    stream = configure(format="json", level=root_level)
    for name in LIBRARIES:
        logging.getLogger(name).info("HTTP Request: GET https://example.invalid 200")
        logging.getLogger(name).debug("heartbeat")
    logging.getLogger("discord.gateway").warning("gateway reconnecting")
    logging.getLogger("bot.app").info("started")
    messages = [(e["logger"], e["message"]) for e in json_lines(stream)]
    assert messages == [("discord.gateway", "gateway reconnecting"), ("bot.app", "started")]


def test_quiet_libraries_never_log_below_the_root_level() -> None:
    stream = configure(format="json", level="ERROR")
    logging.getLogger("httpx").warning("a retry")
    logging.getLogger("discord.http").warning("rate limited")
    logging.getLogger("discord.http").error("shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown"]


def test_a_chosen_library_level_wins_over_quiet_children() -> None:
    stream = configure(format="json", levels=(("discord", "INFO"),))
    logging.getLogger("discord.gateway").info("shard connected")
    logging.getLogger("discord.http").info("POST /channels")
    logging.getLogger("httpx").info("still quiet")
    assert [e["message"] for e in json_lines(stream)] == ["shard connected", "POST /channels"]


def test_setting_up_again_forgets_the_old_levels() -> None:
    configure(levels=(("bot.sources", "DEBUG"), ("discord", "INFO")))
    stream = configure(format="json")
    logging.getLogger("bot.sources").debug("hidden now")
    logging.getLogger("discord.gateway").info("quiet again")
    logging.getLogger("bot.sources").info("shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown"]


class OneShot:
    name = "huggingface"

    async def poll(self, now: datetime) -> FetchResult:
        return FetchResult(papers=[make_paper("2411.00001"), make_paper("2411.00002")])


async def test_the_poller_logs_one_line_per_poll_with_its_figures(store: Database) -> None:
    stream = configure(format="json")
    await Poller(store, [OneShot()], StepClock()).poll_source("huggingface")
    polls = [e for e in json_lines(stream) if e["logger"] == "bot.services.poller"]
    assert len(polls) == 1
    message = str(polls[0]["message"])
    assert message.startswith("poll huggingface: ")
    assert "fetched=2 new=2 updated=0" in message
