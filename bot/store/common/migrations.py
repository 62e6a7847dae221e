"""Finding the numbered `.sql` migrations a backend ships; applying them is each backend's own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from bot.errors import StoreError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def shipped_migrations(package: str) -> list[Migration]:
    """Every migration in `package`/migrations, in order; gaps are a packaging bug."""
    found: list[Migration] = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, 1):
        if migration.version != expected:
            raise StoreError(f"migration {migration.name} is out of sequence (expected {expected})")
    return found
