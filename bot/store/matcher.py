"""Match a batch of new papers against many feeds' queries with the same FTS5 engine as search.

Feeds must agree with search: a paper a feed receives is one that searching its query would
find. So the batch goes into a private in-memory FTS5 table with the columns and tokenizer of
``papers_fts``, and each compiled query runs there with the very expression search would use.
Category filters are applied in Python from an index built once per batch.

The work is CPU only, so it is synchronous; async callers run it in a thread. One matcher may
be created in one thread and used in another, but not by two threads at once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Hashable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Protocol, Self, TypeVar

from bot.errors import StoreError
from bot.query.compile import CompiledQuery

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
# A compiled query's category filters: (include groups, exclusions).
_Filters = tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]

# The same columns and tokenizer as papers_fts (migration 0001). Contentless: only rowids are
# ever read back, and skipping the stored copy makes building the table cheaper.
_SCHEMA = (
    "CREATE VIRTUAL TABLE batch_fts USING fts5 (title, author_text, abstract, "
    "content = '', tokenize = 'porter unicode61 remove_diacritics 2')"
)
_INSERT = "INSERT INTO batch_fts (rowid, title, author_text, abstract) VALUES (?, ?, ?, ?)"
_MATCH = "SELECT rowid FROM batch_fts WHERE batch_fts MATCH ?"


class MatchablePaper(Protocol):
    """What the matcher reads from a paper (bot.models.Paper has it all)."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def authors(self) -> Sequence[str]: ...

    @property
    def abstract(self) -> str: ...

    @property
    def categories(self) -> Sequence[str]: ...


class BatchMatcher:
    """The papers of one batch, indexed once, ready to be matched by many compiled queries."""

    def __init__(self, papers: Iterable[MatchablePaper]) -> None:
        batch = list(papers)
        self._ids = [paper.id for paper in batch]
        self._all = frozenset(range(len(batch)))
        self._by_category: dict[str, set[int]] = {}
        self._by_archive: dict[str, set[int]] = {}
        self._fts_cache: dict[str, frozenset[int]] = {}
        self._filter_cache: dict[_Filters, frozenset[int]] = {}
        self._any_cache: dict[tuple[str, ...], frozenset[int]] = {}
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            self._index(batch)
        except BaseException:
            self._conn.close()
            raise

    def _index(self, batch: Sequence[MatchablePaper]) -> None:
        """Fill the full-text table and the category index."""
        self._conn.execute(_SCHEMA)
        self._conn.executemany(
            _INSERT,
            (
                (row, p.title or "", ", ".join(p.authors), p.abstract or "")
                for row, p in enumerate(batch)
            ),
        )
        for row, paper in enumerate(batch):
            for category in paper.categories:
                lowered = category.lower()
                self._by_category.setdefault(lowered, set()).add(row)
                self._by_archive.setdefault(lowered.split(".", 1)[0], set()).add(row)

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
        """Free the in-memory database."""
        self._conn.close()

    @property
    def paper_ids(self) -> Sequence[str]:
        """The batch's paper ids, indexed by row."""
        return self._ids

    def match(self, query: CompiledQuery) -> tuple[str, ...]:
        """Ids of the papers in this batch that the query matches, in batch order."""
        return tuple(self._ids[row] for row in sorted(self.rows(query)))

    def rows(self, query: CompiledQuery) -> frozenset[int]:
        """Rows (indexes into `paper_ids`) of the papers the query matches."""
        if not (query.include_categories or query.exclude_categories):
            return self._all if query.fts is None or not self._all else self._fts_rows(query.fts)
        rows = self._category_rows(query.include_categories, query.exclude_categories)
        if query.fts is not None and rows:
            rows = rows & self._fts_rows(query.fts)
        return rows

    def rows_in(self, categories: Sequence[str]) -> frozenset[int]:
        """Rows in any of these categories (a feed's own filter); none named means every row."""
        if not categories:
            return self._all
        key = tuple(categories)
        found = self._any_cache.get(key)
        if found is None:
            found = self._any_cache[key] = self._rows_in(key)
        return found

    def match_all(self, queries: Mapping[K, CompiledQuery]) -> dict[K, tuple[str, ...]]:
        """Match many queries at once, keyed as given (e.g. by feed id)."""
        return {key: self.match(query) for key, query in queries.items()}

    def _fts_rows(self, fts: str) -> frozenset[int]:
        """Rows the expression matches; identical expressions (shared feed queries) run once."""
        cached = self._fts_cache.get(fts)
        if cached is None:
            try:
                cursor = self._conn.execute(_MATCH, (fts,))
                cached = frozenset(row for (row,) in cursor)
            except sqlite3.Error as exc:
                # compile_query emits only quoted strings, so this is a bug, not user input.
                log.error("batch match failed for compiled query %r: %s", fts, exc)
                raise StoreError("a feed query could not be matched; this is a bug") from exc
            self._fts_cache[fts] = cached
        return cached

    def _category_rows(
        self, include: tuple[tuple[str, ...], ...], exclude: tuple[str, ...]
    ) -> frozenset[int]:
        """Rows that pass the category filters, with the same rules as matches_categories."""
        key = (include, exclude)
        cached = self._filter_cache.get(key)
        if cached is not None:
            return cached
        rows = self._all
        for group in include:
            rows = rows & self._rows_in(group)
        if exclude:
            rows = rows - self._rows_in(exclude)
        self._filter_cache[key] = rows
        return rows

    def _rows_in(self, categories: Iterable[str]) -> frozenset[int]:
        """Rows in any of the categories; a value without a dot is a whole archive."""
        found: set[int] = set()
        for value in categories:
            lowered = value.lower()
            index = self._by_category if "." in lowered else self._by_archive
            found |= index.get(lowered, set())
        return frozenset(found)
