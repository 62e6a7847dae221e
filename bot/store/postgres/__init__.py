"""The PostgreSQL backend: an asyncpg pool, its own numbered migrations, tsquery search."""

from bot.store.postgres.connect import open_pool
from bot.store.postgres.migrate import migrate

__all__ = ["migrate", "open_pool"]
