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
    like:2401.01234             close in meaning to that paper (the semantic extra)
    about:"free text"           close in meaning to the text (the semantic extra)

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
- a malformed category (``cat:cs.LG.x``, ``cat:%``): letters, digits, ``-`` and one ``.``;
- ``like:`` without a paper id or link, ``about:`` over 200 characters, and either of them
  inside an OR, a NOT or an exclusion: they filter the whole query, beside the rest.

``like:`` and ``about:`` are compiled apart from the words (``CompiledQuery.like`` / ``.about``):
searches rank by them, feeds and follows filter by them (``bot.services.semantic``).

The compiler emits full-text syntax built only from double-quoted strings and its own
operators, so nothing a user types reaches the database as syntax.
"""

# The public API, re-exported: the tree (nodes), text to tree (parse), tree to FTS5 (compile).
from bot.errors import QueryError
from bot.query.compile import (
    FTS_COLUMNS,
    MAX_CATEGORY_GROUPS,
    NEAR_SLACK,
    CompiledQuery,
    compile_query,
)
from bot.query.nodes import And, Category, Node, Not, Or, Phrase, Term
from bot.query.parse import FIELD_NAMES, MAX_DEPTH, MAX_LENGTH, parse_query, render

__all__ = [
    "FIELD_NAMES",
    "FTS_COLUMNS",
    "MAX_CATEGORY_GROUPS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "NEAR_SLACK",
    "And",
    "Category",
    "CompiledQuery",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QueryError",
    "Term",
    "compile_query",
    "parse_query",
    "render",
]
