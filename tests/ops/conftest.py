"""Fixtures for the operations tests: a real store in a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import open_store
from bot.store.interfaces import Database
from tests.ops.support import NOW


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_store(str(tmp_path / "db" / "paperfeed.sqlite3"), clock=lambda: NOW) as s:
        yield s
