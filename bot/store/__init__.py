"""The only package that speaks SQL: the interfaces, the SQLite backend and the batch matcher.

Callers type against `bot.store.interfaces`; `open_store` (SQLite) is the one way to open a
database, used by the composition roots.
"""

from bot.store.sqlite.database import open_store

__all__ = ["open_store"]
