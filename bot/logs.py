"""Logging set-up: readable text by default, JSON lines on request, chatty libraries quietened."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.config import LoggingConfig

# Libraries that log every request or heartbeat at INFO.
_QUIET = {"httpx": "WARNING", "httpcore": "WARNING", "discord": "WARNING", "discord.http": "WARNING",
          "discord.gateway": "WARNING", "apscheduler": "WARNING", "aiosqlite": "WARNING",
          "aiohttp.access": "WARNING"}  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(config: LoggingConfig, stream: TextIO | None = None) -> None:
    """Configure the root logger once, from the [logging] table."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    for name, level in config.levels:
        logging.getLogger(name).setLevel(level)
