"""SQLite's FTS5 tokenizer outside SQLite, so other indexes hold exactly the words FTS5 holds."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self, cast

import apsw

# The SQLite store's tokenizer (bot/store/migrations/0001_initial.sql); a test keeps them equal.
TOKENIZE = "porter unicode61 remove_diacritics 2"


class Fts5Tokens:
    """FTS5's tokenizer through APSW, on a private in-memory database; thread-safe."""

    def __init__(self) -> None:
        name, *args = TOKENIZE.split()
        self._conn = apsw.Connection(":memory:")
        self._tokenizer = self._conn.fts5_tokenizer(name, args)
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def tokens(self, text: str) -> list[str]:
        """The tokens FTS5 indexes for `text`, in order (positions are list indexes)."""
        if not text:
            return []
        with self._lock:
            found = self._tokenizer(
                text.encode("utf-8"),
                apsw.FTS5_TOKENIZE_DOCUMENT,
                None,
                include_offsets=False,
                include_colocated=False,
            )
        # Without offsets and colocated tokens, APSW answers with the tokens themselves.
        return cast(list[str], found)

    __call__ = tokens
