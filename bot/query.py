"""The query language shared by search, feeds and previews: parse what people type, compile it safely.

What you can write::

    causal discovery            every word must appear (stemmed: causal also finds causality)
    "language model"            the exact phrase
    diffusion OR flow           either one
    -survey    NOT survey       leave out papers with this word
    (a OR b) c                  grouping with parentheses (at most 10 levels deep)
    title:causal                only in the title; also abstract:, author: (or authors:)
    author:"Yoshua Bengio"      a field applies to a word, a "phrase" or a (group)
    cat:cs.LG   cat:cs          an arXiv category, or a whole archive (cs means cs and cs.*)
    -cat:cs.CV                  leave out a category; category: is the same as cat:
    transform*                  any word starting with transform

How it reads: AND (or just a space) binds tighter than OR, so ``a b OR c`` means
``(a b) OR c``; ``a NOT b`` is ``a -b``. Operators count only in capitals; ``or`` is a word.
Field names do not care about case. Letters are compared without case or accents, and words
are stemmed (English), so ``models`` finds ``model``.

Understood leniently (never an error):

- an unclosed quote runs to the end of the query; an unclosed ``(`` closes at the end;
  a ``)`` with no partner is ignored;
- stray operators are dropped: a leading or trailing ``OR``, ``AND OR NOT``, ``NOT`` at the end,
  a ``-`` or ``*`` standing alone, a field with nothing after it (``title:``);
- an unknown ``word:`` prefix (``col:x``, ``http://...``) is plain text; a space after a known
  field is allowed (``title: causal``); ``cat:cs.*`` means ``cat:cs``;
- punctuation, SQL and full-text syntax are plain text: only letters and digits are searched,
  so ``NEAR(a b)`` looks for near, a and b; a word with no letter or digit is dropped;
- control and invisible formatting characters are removed.

Refused with a one-line reason (:class:`~bot.errors.QueryError`):

- a query longer than 300 characters, or one that leaves nothing to look for (``"*"``, ``()``);
- parentheses nested more than 10 deep;
- a query that only excludes (``-survey``, ``cat:cs.LG -survey``, ``-cat:cs.CV``): it needs at
  least one word to look for (a positive ``cat:`` is enough when nothing is excluded by word);
- an exclusion as an OR alternative (``a OR -b``): it would mean "every paper without b";
- ``cat:`` OR-ed with words (``cat:cs.LG OR diffusion``), or excluded together with words
  (``-(cat:cs.LG diffusion)``): categories are filtered apart from the text;
- ``-(cat:a cat:b)``: excluding a combination of categories;
- a malformed category (``cat:cs.LG.x``, ``cat:%``): letters, digits, ``-`` and one ``.``.

The compiler emits full-text syntax built only from double-quoted strings and its own
operators, so nothing a user types reaches the database as syntax.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeAlias

from bot.errors import QueryError

MAX_LENGTH = 300
MAX_DEPTH = 10
MAX_CATEGORY_GROUPS = 64

# What users may write before a colon, and the field each name means.
FIELD_NAMES = {
    "title": "title",
    "abstract": "abstract",
    "author": "author",
    "authors": "author",
    "cat": "cat",
    "category": "cat",
}
# The full-text column behind each text field.
FTS_COLUMNS = {"title": "title", "author": "author_text", "abstract": "abstract"}

# Unicode categories replaced by a space: controls, invisible formatting, lone surrogates
# (which the database driver could not even encode) and line/paragraph separators.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EDGE_JUNK = re.compile(r"^[\W_]+|[\W_]+$")
_FIELD_PREFIX = re.compile(r"[\W_]*([A-Za-z]+):")
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)?", re.ASCII)
_CATEGORY_MAX = 40
# How many other words may stand between the query's words for a title to hold them "close
# together" (titles are short: beyond this the words usually belong to different ideas).
NEAR_SLACK = 2
_TOKEN = re.compile(r"[^\W_]+")


# --- The syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One word, optionally limited to a field and optionally a prefix (``transform*``)."""

    text: str
    field: str | None = None
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear next to each other, in order."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Category:
    """An arXiv category (``cs.LG``) or a whole archive (``cs``), filtered outside full text."""

    value: str


@dataclass(frozen=True, slots=True)
class And:
    """Every child must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child must hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child must not hold."""

    child: Node


Node: TypeAlias = Term | Phrase | Category | And | Or | Not


# --- Tokens -------------------------------------------------------------------------------


class _Kind(Enum):
    WORD = "word"
    PHRASE = "phrase"
    FIELD = "field"
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    EOF = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str = ""


_OPERATORS = {"AND": _Kind.AND, "OR": _Kind.OR, "NOT": _Kind.NOT}
_EOF = _Token(_Kind.EOF)


def _clean(text: str) -> str:
    """Replace controls and invisible characters by spaces so they can neither hide nor join."""
    return "".join(" " if unicodedata.category(ch) in _REMOVED_CATEGORIES else ch for ch in text)


def _tokens(text: str) -> list[_Token]:
    """Split cleaned text into tokens; every character lands somewhere, so nothing can fail."""
    out: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Token(_Kind.LPAREN if ch == "(" else _Kind.RPAREN))
            i += 1
        elif ch == '"':
            i = _lex_phrase(text, i, out)
        elif ch == "-":
            i = _lex_dashes(text, i, out)
        else:
            i = _lex_word(text, i, out)
    return out


def _lex_phrase(text: str, start: int, out: list[_Token]) -> int:
    """A quoted phrase; an unclosed quote runs to the end of the query."""
    end = text.find('"', start + 1)
    if end < 0:
        end = len(text)
    out.append(_Token(_Kind.PHRASE, text[start + 1 : end]))
    return end + 1


def _lex_dashes(text: str, start: int, out: list[_Token]) -> int:
    """Dashes right before something exclude it; dashes standing alone are dropped."""
    end = start
    while end < len(text) and text[end] == "-":
        end += 1
    if end < len(text) and not text[end].isspace() and text[end] != ")":
        out.append(_Token(_Kind.NOT))
    return end


def _lex_word(text: str, start: int, out: list[_Token]) -> int:
    """A word, an operator, or a known ``field:`` prefix (lexing resumes after its colon)."""
    end = start
    while end < len(text) and not text[end].isspace() and text[end] not in '()"':
        end += 1
    word = text[start:end]
    if word in _OPERATORS:
        out.append(_Token(_OPERATORS[word]))
        return end
    prefix = _FIELD_PREFIX.match(word)
    if prefix and prefix.group(1).lower() in FIELD_NAMES:
        out.append(_Token(_Kind.FIELD, FIELD_NAMES[prefix.group(1).lower()]))
        return start + prefix.end()
    out.append(_Token(_Kind.WORD, word))
    return end


# --- Parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens, dropping what makes no sense instead of failing."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._pos = 0

    def _peek(self) -> _Kind:
        return self._tokens[self._pos].kind if self._pos < len(self._tokens) else _Kind.EOF

    def _next(self) -> _Token:
        token = self._tokens[self._pos] if self._pos < len(self._tokens) else _EOF
        self._pos += 1
        return token

    def parse(self) -> Node | None:
        """The whole query; a ``)`` without a partner at the top level is skipped."""
        parts: list[Node] = []
        while True:
            node = self._or(0, None)
            if node is not None:
                parts.append(node)
            if self._peek() is _Kind.EOF:
                return _make_and(parts)
            self._next()

    def _or(self, depth: int, field: str | None) -> Node | None:
        """Alternatives separated by OR; empty alternatives (stray ORs) vanish."""
        alternatives: list[Node] = []
        while True:
            node = self._and(depth, field)
            if node is not None:
                alternatives.append(node)
            if self._peek() is not _Kind.OR:
                return _make_or(alternatives)
            self._next()

    def _and(self, depth: int, field: str | None) -> Node | None:
        """Operands side by side (or joined by AND) up to an OR, a ``)`` or the end."""
        operands: list[Node] = []
        while self._peek() not in (_Kind.EOF, _Kind.OR, _Kind.RPAREN):
            if self._peek() is _Kind.AND:
                self._next()
                continue
            node = self._unary(depth, field)
            if node is not None:
                operands.append(node)
        return _make_and(operands)

    def _unary(self, depth: int, field: str | None) -> Node | None:
        """Any run of ``-``, ``NOT`` and ``field:`` before one operand; alone, they are dropped."""
        negate = False
        while self._peek() in (_Kind.NOT, _Kind.FIELD):
            token = self._next()
            if token.kind is _Kind.NOT:
                negate = not negate
            else:
                field = token.text
        if self._peek() in (_Kind.EOF, _Kind.OR, _Kind.AND, _Kind.RPAREN):
            return None
        node = self._primary(depth, field)
        if node is None or not negate:
            return node
        return _make_not(node)

    def _primary(self, depth: int, field: str | None) -> Node | None:
        """A word, a phrase or a parenthesised group (closed at the end if unclosed)."""
        token = self._next()
        if token.kind is _Kind.WORD:
            return _word_leaf(token.text, field)
        if token.kind is _Kind.PHRASE:
            return _phrase_leaf(token.text, field)
        if depth >= MAX_DEPTH:
            raise QueryError(f"the query nests parentheses more than {MAX_DEPTH} deep; simplify it")
        node = self._or(depth + 1, field)
        if self._peek() is _Kind.RPAREN:
            self._next()
        return node


def _normal(word: str) -> str:
    """Lower-case and trim punctuation at both ends, as the full-text tokenizer would ignore it."""
    return _EDGE_JUNK.sub("", word.lower())


def _word_leaf(raw: str, field: str | None) -> Node | None:
    """A word becomes a term (a prefix if it ends in ``*``), or a category under ``cat:``."""
    if field == "cat":
        return _category(raw)
    stem = raw.rstrip("*")
    text = _normal(stem)
    if not text:
        return None
    return Term(text, field, prefix=stem != raw)


def _phrase_leaf(raw: str, field: str | None) -> Node | None:
    """A quoted phrase keeps only words with a letter or digit; an empty one is dropped."""
    if field == "cat":
        return _category(raw)
    words = tuple(w for w in (_normal(part) for part in raw.split()) if w)
    return Phrase(words, field) if words else None


def _category(raw: str) -> Category:
    """Validate a category name; ``cs.*`` is read as the archive ``cs``."""
    value = _EDGE_JUNK.sub("", raw.strip())
    if len(value) > _CATEGORY_MAX or not _CATEGORY.fullmatch(value):
        raise QueryError(
            f"cat:{_shorten(raw.strip())} is not an arXiv category "
            "(letters, digits, '-' and one '.', e.g. cat:cs.LG, or cat:cs for the whole archive)"
        )
    return Category(value)


def _make_and(nodes: Iterable[Node | None]) -> Node | None:
    """An AND of the given nodes, flattened; None when there is nothing."""
    flat: list[Node] = []
    for node in nodes:
        if isinstance(node, And):
            flat.extend(node.children)
        elif node is not None:
            flat.append(node)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _make_or(nodes: Iterable[Node]) -> Node | None:
    """An OR of the given nodes, flattened; None when there is nothing."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.children if isinstance(node, Or) else (node,))
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def _make_not(node: Node) -> Node:
    """Exclude a node; excluding an exclusion gives the node back."""
    return node.child if isinstance(node, Not) else Not(node)


def parse_query(text: str) -> Node | None:
    """Parse a query into its syntax tree (None if nothing is left to search for)."""
    stripped = text.strip()
    if len(stripped) > MAX_LENGTH:
        raise QueryError(
            f"the query is too long ({len(stripped)} characters; at most {MAX_LENGTH})"
        )
    return _Parser(_tokens(_clean(stripped))).parse()


# --- Rendering ----------------------------------------------------------------------------


def render(node: Node) -> str:
    """The normalised form of a tree, in the query language itself (parsing it gives it back)."""
    if isinstance(node, Term):
        return f"{_field_label(node.field)}{node.text}{'*' if node.prefix else ''}"
    if isinstance(node, Phrase):
        return f'{_field_label(node.field)}"{" ".join(node.words)}"'
    if isinstance(node, Category):
        return f"cat:{node.value}"
    if isinstance(node, Not):
        return "-" + _render_operand(node.child, (And, Or))
    if isinstance(node, And):
        return " ".join(_render_operand(child, (Or,)) for child in node.children)
    return " OR ".join(_render_operand(child, (And,)) for child in node.children)


def _render_operand(node: Node, bracketed: tuple[type, ...]) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, bracketed) else text


def _field_label(field: str | None) -> str:
    return f"{field}:" if field else ""


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(node: Node) -> str:
    """A node as users would recognise it in an error message."""
    return repr(_shorten(render(node)))


# --- Compilation --------------------------------------------------------------------------


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
    """

    fts: str | None
    include_categories: tuple[tuple[str, ...], ...] = ()
    exclude_categories: tuple[str, ...] = ()
    ast: Node | None = None
    title_evidence: tuple[str, ...] = ()

    def matches_categories(self, categories: Sequence[str]) -> bool:
        """Whether a paper with these categories passes the category filters."""
        have = [c.lower() for c in categories]
        if not all(any(_category_hit(v, have) for v in g) for g in self.include_categories):
            return False
        return not any(_category_hit(v, have) for v in self.exclude_categories)

    def describe(self) -> str:
        """What was understood, normalised, for "searched for: ..." messages."""
        if self.ast is not None:
            return render(self.ast)
        parts = [self.fts or ""]
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


def compile_query(text: str) -> CompiledQuery:
    """Parse and compile a query, or raise QueryError with one line saying why not."""
    root = parse_query(text)
    if root is None:
        raise QueryError(
            'nothing to search for: give at least one word, "phrase" or cat: filter '
            "(punctuation and operators alone are ignored)"
        )
    words: list[Node] = []
    include: list[tuple[str, ...]] = []
    exclude: list[str] = []
    for node in root.children if isinstance(root, And) else (root,):
        _sort_conjunct(node, words, include, exclude)
    return CompiledQuery(
        fts=_top_level_fts(words, include, exclude),
        include_categories=_dedupe_groups(include),
        exclude_categories=_dedupe(exclude),
        ast=root,
        title_evidence=_title_evidence(words),
    )


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
    words: list[Node], include: Sequence[object], exclude: Sequence[str]
) -> str | None:
    """The MATCH expression for the word part; refuse a query with nothing to look for."""
    if any(not isinstance(node, Not) for node in words):
        return _fts_conjunction(words)
    if include and not words:
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
