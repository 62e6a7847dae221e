"""The query language on PostgreSQL: a compiled query's tree as a tsquery, plus category filters.

The tsquery is assembled from parts, never from what a user typed: every word goes through the
SQLite store's tokenizer (bot.store.postgres.lexemes) and reaches the tsquery as a quoted
lexeme; the structure comes from the syntax tree. Words of one term or phrase are joined with
``<->`` (next to each other), a prefix term ends in ``:*``, a field restriction is the field's
weight (``title:`` A, ``author:`` B, ``abstract:`` C), exclusion is ``!``. The text is then
passed as a bind parameter and cast (``$1::tsquery``), which reads lexemes as written.

A term with no searchable characters after tokenizing (possible with exotic Unicode) matches
nothing on SQLite (an empty FTS5 string); here it is folded away the same way: an AND holding
one matches nothing, an OR drops it, excluding it excludes nothing.

``cat:`` never enters the tsquery: like the SQLite store, categories are filtered with the
``paper_categories`` table (see :func:`category_filters`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.query.compile import CompiledQuery
from bot.query.nodes import And, Category, Node, Not, Or, Phrase, Term
from bot.store.postgres.lexemes import WEIGHTS, Lexer, quote


class _Constant:
    """A subtree that folded to always-false or always-true."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


FALSE: Final = _Constant("FALSE")
TRUE: Final = _Constant("TRUE")
_Built = str | _Constant


@dataclass(frozen=True, slots=True)
class TsQuery:
    """A compiled query for PostgreSQL.

    ``text`` is the tsquery (None when the query is categories only); ``matches_nothing`` is
    true when its words can match no paper at all, so callers need not ask the database.
    """

    text: str | None
    matches_nothing: bool
    query: CompiledQuery
    # What relevance is computed on: the wanted words and phrases OR-ed (see `_rank_text`).
    rank_text: str | None = None
    # Any wanted word in a title: true for every title that can match the query's title
    # evidence (see `_title_hint`), so only those titles need tiering.
    title_hint: str | None = None
    # The same query on the title words alone (no weights), when every word of it is a
    # `title:` word: then `ts_filter(search, '{a}') @@ title_text` is the match, exact on the
    # title index (migration 0008) where the weighted form rechecks every row holding the word.
    title_text: str | None = None
    # A weaker query for the GIN index when a wanted leaf is a phrase: the phrases' words
    # AND-ed, short words and exclusions left out (see `_relaxed`); `text` is then tested on
    # each row the index gives.
    index_text: str | None = None

    @property
    def include_categories(self) -> tuple[tuple[str, ...], ...]:
        return self.query.include_categories

    @property
    def exclude_categories(self) -> tuple[str, ...]:
        return self.query.exclude_categories


def compile_tsquery(query: CompiledQuery, lexer: Lexer) -> TsQuery:
    """The tsquery for a compiled query (one tokenizer round trip for all its words)."""
    if query.fts is None or query.ast is None:
        return TsQuery(None, False, query)
    root = query.ast
    conjuncts = root.children if isinstance(root, And) else (root,)
    words = [node for node in conjuncts if not _has_category(node)]
    leaves = [leaf for node in words for leaf in _leaves(node)]
    texts = [leaf.text if isinstance(leaf, Term) else " ".join(leaf.words) for leaf in leaves]
    tokens = dict(zip(map(id, leaves), lexer.words(texts), strict=True))
    built = _conjunction(words, tokens)
    if built is FALSE:
        return TsQuery(None, True, query)
    if not isinstance(built, str):
        # compile_query refuses a query (or group) that only excludes, so nothing is TRUE.
        raise ValueError(f"query matches every paper: {query.describe()!r}")
    title_only = all(leaf.field == "title" for leaf in leaves)
    plain = _conjunction(words, tokens, weighted=False) if title_only else None
    wanted = [leaf for node in words for leaf in _wanted_leaves(node)]
    relaxed: _Built | None = None
    if any(len(tokens[id(leaf)]) > 1 for leaf in wanted):
        relaxed = _relaxed_conjunction(words, tokens)
    return TsQuery(
        built,
        False,
        query,
        _rank_text(words, tokens) or built,
        _title_hint(words, tokens),
        plain if isinstance(plain, str) else None,
        relaxed if isinstance(relaxed, str) else None,
    )


def _title_hint(words: Sequence[Node], tokens: dict[int, tuple[str, ...]]) -> str | None:
    """Each wanted leaf as a whole (a phrase's words next to each other), in the title, OR-ed.

    A title matching the first title-evidence expression holds at least one wanted term or
    phrase as a whole: a paper this misses has tier 0. Over-inclusive on purpose (a tier is
    then computed for nothing), never under; a phrase's single words would let in every title
    holding "of" for "mixture of experts", each tiered by FTS5 for nothing.
    """
    leaves = [leaf for node in words for leaf in _wanted_leaves(node)]
    parts: list[str] = []
    for leaf in leaves:
        found = tokens[id(leaf)]
        run = [quote(word) + ":A" for word in found]
        if run and isinstance(leaf, Term) and leaf.prefix:
            run[-1] = quote(found[-1]) + ":*A"
        if run:
            parts.append(_group(" <-> ".join(run)))
    return " | ".join(dict.fromkeys(parts)) if parts else None


# Lexemes this short ("of", "a", "in") are in most papers: finding them in the GIN index reads
# a posting list of nearly every paper ("mixture of experts": 13 ms against 8 ms without "of"
# at 1M), while the row's own test checks them anyway.
_SHORT = 2


def _relaxed(node: Node, tokens: dict[int, tuple[str, ...]]) -> _Built:
    """A query every match of `node` matches, which the GIN index answers without a recheck
    where it can: a phrase's words AND-ed (no positions), short words and exclusions left out.
    TRUE where nothing is left to look up; FALSE where `_build` folds to FALSE as well."""
    if isinstance(node, Term | Phrase):
        found = tokens[id(node)]
        if not found:
            return FALSE
        weight = WEIGHTS[node.field] if node.field else ""
        parts = []
        for n, word in enumerate(found):
            if isinstance(node, Term) and node.prefix and n == len(found) - 1:
                parts.append(quote(word) + ":*" + weight)
            elif len(word) > _SHORT:
                parts.append(quote(word) + (f":{weight}" if weight else ""))
        return " & ".join(parts) if parts else TRUE
    if isinstance(node, And):
        return _relaxed_conjunction(node.children, tokens)
    if isinstance(node, Or):
        options = [_relaxed(child, tokens) for child in node.children]
        alive = [p for p in options if p is not FALSE]
        if not alive:
            return FALSE
        if any(p is TRUE for p in alive):
            return TRUE
        return " | ".join(_group(p) for p in alive if isinstance(p, str))
    return TRUE  # an exclusion: the row's test checks it


def _relaxed_conjunction(children: Sequence[Node], tokens: dict[int, tuple[str, ...]]) -> _Built:
    parts = [_relaxed(child, tokens) for child in children]
    if any(p is FALSE for p in parts):
        return FALSE
    alive = [p for p in parts if isinstance(p, str)]
    return " & ".join(_group(p) for p in alive) if alive else TRUE


def _wanted_leaves(node: Node) -> list[Term | Phrase]:
    if isinstance(node, Term | Phrase):
        return [node]
    if isinstance(node, Not | Category):
        return []
    return [leaf for child in node.children for leaf in _wanted_leaves(child)]


def _rank_text(words: Sequence[Node], tokens: dict[int, tuple[str, ...]]) -> str | None:
    """The query's wanted leaves OR-ed, for ranking only.

    ts_rank scores an AND query by how close its words stand to each other, so a paper that
    repeats "software testing" throughout its abstract would outrank one with "software" in
    its title. Over an OR, ts_rank adds up each word's hits instead, the first ones counting
    most (weights 1, 1/4, 1/9, ...), which saturates like SQLite's bm25: the field weights
    then decide, as they do there.
    """
    parts: list[str] = []
    for node in words:
        parts += _wanted(node, tokens)
    return " | ".join(_group(p) for p in dict.fromkeys(parts)) if parts else None


def _wanted(node: Node, tokens: dict[int, tuple[str, ...]]) -> list[str]:
    if isinstance(node, Term | Phrase):
        built = _leaf(node, tokens[id(node)])
        return [built] if isinstance(built, str) else []
    if isinstance(node, Not | Category):
        return []
    return [part for child in node.children for part in _wanted(child, tokens)]


def _has_category(node: Node) -> bool:
    if isinstance(node, Category):
        return True
    if isinstance(node, Term | Phrase):
        return False
    children = (node.child,) if isinstance(node, Not) else node.children
    return any(_has_category(child) for child in children)


def _leaves(node: Node) -> list[Term | Phrase]:
    if isinstance(node, Term | Phrase):
        return [node]
    if isinstance(node, Category):
        return []
    children = (node.child,) if isinstance(node, Not) else node.children
    return [leaf for child in children for leaf in _leaves(child)]


def _build(node: Node, tokens: dict[int, tuple[str, ...]], weighted: bool = True) -> _Built:
    if isinstance(node, Term | Phrase):
        return _leaf(node, tokens[id(node)], weighted)
    if isinstance(node, And):
        return _conjunction(node.children, tokens, weighted)
    if isinstance(node, Or):
        parts = [_build(child, tokens, weighted) for child in node.children]
        alive = [p for p in parts if p is not FALSE]
        if not alive:
            return FALSE
        if any(p is TRUE for p in alive):
            return TRUE
        return " | ".join(_group(p) for p in alive if isinstance(p, str))
    if isinstance(node, Not):
        inner = _build(node.child, tokens, weighted)
        if isinstance(inner, _Constant):
            return TRUE if inner is FALSE else FALSE
        return "!" + _group(inner)
    raise ValueError(f"a category cannot be part of the full-text query: {node!r}")


def _conjunction(
    children: Sequence[Node], tokens: dict[int, tuple[str, ...]], weighted: bool = True
) -> _Built:
    parts = [_build(child, tokens, weighted) for child in children]
    if any(p is FALSE for p in parts):
        return FALSE
    alive = [p for p in parts if isinstance(p, str)]
    if not alive:
        return TRUE
    return " & ".join(_group(p) for p in alive)


def _group(text: str) -> str:
    """Parenthesise anything but a single lexeme, so operator precedence never matters."""
    return text if text.startswith("'") and " " not in text else f"({text})"


def _leaf(node: Term | Phrase, words: tuple[str, ...], weighted: bool = True) -> _Built:
    """Quoted lexemes joined by <->, the field's weight on each, :* on a prefix's last word."""
    if not words:
        return FALSE
    weight = WEIGHTS[node.field] if node.field and weighted else ""
    parts = [quote(word) + (f":{weight}" if weight else "") for word in words]
    if isinstance(node, Term) and node.prefix:
        parts[-1] = quote(words[-1]) + f":*{weight}"
    return " <-> ".join(parts)


def category_filters(
    query: CompiledQuery, pk: str, args: list[Any], skip_includes: int = 0
) -> list[str]:
    """WHERE clauses for the category filters, testing the paper whose key is the SQL `pk`.

    Values are appended to `args` and referenced as $n; `pk` is the caller's own column name,
    never user text. ``cs.LG`` is one category, ``cs`` (no dot) a whole archive. The first
    `skip_includes` groups are left to the caller (see `category_tests`).
    """
    where: list[str] = []
    for group in query.include_categories[skip_includes:]:
        where.append(in_categories(pk, category_tests(group, args)))
    if query.exclude_categories:
        where.append(
            "NOT EXISTS (SELECT 1 FROM paper_categories pc "
            f"WHERE pc.paper_pk = {pk} AND ({category_tests(query.exclude_categories, args)}))"
        )
    return where


def in_categories(pk: str, tests: str) -> str:
    """The paper whose key is the SQL `pk` has a category passing `tests` (see below)."""
    return f"EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_pk = {pk} AND ({tests}))"


def category_tests(categories: Sequence[str], args: list[Any]) -> str:
    """A test of `pc.category` against any of these categories (values appended to `args`)."""
    tests = []
    for category in categories:
        value = category.lower()
        args.append(value)
        test = f"pc.category = ${len(args)}"
        if "." not in value:
            # Validated by the query language: letters, digits and '-', so LIKE sees no wildcard.
            args.append(value + ".%")
            test = f"({test} OR pc.category LIKE ${len(args)})"
        tests.append(test)
    return " OR ".join(tests)
