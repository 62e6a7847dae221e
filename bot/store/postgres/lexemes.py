"""Words as the SQLite store sees them, for PostgreSQL's tsvector and tsquery.

Search must find the same papers on both backends, and feeds (matched by the FTS5 batch
matcher) must agree with search. PostgreSQL's own text parsing cannot promise that: its parser
reads "GPT-4" as 'gpt' and '-4' and "3.5" as one number, the `english` configuration drops
stop words ("the", "of") and stems with snowball rather than porter, and accents stay unless
`unaccent` is installed. So the lexemes come from SQLite's FTS5 tokenizer itself (porter over
unicode61 without diacritics, as in migration 0001 of the SQLite store), called directly through
APSW's `fts5_tokenizer` (about 50x faster than reading tokens back through `fts5vocab` from a
scratch table), and PostgreSQL receives finished lexemes: a tsvector for each paper (in binary,
which the server reads without parsing), quoted lexemes in each tsquery. PostgreSQL then only
compares strings and positions.

Fields are laid out one after another in the tsvector with an unused position between them,
so a phrase never spans two fields (FTS5 phrases stay inside one column): title (weight A),
then abstract (C), then authors (B) last, because only very long author lists can reach
PostgreSQL's last position (16383), where positions saturate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import TypeVar

from bot.store.common.tokens import TOKENIZE, Fts5Tokens

# PostgreSQL's limits: positions 1..16383, at most 256 positions per lexeme, lexemes < 2 KiB.
MAX_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256
MAX_LEXEME_BYTES = 2046
# Weight letters by field, as tsquery restricts them (title:, author:, abstract:).
WEIGHTS = {"title": "A", "author": "B", "abstract": "C"}
_FIELD_ORDER = ("title", "abstract", "author")
# A scratch table for title tiers, made and dropped inside one transaction.
_TITLES_CREATE = f"CREATE VIRTUAL TABLE temp.titles USING fts5 (title, tokenize = '{TOKENIZE}')"
_TITLES_INSERT = "INSERT INTO temp.titles (rowid, title) VALUES (?, ?)"
_TITLES_MATCH = "SELECT rowid FROM temp.titles WHERE titles MATCH ?"


class Lexer(Fts5Tokens):
    """FTS5's tokenizer, and FTS5 itself for title tiers, on a private in-memory database."""

    def title_tiers(self, titles: Mapping[int, str], evidence: Sequence[str]) -> dict[int, int]:
        """How many of the FTS5 `evidence` expressions (over a `title` column) each title
        matches: the SQLite store's title tiers, computed by FTS5 itself on a scratch table."""
        tiers = dict.fromkeys(titles, 0)
        if not evidence or not titles:
            return tiers
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN")
            try:
                cursor.execute(_TITLES_CREATE)
                cursor.executemany(_TITLES_INSERT, titles.items())
                for expression in evidence:
                    for (rowid,) in cursor.execute(_TITLES_MATCH, (expression,)):
                        tiers[int(rowid)] += 1
            finally:
                cursor.execute("ROLLBACK")  # the scratch table and its rows go with it
        return tiers

    def words(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Each text's lexemes in order, as a query term or phrase made of it would look for."""
        return [tuple(self.tokens(text)) for text in texts]

    def documents(self, papers: Iterable[tuple[str, str, str]]) -> list[str]:
        """tsvector literals for (title, author_text, abstract) triples."""
        return [tsvector_literal(self._fields(*paper)) for paper in papers]

    def binary_documents(self, papers: Iterable[tuple[str, str, str]]) -> list[bytes]:
        """tsvectors in PostgreSQL's binary form (see `tsvector_binary`), for bulk inserts."""
        return [tsvector_binary(self._fields(*paper)) for paper in papers]

    def _fields(self, title: str, authors: str, abstract: str) -> dict[str, list[str]]:
        return {
            "title": self.tokens(title),
            "abstract": self.tokens(abstract),
            "author": self.tokens(authors),
        }


def quote(lexeme: str) -> str:
    """A lexeme as tsvector and tsquery input read it: in single quotes, quote and backslash escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(fields: dict[str, list[str]]) -> str:
    """One paper's lexemes with positions and weights, e.g. ``'causal':1A,9C 'zhang':20B``.

    The hot path of every import: position labels come from a table made once and each word
    costs one dictionary step, five times less Python than formatting them. A paper long enough
    to reach the last position takes the general path (`grouped_literal`), which saturates.
    """
    if sum(map(len, fields.values())) + len(_FIELD_ORDER) > MAX_POSITION:
        return grouped_literal(fields)
    positions = _grouped_positions(fields, _LABELS)
    words = list(positions)
    if _QUOTED.search(" ".join(words)):
        words = [w.replace("\\", "\\\\").replace("'", "''") for w in words]
    # More than 256 positions: PostgreSQL keeps the first 256, as the general path does.
    grouped = positions.values()
    return " ".join(["'" + w + "':" + ",".join(p) for w, p in zip(words, grouped, strict=True)])


def grouped_literal(fields: dict[str, list[str]]) -> str:
    """The same literal for a paper of any length (positions saturate at MAX_POSITION), slower."""
    positions: dict[str, list[str]] = {}
    start = 1
    for field in _FIELD_ORDER:
        weight = WEIGHTS[field]
        tokens = fields[field]
        for offset, term in enumerate(tokens):
            if not _indexable(term):
                continue
            at = positions.setdefault(term, [])
            if len(at) < MAX_POSITIONS_PER_LEXEME:
                at.append(f"{min(start + offset, MAX_POSITION)}{weight}")
        start += len(tokens) + 1
    return " ".join(f"{quote(term)}:{','.join(at)}" for term, at in positions.items())


def _indexable(term: str) -> bool:
    """PostgreSQL refuses a longer lexeme; no real word is this long."""
    return len(term.encode("utf-8")) <= MAX_LEXEME_BYTES


# Position labels ("17C") by weight, index = position, made once.
_LABELS = {w: [f"{i}{w}" for i in range(MAX_POSITION + 1)] for w in WEIGHTS.values()}
# No word of at most this many characters can exceed MAX_LEXEME_BYTES (4 bytes a character).
_SURELY_INDEXABLE = MAX_LEXEME_BYTES // 4
_QUOTED = re.compile(r"['\\]")


# Binary positions by weight, index = position: PostgreSQL's WordEntryPos, the weight in the top
# two bits (A 3, B 2, C 1), big-endian as the wire form of an uint16.
_WEIGHT_BITS = {"A": 3, "B": 2, "C": 1}
_BINARY_POSITIONS = {
    w: [((bits << 14) | i).to_bytes(2, "big") for i in range(MAX_POSITION + 1)]
    for w, bits in _WEIGHT_BITS.items()
}
_POSITIONS_A, _POSITIONS_B, _POSITIONS_C = (_BINARY_POSITIONS[w] for w in "ABC")
# A lexeme's count of positions (uint16) by the length of its positions in bytes (two each).
_NPOS_BY_SIZE = [(n // 2).to_bytes(2, "big") for n in range(2 * MAX_POSITIONS_PER_LEXEME + 1)]


def tsvector_binary(fields: dict[str, list[str]]) -> bytes:
    """The same tsvector in PostgreSQL's binary wire form (tsvectorrecv's input): the count of
    lexemes, then each lexeme NUL-terminated with its positions. The server then reads the
    vector instead of parsing a literal, which was a third of its work per new paper.

    The hot path of a bulk import, one dictionary step a word: a lexeme's positions grow as
    one bytes string (no list per lexeme, no join), its count read from the string's length.
    """
    title, abstract, author = fields["title"], fields["abstract"], fields["author"]
    nt, na, nb = len(title), len(abstract), len(author)
    if nt + na + nb + len(_FIELD_ORDER) > MAX_POSITION:
        return _binary_from_literal(grouped_literal(fields))
    positions: dict[str, bytes] = {}
    get = positions.get
    start = nt + na + 2  # one unused position after each field: phrases never join two
    for tokens, labels in (
        (title, _POSITIONS_A[1 : nt + 1]),
        (abstract, _POSITIONS_C[nt + 2 : start]),
        (author, _POSITIONS_B[start + 1 : start + 1 + nb]),
    ):
        if tokens and max(map(len, tokens)) > _SURELY_INDEXABLE:
            kept = [(t, at) for t, at in zip(tokens, labels, strict=True) if _indexable(t)]
            tokens, labels = [t for t, _ in kept], [at for _, at in kept]
        for term, label in zip(tokens, labels, strict=True):
            at = get(term)
            positions[term] = label if at is None else at + label
    grouped = positions.values()
    sizes = list(map(len, grouped))
    if sizes and max(sizes) > 2 * MAX_POSITIONS_PER_LEXEME:  # the server refuses more
        return _binary_from_literal(grouped_literal(fields))
    # Assembled by C-level joins: lexeme, NUL, count, positions, for each lexeme.
    terms = "\x00".join(positions).encode("utf-8").split(b"\x00")
    body = zip(terms, repeat(b"\x00"), map(_NPOS_BY_SIZE.__getitem__, sizes), grouped)
    return len(sizes).to_bytes(4, "big") + b"".join(chain.from_iterable(body))


def _binary_from_literal(literal: str) -> bytes:
    """The binary form of a grouped literal (the rare saturated paper): positions strictly
    increasing, a saturated position once with its highest weight."""
    parts: list[bytes] = []
    for entry in _ENTRIES.finditer(literal):
        term = entry["term"].replace("''", "'").replace("\\\\", "\\")
        best: dict[int, int] = {}
        for label in entry["at"].split(","):
            pos, bits = int(label[:-1]), _WEIGHT_BITS[label[-1]]
            best[pos] = max(bits, best.get(pos, 0))
        at = [((bits << 14) | pos).to_bytes(2, "big") for pos, bits in sorted(best.items())]
        at = at[:MAX_POSITIONS_PER_LEXEME]
        parts.append(term.encode("utf-8") + b"\x00" + _NPOS_BY_SIZE[2 * len(at)] + b"".join(at))
    return len(parts).to_bytes(4, "big") + b"".join(parts)


_Label = TypeVar("_Label", str, bytes)


def _grouped_positions(
    fields: dict[str, list[str]], table: Mapping[str, Sequence[_Label]]
) -> dict[str, list[_Label]]:
    """Each lexeme's position labels in field order, labels taken from a table made once (text
    labels for literals, packed bytes for the binary form)."""
    positions: dict[str, list[_Label]] = {}
    start = 1
    for field in _FIELD_ORDER:
        tokens = fields[field]
        labels = table[WEIGHTS[field]][start : start + len(tokens)]
        start += len(tokens) + 1  # one unused position: phrases never join two fields
        if tokens and max(map(len, tokens)) > _SURELY_INDEXABLE:
            kept = [(t, at) for t, at in zip(tokens, labels, strict=True) if _indexable(t)]
            tokens, labels = [t for t, _ in kept], [at for _, at in kept]
        for term, label in zip(tokens, labels, strict=True):
            at = positions.get(term)
            if at is None:
                positions[term] = [label]
            else:
                at.append(label)
    return positions


_ENTRIES = re.compile(r"'(?P<term>(?:[^']|'')*)':(?P<at>[0-9ABC,]+)")


def tsvector_from_binary(data: bytes) -> str:
    """A binary tsvector read back as its literal (the driver's decoder; the store reads none)."""
    count, at, out = int.from_bytes(data[:4], "big"), 4, []
    for _ in range(count):
        end = data.index(b"\x00", at)
        term = data[at:end].decode("utf-8")
        npos = int.from_bytes(data[end + 1 : end + 3], "big")
        labels = []
        for k in range(npos):
            word = int.from_bytes(data[end + 3 + 2 * k : end + 5 + 2 * k], "big")
            labels.append(f"{word & 0x3FFF}{'DCBA'[word >> 14]}")
        at = end + 3 + 2 * npos
        out.append(quote(term) + (":" + ",".join(labels) if labels else ""))
    return " ".join(out)
