"""Words as the SQLite store sees them, for PostgreSQL's tsvector and tsquery.

Search must find the same papers on both backends, and feeds (matched by the FTS5 batch
matcher) must agree with search. PostgreSQL's own text parsing cannot promise that: its parser
reads "GPT-4" as 'gpt' and '-4' and "3.5" as one number, the `english` configuration drops
stop words ("the", "of") and stems with snowball rather than porter, and accents stay unless
`unaccent` is installed. So the lexemes come from SQLite's FTS5 tokenizer itself (porter over
unicode61 without diacritics, as in migration 0001 of the SQLite store), run on an in-memory
table, and PostgreSQL receives finished lexemes: a tsvector literal for each paper, quoted
lexemes in each tsquery. PostgreSQL then only compares strings and positions.

Fields are laid out one after another in the tsvector with an unused position between them,
so a phrase never spans two fields (FTS5 phrases stay inside one column): title (weight A),
then abstract (C), then authors (B) last, because only very long author lists can reach
PostgreSQL's last position (16383), where positions saturate.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Self

# The SQLite store's tokenizer (bot/store/migrations/0001_initial.sql); a test keeps them equal.
TOKENIZE = "porter unicode61 remove_diacritics 2"
# PostgreSQL's limits: positions 1..16383, at most 256 positions per lexeme, lexemes < 2 KiB.
MAX_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256
MAX_LEXEME_BYTES = 2046
# Weight letters by field, as tsquery restricts them (title:, author:, abstract:).
WEIGHTS = {"title": "A", "author": "B", "abstract": "C"}
_FIELD_ORDER = ("title", "abstract", "author")

_SCHEMA = (
    f"CREATE VIRTUAL TABLE words USING fts5 (title, abstract, author, tokenize = '{TOKENIZE}')"
)
_VOCAB = "CREATE VIRTUAL TABLE words_vocab USING fts5vocab (words, 'instance')"
_INSERT = "INSERT INTO words (rowid, title, abstract, author) VALUES (?, ?, ?, ?)"
_READ = "SELECT doc, col, offset, term FROM words_vocab"
_CLEAR = "DELETE FROM words"
# Bound the scratch table: recreate it after this many documents so deleted segments never pile up.
_RECREATE_AFTER = 100_000


class Lexer:
    """FTS5's tokenizer on a private in-memory database; safe to share between threads."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._since_created = 0
        self._create()

    def _create(self) -> None:
        self._conn.execute("DROP TABLE IF EXISTS words_vocab")
        self._conn.execute("DROP TABLE IF EXISTS words")
        self._conn.execute(_SCHEMA)
        self._conn.execute(_VOCAB)
        self._since_created = 0

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

    def _run(self, rows: Sequence[tuple[str, str, str]]) -> list[dict[str, list[str]]]:
        """Each row's (title, abstract, author) tokens, per field, in order."""
        out: list[dict[str, list[str]]] = [{f: [] for f in _FIELD_ORDER} for _ in rows]
        found: list[tuple[int, str, int, str]] = []
        with self._lock:
            if self._since_created >= _RECREATE_AFTER:
                self._create()
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(_INSERT, ((i, *row) for i, row in enumerate(rows)))
                found = self._conn.execute(_READ).fetchall()
                self._conn.execute(_CLEAR)
            finally:
                self._conn.execute("COMMIT")
            self._since_created += len(rows)
        found.sort(key=lambda r: (r[0], r[1], r[2]))
        for doc, column, _offset, term in found:
            out[doc][column].append(term)
        return out

    def words(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Each text's lexemes in order, as a query term or phrase made of it would look for."""
        if not texts:
            return []
        return [tuple(d["title"]) for d in self._run([(t, "", "") for t in texts])]

    def documents(self, papers: Iterable[tuple[str, str, str]]) -> list[str]:
        """tsvector literals for (title, author_text, abstract) triples."""
        rows = [(title, abstract, authors) for title, authors, abstract in papers]
        if not rows:
            return []
        return [tsvector_literal(fields) for fields in self._run(rows)]


def quote(lexeme: str) -> str:
    """A lexeme as tsvector and tsquery input read it: in single quotes, quote and backslash escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(fields: dict[str, list[str]]) -> str:
    """One paper's lexemes with positions and weights, e.g. ``'causal':1A,9C 'zhang':20B``."""
    positions: dict[str, list[str]] = {}
    start = 1
    for field in _FIELD_ORDER:
        weight = WEIGHTS[field]
        tokens = fields[field]
        for offset, term in enumerate(tokens):
            if len(term.encode("utf-8")) > MAX_LEXEME_BYTES:
                continue  # PostgreSQL refuses such a lexeme; no real word is this long
            at = positions.setdefault(term, [])
            if len(at) < MAX_POSITIONS_PER_LEXEME:
                at.append(f"{min(start + offset, MAX_POSITION)}{weight}")
        start += len(tokens) + 1  # one unused position: phrases never join two fields
    return " ".join(f"{quote(term)}:{','.join(at)}" for term, at in positions.items())
