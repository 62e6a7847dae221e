"""The SQLite backend: the store's interfaces on aiosqlite, FTS5 and numbered migrations."""
