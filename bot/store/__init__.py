"""The only package that speaks SQL: the database, its migrations and the batch matcher."""

from bot.store.store import Store, open_store

__all__ = ["Store", "open_store"]
