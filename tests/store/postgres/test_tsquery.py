"""The query language on PostgreSQL: tsqueries built from parts, and the same answers as SQLite.

The pure tests read the compiler's output; the server tests load one corpus into PostgreSQL and
check, query by query, that it finds exactly the papers the FTS5 batch matcher (the SQLite
semantics, also what feeds use) finds: the documented examples, hostile text, and a thousand
generated queries over the corpus's own words.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.store
from bot.errors import QueryError
from bot.models import Paper
from bot.query import MAX_LENGTH, CompiledQuery, compile_query
from bot.store.common.tokens import TOKENIZE
from bot.store.matcher import BatchMatcher
from bot.store.postgres.lexemes import (
    Lexer,
    grouped_literal,
    tsvector_binary,
    tsvector_from_binary,
    tsvector_literal,
)
from bot.store.postgres.tsquery import TsQuery, category_filters, compile_tsquery
from tests.pg.fixtures import fresh_database
from tests.test_query import GRAMMAR_PIECES, PAPERS, PROPERTY_SETTINGS, grammar_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SQLITE_MIGRATION = Path(bot.store.__file__).parent / "migrations" / "0001_initial.sql"


@pytest.fixture(scope="module")
def lexer() -> Iterator[Lexer]:
    with Lexer() as lx:
        yield lx


# --- The compiler's output ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tsquery"),
    [
        ("causal discovery", "'causal' & 'discoveri'"),
        ('"language model"', "('languag' <-> 'model')"),
        ("diffusion OR flow", "('diffus' | 'flow')"),
        ("a -survey", "'a' & (!'survei')"),
        ("a NOT (b c)", "'a' & (!('b' & 'c'))"),
        ("(a OR b) c", "('a' | 'b') & 'c'"),
        ("title:causal", "'causal':A"),
        ('author:"Yoshua Bengio"', "('yoshua':B <-> 'bengio':B)"),
        ('abstract:(a OR "b c")', "('a':C | ('b':C <-> 'c':C))"),
        ("transform*", "'transform':*"),
        ("title:attention*", "'attent':*A"),
        ("GPT-4 naïve", "('gpt' <-> '4') & 'naiv'"),  # one word for us, two tokens for FTS5
        ("gpt-4*", "('gpt' <-> '4':*)"),
        ("cat:cs.LG diffusion -cat:cs.CV", "'diffus'"),
        ("the of", "'the' & 'of'"),  # no stop words: SQLite has none
        ("it's O'Brien\\", "('it' <-> 's') & ('o' <-> 'brien')"),
    ],
)
def test_documented_examples(lexer: Lexer, text: str, tsquery: str) -> None:
    assert compile_tsquery(compile_query(text), lexer).text == tsquery


def test_categories_only_have_no_tsquery(lexer: Lexer) -> None:
    compiled = compile_tsquery(compile_query("cat:cs.LG OR cat:stat"), lexer)
    assert compiled.text is None and not compiled.matches_nothing
    assert compiled.include_categories == (("cs.LG", "stat"),)


def test_words_without_searchable_characters_fold_like_fts5(lexer: Lexer) -> None:
    """U+19B0 is a word character to Python (the query parser) but not to FTS5's unicode61."""
    mark = "\u19b0"
    assert lexer.words([mark]) == [()]
    assert compile_tsquery(compile_query(f"a {mark}"), lexer).matches_nothing
    assert compile_tsquery(compile_query(f"a OR {mark}"), lexer).text == "'a'"
    assert compile_tsquery(compile_query(f"a -{mark}"), lexer).text == "'a'"


def test_category_filters_use_parameters() -> None:
    args: list[object] = ["earlier"]
    where = category_filters(
        compile_query("x cat:cs.LG (cat:stat OR cat:math.ST) -cat:cs.CV"), "p.pk", args
    )
    assert args == ["earlier", "cs.lg", "stat", "stat.%", "math.st", "cs.cv"]
    assert where[0].endswith("AND (pc.category = $2))")
    assert "(pc.category = $3 OR pc.category LIKE $4) OR pc.category = $5" in where[1]
    assert where[2].startswith("NOT EXISTS") and "$6" in where[2]


def test_the_tokenizer_is_the_sqlite_stores() -> None:
    assert f"tokenize = '{TOKENIZE}'" in SQLITE_MIGRATION.read_text("utf-8")
    assert f"tokenize = '{TOKENIZE}'" in Path(bot.store.matcher.__file__).read_text("utf-8")


def test_tsvector_layout_keeps_fields_apart_and_respects_limits() -> None:
    literal = grouped_literal({"title": ["a", "b"], "abstract": ["b"], "author": ["c"]})
    assert literal == "'a':1A 'b':2A,4C 'c':6B"
    many = grouped_literal({"title": ["w"] * 300, "abstract": [], "author": ["x" * 3000, "y"]})
    # 300 title positions, an empty abstract, then authors: the too-long word keeps its place.
    assert many.count("A") == 256 and "'x" not in many and many.endswith(" 'y':304B")
    far = grouped_literal({"title": [], "abstract": [f"z{i}" for i in range(20000)], "author": []})
    assert far.endswith(" 'z19999':16383C")  # saturated, as PostgreSQL's positions do
    # The hot path spells the same, the long word left out with its place kept.
    fast = tsvector_literal({"title": ["a", "b"], "abstract": ["b"], "author": ["x" * 3000, "c"]})
    assert fast == "'a':1A 'b':2A,4C 'c':7B"


# Edge cases of the layout: repeats past 256, saturation across fields, quotes, long words.
LAYOUTS = [
    {"title": ["a", "b"], "abstract": ["b", "a"], "author": ["c"]},
    {"title": ["w"] * 300, "abstract": [], "author": ["x" * 3000, "y", "w"]},
    {"title": [], "abstract": [f"z{i % 700}" for i in range(20000)], "author": ["z1", "q"]},
    {"title": ["it's", "back\\slash"], "abstract": ["é" * 600], "author": []},
    {"title": [], "abstract": [], "author": []},
    {"title": ["x" * 3000], "abstract": ["only"], "author": ["y" * 2047]},
    {"title": ["huge"], "abstract": ["word"] * 70_000, "author": ["tail"]},
]


async def test_the_hot_path_gives_the_general_paths_vector(postgres_url: str, lexer: Lexer) -> None:
    """PostgreSQL reads both literals as the same tsvector, edge cases and real papers alike."""
    papers = [
        {"title": lexer.tokens(p.title), "abstract": lexer.tokens(p.abstract),
         "author": lexer.tokens(", ".join(p.authors))}
        for p in PAPERS
    ]  # fmt: skip
    conn = await asyncpg.connect(postgres_url)
    await conn.set_type_codec("tsvector", encoder=bytes, decoder=tsvector_from_binary,
                              schema="pg_catalog", format="binary")  # fmt: skip
    try:
        for fields in [*LAYOUTS, *papers]:
            fast, grouped = tsvector_literal(fields), grouped_literal(fields)
            expected = await conn.fetchval("SELECT $1::text::tsvector::text", grouped)
            assert await conn.fetchval("SELECT $1::text::tsvector::text", fast) == expected
            # The binary form the store sends, and the driver's reading of what comes back.
            binary = await conn.fetchval("SELECT $1::tsvector::text", tsvector_binary(fields))
            assert binary == expected or _saturated(fields), (binary[:200], expected[:200])
            assert await conn.fetchval("SELECT $1::text::tsvector", grouped) == expected
    finally:
        await conn.close()


def _saturated(fields: dict[str, list[str]]) -> bool:
    """Positions saturate: which weight the text input keeps there is not defined."""
    return sum(map(len, fields.values())) + 3 > 16383


# What may appear in a tsquery: quoted lexemes (quotes doubled), weights, prefix marks, operators.
SAFE_TSQUERY = re.compile(r"(?:\s+|'(?:[^'\\]|''|\\\\)+'(?::\*?[ABC]?)?|[()&|!]|<->)*")


def _check_safe(lexer: Lexer, text: str) -> None:
    try:
        compiled = compile_tsquery(compile_query(text), lexer)
    except QueryError:
        return
    if compiled.text is not None:
        assert SAFE_TSQUERY.fullmatch(compiled.text), compiled.text


@PROPERTY_SETTINGS
@given(text=st.text(max_size=MAX_LENGTH + 20))
def test_any_text_becomes_a_safe_tsquery(lexer: Lexer, text: str) -> None:
    _check_safe(lexer, text)


@PROPERTY_SETTINGS
@given(text=grammar_text)
def test_grammar_soup_becomes_a_safe_tsquery(lexer: Lexer, text: str) -> None:
    _check_safe(lexer, text)


# --- Same answers as SQLite, on a real server ---------------------------------------------

EXTRA = (
    # What PostgreSQL's own parser and the english configuration would read differently.
    Paper(id="x1", title="GPT-4 and GPT-3.5 on self-supervised tasks", authors=("José Núñez",),
          abstract="The state of the art: x_y, e-mail a@b.org, https://example.org/path v2.0.1.",
          categories=("cs.CL",)),
    Paper(id="x2", title="Naïve Bayes, naive models and NAIVETY", authors=("Zoë Ørsted", "Łukasz Kaiser"),
          abstract="Ελληνικά και 中文 text; 2024 results; 1e-5 rates; C++ and C# code.",
          categories=("cs.LG", "stat.ML")),
    Paper(id="x3", title="Of the the and of", authors=("A. N. Other",),
          abstract="Being, doing and having: stop words are words too. Running runners ran.",
          categories=("math.ST",)),
    Paper(id="x4", title="Attention is what you need", authors=("Ann Author",),
          abstract="attention attentive attend attending attends " * 10, categories=("cs.AI",)),
)  # fmt: skip


def _load_corpus() -> list[Paper]:
    papers = list(PAPERS) + list(EXTRA)
    for line in (FIXTURES / "papers.jsonl").read_text("utf-8").splitlines():
        raw = json.loads(line)
        papers.append(
            Paper(
                id=raw["id"],
                title=raw["title"],
                abstract=raw["abstract"].strip(),
                authors=tuple(a.strip() for a in raw["authors"].split(",")),
                categories=tuple(raw["categories"].split()),
            )
        )
    for line in (FIXTURES / "hf_style_corpus.jsonl").read_text("utf-8").splitlines():
        raw = json.loads(line)
        papers.append(
            Paper(
                id=raw["id"],
                title=raw["title"],
                abstract=raw["abstract"],
                authors=tuple(raw["authors"]),
                categories=tuple(raw["categories"]),
            )
        )
    return papers


CORPUS = _load_corpus()


def fts5_index_tokens(texts: list[str]) -> list[list[str]]:
    """Each text's tokens as the SQLite store's own FTS5 index holds them (stdlib sqlite3, read
    back through fts5vocab): the reference the APSW tokenizer must equal."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
        conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(texts))
        out: list[list[str]] = [[] for _ in texts]
        for doc, _offset, term in conn.execute("SELECT doc, offset, term FROM v ORDER BY 1, 2"):
            out[doc].append(term)
        return out
    finally:
        conn.close()


def test_the_lexer_reads_words_as_the_sqlite_index_does(lexer: Lexer) -> None:
    texts = [t for p in CORPUS for t in (p.title, p.abstract, ", ".join(p.authors))]
    assert [list(w) for w in lexer.words(texts)] == fts5_index_tokens(texts)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=200))
def test_the_lexer_reads_any_text_as_the_sqlite_index_does(lexer: Lexer, text: str) -> None:
    assert [list(w) for w in lexer.words([text])] == fts5_index_tokens([text])


@pytest.fixture(scope="module")
def corpus_url(postgres_admin_url: str, postgres_template: str) -> Iterator[str]:
    yield from fresh_database(postgres_admin_url, postgres_template)


@pytest.fixture
async def corpus(corpus_url: str, lexer: Lexer) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(corpus_url)
    try:
        if not await conn.fetchval("SELECT count(*) FROM papers"):
            vectors = lexer.documents((p.title, ", ".join(p.authors), p.abstract) for p in CORPUS)
            for paper, vector in zip(CORPUS, vectors, strict=True):
                pk = await conn.fetchval(
                    "INSERT INTO papers (id, title, abstract, author_text, first_seen, changed_at, "
                    "search) VALUES ($1, $2, $3, $4, now(), now(), $5::text::tsvector) RETURNING pk",
                    paper.id, paper.title, paper.abstract, ", ".join(paper.authors), vector,
                )  # fmt: skip
                await conn.executemany(
                    "INSERT INTO paper_categories (paper_pk, category) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING",
                    [(pk, c.lower()) for c in paper.categories],
                )
        yield conn
    finally:
        await conn.close()


async def postgres_ids(conn: asyncpg.Connection, compiled: TsQuery) -> set[str]:
    if compiled.matches_nothing:
        return set()
    args: list[object] = []
    where = category_filters(compiled.query, "p.pk", args)
    if compiled.text is not None:
        args.append(compiled.text)
        where.append(f"p.search @@ ${len(args)}::tsquery")
    rows = await conn.fetch(f"SELECT id FROM papers p WHERE {' AND '.join(where)}", *args)
    return {r["id"] for r in rows}


def sqlite_ids(matcher: BatchMatcher, compiled: CompiledQuery) -> set[str]:
    return set(matcher.match(compiled))


def _words() -> list[str]:
    """Words of the corpus as people would type them (with case, accents, hyphens)."""
    found: set[str] = set()
    for paper in CORPUS:
        for text in (paper.title, paper.abstract, *paper.authors):
            found.update(w.strip(".,;:()\"'") for w in text.split())
    return sorted(w for w in found if w)


def generated_queries(
    count: int,
    seed: int = 14,
    fields: tuple[str, ...] = ("", "", "", "title:", "author:", "abstract:"),
) -> list[str]:
    """Queries over the corpus's words with every construct: fields, phrases, prefixes, NOT, OR."""
    rng = random.Random(seed)
    words = _words()
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            word = rng.choice(words)
            if kind < 0.15:
                start = rng.randrange(len(CORPUS))
                text = rng.choice([CORPUS[start].title, CORPUS[start].abstract]).split()
                at = rng.randrange(max(len(text) - 1, 1))
                part = '"' + " ".join(text[at : at + rng.randint(2, 3)]) + '"'
            elif kind < 0.3:
                part = word[: rng.randint(1, max(len(word) - 1, 1))] + "*"
            elif kind < 0.4:
                part = f"({word} OR {rng.choice(words)})"
            elif kind < 0.45:
                part = rng.choice(GRAMMAR_PIECES)
            elif kind < 0.5:
                part = rng.choice(["cat:cs.LG", "cat:cs", "-cat:cs.CV", "cat:stat"])
            else:
                part = word
            if rng.random() < 0.2 and parts:
                part = "-" + part
            parts.append(rng.choice(fields) + part)
        out.append(" ".join(parts))
    return out


DOCUMENTED = [
    "causal discovery", '"language model"', "diffusion OR flow", "-survey causal", "NOT survey causal",
    "(causal OR diffusion) model", "title:causal", 'author:"Yoshua Bengio"', "cat:cs.LG", "cat:cs",
    "-cat:cs.CV model", "transform*", "GPT-4", "gpt-3.5", "the", "of the", '"of the"', "naive",
    "naïve", "NAÏVE*", "nunez", "Núñez", "orsted", "ørsted", "lukasz", "ελληνικά", "中文", "c++",
    "e-mail", "a@b.org", "example.org", "v2.0.1", "2.0", "1e-5", "runner", "running", "ran",
    "attention", "attent*", "title:attention", "abstract:attend*", "x_y", '"gpt 4"', '"4 and"',
    '"gpt 3 5"', '"art x"', '"text 2024"', '"tasks josé"', "author:jose", "title:(gpt OR naive)",
    "attention \u19b0", "attention -\u19b0", "attention OR \u19b0", "-(attention \u19b0) naive",
]  # fmt: skip


async def test_documented_and_tricky_queries_agree_with_sqlite(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    with BatchMatcher(CORPUS) as matcher:
        for text in DOCUMENTED:
            compiled = compile_query(text)
            want = sqlite_ids(matcher, compiled)
            got = await postgres_ids(corpus, compile_tsquery(compiled, lexer))
            assert got == want, text


async def test_generated_queries_agree_with_sqlite(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    checked = found = 0
    with BatchMatcher(CORPUS) as matcher:
        for text in generated_queries(1000):
            try:
                compiled = compile_query(text)
            except QueryError:
                continue
            want = sqlite_ids(matcher, compiled)
            got = await postgres_ids(corpus, compile_tsquery(compiled, lexer))
            assert got == want, text
            checked += 1
            found += bool(want)
    # Measured: 978 compiled, 285 with at least one paper; the bounds keep the test meaningful.
    assert checked > 900 and found > 250, (checked, found)


async def test_title_only_queries_match_the_same_papers_on_the_title_vector(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    """A query made only of title words runs on the title index: it must select the same rows."""
    checked = found = uniform = 0
    for text in DOCUMENTED + generated_queries(400, seed=16, fields=("title:",)):
        try:
            compiled = compile_query(text)
        except QueryError:
            continue
        built = compile_tsquery(compiled, lexer)
        if built.title_text is None:
            continue
        want = await corpus.fetch("SELECT pk FROM papers WHERE search @@ $1::tsquery", built.text)
        got = await corpus.fetch(
            "SELECT pk, title FROM papers WHERE ts_filter(search, '{a}') @@ $1::tsquery",
            built.title_text,
        )
        assert {r["pk"] for r in got} == {r["pk"] for r in want}, text
        checked += 1
        found += bool(want)
        if len(compiled.title_evidence) == 1:  # search gives every match tier 1 unseen
            titles = {int(r["pk"]): str(r["title"]) for r in got}
            assert set(lexer.title_tiers(titles, compiled.title_evidence).values()) <= {1}, text
            uniform += bool(titles)
    assert checked > 100 and found > 30 and uniform > 10, (checked, found, uniform)


async def test_the_index_query_of_a_phrase_keeps_every_match(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    """Search looks phrases up by their words and tests the phrase on the rows found."""
    checked = narrower = 0
    for text in DOCUMENTED + generated_queries(1000, seed=17):
        try:
            built = compile_tsquery(compile_query(text), lexer)
        except QueryError:
            continue
        if built.index_text is None:
            continue
        matches = "SELECT pk FROM papers WHERE search @@ $1::tsquery"
        want = {r["pk"] for r in await corpus.fetch(matches, built.text)}
        found = {r["pk"] for r in await corpus.fetch(matches, built.index_text)}
        assert want <= found, text
        checked += 1
        narrower += want != found
    assert checked > 100 and narrower > 10, (checked, narrower)


def test_title_text_only_for_queries_made_of_title_words(lexer: Lexer) -> None:
    def title_text(text: str) -> str | None:
        return compile_tsquery(compile_query(text), lexer).title_text

    assert title_text("title:wasserstein") == "'wasserstein'"
    assert title_text('title:"mixture of experts" -title:survey*') == (
        "('mixtur' <-> 'of' <-> 'expert') & (!'survei':*)"
    )
    assert title_text("title:(gpt OR naive) cat:cs.LG") == "('gpt' | 'naiv')"
    assert title_text("title:wasserstein gan") is None
    assert title_text("wasserstein") is None
    assert title_text("cat:cs.LG") is None


def test_index_text_only_for_wanted_phrases(lexer: Lexer) -> None:
    def index_text(text: str) -> str | None:
        return compile_tsquery(compile_query(text), lexer).index_text

    assert index_text('"mixture of experts"') == "('mixtur' & 'expert')"
    assert index_text('title:"mixture of experts" GPT-4*') == (
        "('mixtur':A & 'expert':A) & ('gpt' & '4':*)"
    )
    assert index_text('("x y" OR zeta) model -"of the"') == "'model'"
    assert index_text("framework -survey") is None
    assert index_text('framework -"mixture of experts"') is None


async def test_the_title_hint_keeps_every_title_that_holds_title_evidence(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    """Search tiers only titles the hint keeps: it must never drop one with a tier above 0."""
    rows = await corpus.fetch("SELECT pk, title FROM papers")
    titles = {int(r["pk"]): str(r["title"]) for r in rows}
    checked = tiered = dropped = 0
    for text in DOCUMENTED + generated_queries(600, seed=15):
        try:
            compiled = compile_query(text)
        except QueryError:
            continue
        built = compile_tsquery(compiled, lexer)
        if built.text is None or not compiled.title_evidence:
            continue
        tiers = lexer.title_tiers(titles, compiled.title_evidence)
        assert built.title_hint is not None, text
        kept = {
            int(r["pk"])
            for r in await corpus.fetch(
                "SELECT pk FROM papers WHERE search @@ $1::tsquery", built.title_hint
            )
        }
        assert {pk for pk, tier in tiers.items() if tier} <= kept, text
        checked += 1
        tiered += any(tiers.values())
        dropped += len(titles) - len(kept)
    # Meaningful: many queries with tiered titles, and the hint does leave titles out.
    assert checked > 300 and tiered > 100 and dropped > 0, (checked, tiered, dropped)


async def test_hostile_text_reaches_the_server_as_data(
    corpus: asyncpg.Connection, lexer: Lexer
) -> None:
    for text in ["'); DROP TABLE papers; --", "a' | 'b", "a\\'b", "x:*A & !y", "a <-> b", "x'''y"]:
        compiled = compile_tsquery(compile_query(text), lexer)
        await postgres_ids(corpus, compiled)
    assert await corpus.fetchval("SELECT count(*) FROM papers") == len(CORPUS)
