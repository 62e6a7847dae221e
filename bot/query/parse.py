"""Text to tree: the lexer and the lenient parser, the limits they enforce, and the way back."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from bot.errors import PaperIdError, QueryError
from bot.models import parse_paper_id
from bot.query.nodes import (
    And,
    Category,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    _make_and,
    _make_not,
    _make_or,
)

MAX_LENGTH = 300
MAX_DEPTH = 10

# What users may write before a colon, and the field each name means.
FIELD_NAMES = {
    "title": "title",
    "abstract": "abstract",
    "author": "author",
    "authors": "author",
    "cat": "cat",
    "category": "cat",
    "like": "like",
    "about": "about",
}
# Meaning, not words (the semantic extra): like:ID and about:"text" are Terms with these fields,
# taken out of the tree by the compiler; they never reach the full-text engines.
SEMANTIC_FIELDS = frozenset({"like", "about"})
ABOUT_MAX = 200

# Unicode categories replaced by a space: controls, invisible formatting, lone surrogates
# (which the database driver could not even encode) and line/paragraph separators.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EDGE_JUNK = re.compile(r"^[\W_]+|[\W_]+$")
_FIELD_PREFIX = re.compile(r"[\W_]*([A-Za-z]+):")
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)?", re.ASCII)
_CATEGORY_MAX = 40
# A word runs to the next space, parenthesis or quote (\s is exactly str.isspace here).
_WORD_RUN = re.compile(r'[^\s()"]*')


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
    if text.isprintable():  # none of them (all are unprintable): the usual case, checked in C
        return text
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
    match = _WORD_RUN.match(text, start)
    end = match.end() if match else start
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
    if field in SEMANTIC_FIELDS:
        return _semantic_leaf(raw, field)
    stem = raw.rstrip("*")
    text = _normal(stem)
    if not text:
        return None
    return Term(text, field, prefix=stem != raw)


def _phrase_leaf(raw: str, field: str | None) -> Node | None:
    """A quoted phrase keeps only words with a letter or digit; an empty one is dropped."""
    if field == "cat":
        return _category(raw)
    if field in SEMANTIC_FIELDS:
        return _semantic_leaf(raw, field)
    words = tuple(w for w in (_normal(part) for part in raw.split()) if w)
    return Phrase(words, field) if words else None


def _semantic_leaf(raw: str, field: str) -> Term | None:
    """``like:`` takes one paper id or link; ``about:`` a word or a "phrase" of free text."""
    text = " ".join(raw.split())
    if not text:
        return None
    if field == "like":
        try:
            return Term(parse_paper_id(text).id, "like")
        except PaperIdError:
            raise QueryError(
                f"like:{_shorten(text)} is not an arXiv id or paper link (e.g. like:2401.01234)"
            ) from None
    if len(text) > ABOUT_MAX:
        raise QueryError(f'about:"..." is too long ({len(text)} characters; at most {ABOUT_MAX})')
    return Term(text, "about")


def _category(raw: str) -> Category:
    """Validate a category name; ``cs.*`` is read as the archive ``cs``."""
    value = _EDGE_JUNK.sub("", raw.strip())
    if len(value) > _CATEGORY_MAX or not _CATEGORY.fullmatch(value):
        raise QueryError(
            f"cat:{_shorten(raw.strip())} is not an arXiv category "
            "(letters, digits, '-' and one '.', e.g. cat:cs.LG, or cat:cs for the whole archive)"
        )
    return Category(value)


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
    if isinstance(node, Term) and node.field == "about":
        return f'about:"{node.text}"'
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
