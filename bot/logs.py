"""Logging set-up: readable text by default, JSON lines on request, chatty libraries quietened."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import aiohttp

from bot.config import LoggingConfig

# Libraries that log every request or heartbeat at INFO.
_QUIET = {"httpx": "WARNING", "httpcore": "WARNING", "discord": "WARNING", "discord.http": "WARNING",
          "discord.gateway": "WARNING", "apscheduler": "WARNING", "aiosqlite": "WARNING",
          "aiohttp.access": "WARNING"}  # fmt: skip
# Attributes every LogRecord has; anything else came from `extra=` and goes into the JSON object.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Loggers whose level setup_logging set last time, reset on the next call so settings never linger.
_configured: set[str] = set()


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes newlines, so a multi-line message or traceback stays on one line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class OneLineNetworkErrors(logging.Filter):
    """discord.py logs every failed reconnect with a full traceback; for a network error (Discord
    unreachable: DNS, refused, reset, timeout) the traceback says nothing the reason does not, so
    the record becomes one line carrying the reason. Other exceptions keep their traceback."""

    NETWORK = (OSError, aiohttp.ClientError, TimeoutError)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("discord") or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if isinstance(exc, self.NETWORK):
            reason = " ".join(str(exc).split())
            record.msg = (
                f"{record.getMessage()} ({type(exc).__name__}{': ' + reason if reason else ''})"
            )
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class TextFormatter(logging.Formatter):
    """Readable lines with a UTC timestamp (the configuration's times of day are UTC too)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime


def setup_logging(config: LoggingConfig, stream: TextIO | None = None) -> None:
    """Configure the root logger from the [logging] table; calling it again replaces the old set-up."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    handler.addFilter(OneLineNetworkErrors())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    for name in _configured:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _configured.clear()
    root_level = logging.getLevelName(config.level)
    chosen = dict(config.levels)
    for name, level in _QUIET.items():
        if any(name == c or name.startswith(c + ".") for c in chosen):
            continue  # the user chose a level for this logger or a parent: theirs wins
        # Quiet means "no chattier than WARNING", never chattier than the root level either.
        _set_level(name, max(logging.getLevelName(level), root_level))
    for name, level in chosen.items():
        _set_level(name, level)


def _set_level(name: str, level: int | str) -> None:
    logging.getLogger(name).setLevel(level)
    _configured.add(name)
