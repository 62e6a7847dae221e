"""Tree to FTS5: the MATCH expression, the category filters kept apart from it, title evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from bot.errors import QueryError
from bot.query.nodes import And, Category, Node, Not, Or, Phrase, Term, _make_and, _make_or
from bot.query.parse import SEMANTIC_FIELDS, _category, _quoted, _shorten, parse_query, render

MAX_CATEGORY_GROUPS = 64

# The full-text column behind each text field.
FTS_COLUMNS = {"title": "title", "author": "author_text", "abstract": "abstract"}
# How many other words may stand between the query's words for a title to hold them "close
# together" (titles are short: beyond this the words usually belong to different ideas).
NEAR_SLACK = 2
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A query ready to run: an FTS5 MATCH expression plus category filters kept apart from it.

    ``include_categories`` is a conjunction of disjunctions (every group must have a match);
    ``exclude_categories`` must all miss. A value without a dot names a whole archive.
    ``fts`` is None when the query is categories only.

    ``title_evidence`` serves ranking only: MATCH expressions over the title column, each
    stronger than the one before and implying it: the title alone holds the query's words
    (OR-groups as asked); then they stand close together; then they form the query as one
    phrase, in order. A paper's title tier is how many of them it matches.

    ``like`` (paper ids) and ``about`` (free texts) are the semantic predicates, ANDed with the
    rest; ``fts``, the categories and ``ast`` describe only the rest, so a store or a matcher
    that knows nothing of meaning sees a query without them (all papers, when nothing is left:
    the caller must then filter or rank by similarity, see ``is_semantic``).
    """

    fts: str | None
    include_categories: tuple[tuple[str, ...], ...] = ()
    exclude_categories: tuple[str, ...] = ()
    ast: Node | None = None
    title_evidence: tuple[str, ...] = ()
    like: tuple[str, ...] = ()
    about: tuple[str, ...] = ()

    @property
    def is_semantic(self) -> bool:
        """Whether the query has like: or about: (it needs the semantic extra)."""
        return bool(self.like or self.about)

    @property
    def has_rest(self) -> bool:
        """Whether anything but like: / about: filters the papers (words or categories)."""
        return self.fts is not None or bool(self.include_categories or self.exclude_categories)

    def without_semantic(self) -> CompiledQuery:
        """The query's words and categories alone."""
        return replace(self, like=(), about=())

    def matches_categories(self, categories: Sequence[str]) -> bool:
        """Whether a paper with these categories passes the category filters."""
        have = [c.lower() for c in categories]
        if not all(any(_category_hit(v, have) for v in g) for g in self.include_categories):
            return False
        return not any(_category_hit(v, have) for v in self.exclude_categories)

    def describe(self) -> str:
        """What was understood, normalised, for "searched for: ..." messages."""
        semantic = [f"like:{i}" for i in self.like] + [f'about:"{t}"' for t in self.about]
        if self.ast is not None:
            return " ".join([render(self.ast), *semantic])
        if semantic and not self.has_rest:
            return " ".join(semantic)
        parts = [self.fts or "", *semantic]
        parts += [" OR ".join(f"cat:{v}" for v in group) for group in self.include_categories]
        parts += [f"-cat:{v}" for v in self.exclude_categories]
        return " ".join(p for p in parts if p)

    def __str__(self) -> str:
        return self.describe()

    def highlight_terms(self) -> tuple[str, ...]:
        """Words and phrases the query looks for (not the excluded ones), for highlighting."""
        if self.ast is None:
            return ()
        return tuple(dict.fromkeys(_positive_texts(self.ast)))

    def with_categories(self, categories: Sequence[str]) -> CompiledQuery:
        """The same query limited to papers in any of these categories (a feed's own filter)."""
        found = [_category(c) for c in categories]
        if not found:
            return self
        group = _dedupe(c.value for c in found)
        extra = _make_or(Category(v) for v in group)
        return CompiledQuery(
            fts=self.fts,
            include_categories=_dedupe_groups([*self.include_categories, group]),
            exclude_categories=self.exclude_categories,
            ast=_make_and([self.ast, extra]),
            title_evidence=self.title_evidence,
            like=self.like,
            about=self.about,
        )


def _category_hit(value: str, have: Sequence[str]) -> bool:
    """``cs.LG`` matches exactly; ``cs`` matches ``cs`` and every ``cs.*``."""
    wanted = value.lower()
    if "." in wanted:
        return wanted in have
    return any(c == wanted or c.startswith(wanted + ".") for c in have)


def _positive_texts(node: Node) -> Iterator[str]:
    if isinstance(node, Term):
        yield node.text
    elif isinstance(node, Phrase):
        yield " ".join(node.words)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _positive_texts(child)


def compile_query(text: str, *, ranking: bool = True) -> CompiledQuery:
    """Parse and compile a query, or raise QueryError with one line saying why not.

    ``ranking=False`` leaves out the title evidence, which only search's ranking reads: feeds
    and follows match without it, and skipping it is a third of the compile time.
    """
    root = parse_query(text)
    if root is None:
        raise QueryError(
            'nothing to search for: give at least one word, "phrase" or cat: filter '
            "(punctuation and operators alone are ignored)"
        )
    conjuncts = root.children if isinstance(root, And) else (root,)
    semantic = [n for n in conjuncts if isinstance(n, Term) and n.field in SEMANTIC_FIELDS]
    like = tuple(dict.fromkeys(n.text for n in semantic if n.field == "like"))
    about = tuple(dict.fromkeys(n.text for n in semantic if n.field == "about"))
    rest = [n for n in conjuncts if n not in semantic]
    for node in rest:
        if _has_semantic(node):
            raise QueryError(
                f"cannot search {_quoted(node)}: like: and about: filter the whole query; "
                "put them beside the rest (AND), not inside OR, NOT or -"
            )
    if not rest:
        return CompiledQuery(fts=None, like=like, about=about)
    words: list[Node] = []
    include: list[tuple[str, ...]] = []
    exclude: list[str] = []
    for node in rest:
        _sort_conjunct(node, words, include, exclude)
    return CompiledQuery(
        fts=_top_level_fts(words, include, exclude, allow_empty=bool(semantic)),
        include_categories=_dedupe_groups(include),
        exclude_categories=_dedupe(exclude),
        ast=_make_and(rest),
        title_evidence=_title_evidence(words) if ranking else (),
        like=like,
        about=about,
    )


def _has_semantic(node: Node) -> bool:
    if isinstance(node, Term):
        return node.field in SEMANTIC_FIELDS
    if isinstance(node, Phrase | Category):
        return False
    children = (node.child,) if isinstance(node, Not) else node.children
    return any(_has_semantic(child) for child in children)


# --- Title evidence for ranking ------------------------------------------------------------


def _title_evidence(words: Sequence[Node]) -> tuple[str, ...]:
    """All words in the title, then close together, then the phrase (see `CompiledQuery`)."""
    every = _title_fts(_make_and(words))
    if every is None:
        return ()
    leaves = _title_run(words)
    if len(leaves) < 2:
        return (every,)
    tokens = sum(len(_TOKEN.findall(_leaf_text(leaf))) for leaf in leaves)
    near = " ".join(_fts_leaf(replace(leaf, field=None)) for leaf in leaves)
    close = f"title : NEAR({near}, {max(tokens - 2, 0) + NEAR_SLACK})"
    phrase = _fts_leaf(Phrase(tuple(_leaf_text(leaf) for leaf in leaves), "title"))
    return (every, close, phrase)


def _title_fts(node: Node | None) -> str | None:
    """The query's wanted words looked for in the title alone; None if it asks nothing of it.

    Exclusions, categories and words meant for another field ask nothing of the title (the
    match already checked them); an OR with such an alternative asks nothing either.
    """
    if isinstance(node, Term | Phrase):
        return _fts_leaf(replace(node, field="title")) if node.field in (None, "title") else None
    if isinstance(node, And):
        parts = [p for p in map(_title_fts, node.children) if p is not None]
        if len(parts) < 2:
            return parts[0] if parts else None
        return " AND ".join(f"({p})" for p in parts)
    if isinstance(node, Or):
        alternatives = [_title_fts(child) for child in node.children]
        if any(a is None for a in alternatives):
            return None
        return " OR ".join(f"({a})" for a in alternatives)
    return None


def _title_run(words: Sequence[Node]) -> list[Term | Phrase]:
    """The title words of a plain conjunction, in query order; empty when the query is not one.

    Only words and phrases side by side can form a phrase or stand close: an OR, a group or a
    prefix has no single reading, so such queries get the all-words evidence only.
    """
    leaves: list[Term | Phrase] = []
    for node in words:
        if isinstance(node, Not) or (
            isinstance(node, Term | Phrase) and node.field not in (None, "title")
        ):
            continue
        if not isinstance(node, Term | Phrase) or (isinstance(node, Term) and node.prefix):
            return []
        leaves.append(node)
    return leaves


def _leaf_text(leaf: Term | Phrase) -> str:
    return leaf.text if isinstance(leaf, Term) else " ".join(leaf.words)


def _sort_conjunct(
    node: Node, words: list[Node], include: list[tuple[str, ...]], exclude: list[str]
) -> None:
    """File one top-level conjunct under full text, wanted categories or unwanted ones."""
    has_category, has_text = _contents(node)
    if not has_category:
        words.append(node)
    elif isinstance(node, Not):
        if has_text:
            raise QueryError(
                f"cannot exclude {_quoted(node.child)}: categories and words are filtered "
                "separately; exclude them one by one (-cat:... -word)"
            )
        exclude.extend(_excluded_categories(node.child))
    elif has_text:
        raise QueryError(
            f"cannot search {_quoted(node)}: cat: cannot be OR-ed with words; put cat: filters "
            "outside the OR group, e.g. 'cat:cs.LG (diffusion OR flow)'"
        )
    else:
        include.extend(_category_cnf(node))


def _contents(node: Node) -> tuple[bool, bool]:
    """Whether a subtree holds categories, and whether it holds words."""
    if isinstance(node, Category):
        return True, False
    if isinstance(node, Term | Phrase):
        return False, True
    children = (node.child,) if isinstance(node, Not) else node.children
    found = [_contents(child) for child in children]
    return any(c for c, _ in found), any(t for _, t in found)


def _category_cnf(node: Node) -> list[tuple[str, ...]]:
    """Categories-only subtree as groups that must each match (OR is distributed over AND)."""
    if isinstance(node, Category):
        return [(node.value,)]
    if isinstance(node, And):
        return [group for child in node.children for group in _category_cnf(child)]
    if isinstance(node, Or):
        groups: list[tuple[str, ...]] = [()]
        for child in node.children:
            groups = [a + b for a in groups for b in _category_cnf(child)]
            if len(groups) > MAX_CATEGORY_GROUPS:
                raise QueryError(
                    "the cat: filters combine into too many alternatives; simplify them"
                )
        return groups
    raise QueryError(
        f"cannot search {_quoted(node)}: an excluded category cannot be an OR alternative; "
        "put -cat: filters outside the OR group"
    )


def _excluded_categories(node: Node) -> list[str]:
    """The categories named by ``-cat:a`` or ``-(cat:a OR cat:b)``; other shapes are refused."""
    if isinstance(node, Category):
        return [node.value]
    if isinstance(node, Or):
        return [v for child in node.children for v in _excluded_categories(child)]
    raise QueryError(
        f"cannot exclude {_quoted(node)}: only single categories can be excluded; "
        "write -cat:a -cat:b to exclude each"
    )


def _top_level_fts(
    words: list[Node],
    include: Sequence[object],
    exclude: Sequence[str],
    *,
    allow_empty: bool = False,
) -> str | None:
    """The MATCH expression for the word part; refuse a query with nothing to look for.

    With `allow_empty` (like: or about: look for something) the rest may only exclude, as long
    as it excludes categories: excluded words need a word beside them in full text."""
    if any(not isinstance(node, Not) for node in words):
        return _fts_conjunction(words)
    if (include or allow_empty) and not words:
        return None
    shown = " ".join([render(n) for n in words] + [f"-cat:{v}" for v in exclude])
    if include:
        raise QueryError(
            f"a query needs at least one word to look for; {_shorten(shown)} only excludes "
            "(cat: filters cannot carry excluded words on their own)"
        )
    raise QueryError(
        f"a query needs at least one word to look for; {_shorten(shown)} only excludes"
    )


def _fts(node: Node) -> str:
    """FTS5 syntax for a words-only subtree."""
    if isinstance(node, Term | Phrase):
        return _fts_leaf(node)
    if isinstance(node, And):
        return _fts_conjunction(node.children)
    if isinstance(node, Or):
        return _fts_disjunction(node)
    raise QueryError(f"cannot search {_quoted(node)}: it needs a word to look for")


def _fts_leaf(node: Term | Phrase) -> str:
    """A double-quoted FTS5 string (quotes doubled), a prefix marker, a column filter."""
    text = node.text if isinstance(node, Term) else " ".join(node.words)
    out = '"' + text.replace('"', '""') + '"'
    if isinstance(node, Term) and node.prefix:
        out += " *"
    if node.field is not None:
        out = f"{FTS_COLUMNS[node.field]} : ({out})"
    return out


def _fts_operand(node: Node) -> str:
    out = _fts(node)
    return f"({out})" if isinstance(node, And | Or) else out


def _fts_conjunction(children: Sequence[Node]) -> str:
    """``a b -c -d`` becomes ``(a AND b) NOT (c OR d)``: FTS5's NOT needs something on its left."""
    wanted = [c for c in children if not isinstance(c, Not)]
    unwanted = [c.child for c in children if isinstance(c, Not)]
    if not wanted:
        shown = _make_and(children)
        raise QueryError(
            f"cannot search {_quoted(shown) if shown else 'it'}: "
            "it only excludes; every group needs a word to look for"
        )
    out = " AND ".join(_fts_operand(c) for c in wanted)
    if unwanted:
        out = f"({out}) NOT ({' OR '.join(_fts_operand(c) for c in unwanted)})"
    return out


def _fts_disjunction(node: Or) -> str:
    """Alternatives joined by OR; an exclusion as an alternative cannot be expressed."""
    for child in node.children:
        if isinstance(child, Not):
            raise QueryError(
                f"cannot search {_quoted(node)}: an excluded word cannot be an OR alternative "
                "(it would match almost every paper); put exclusions outside the OR group"
            )
    return " OR ".join(_fts_operand(c) for c in node.children)


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    """Drop repeats, ignoring case, keeping the first spelling."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.lower(), value)
    return tuple(seen.values())


def _dedupe_groups(groups: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Drop repeated values inside groups and repeated groups."""
    seen: dict[frozenset[str], tuple[str, ...]] = {}
    for group in groups:
        clean = _dedupe(group)
        seen.setdefault(frozenset(v.lower() for v in clean), clean)
    return tuple(seen.values())
