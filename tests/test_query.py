"""The query language: parsing, compiling, refusing, and running against a real FTS5 index."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import bot.query
import bot.store
from bot.errors import QueryError
from bot.models import Paper
from bot.query.compile import CompiledQuery, compile_query
from bot.query.nodes import And, Category, Not, Or, Phrase, Term
from bot.query.parse import _WORD_RUN, MAX_LENGTH, _clean, parse_query

MIGRATION = Path(bot.store.__file__).parent / "migrations" / "0001_initial.sql"

PAPERS = (
    Paper(
        id="p01",
        title="Causal Discovery from Observational Data",
        authors=("Yoshua Bengio", "Ann Smith"),
        abstract="We learn directed acyclic graphs that explain observational data.",
        categories=("cs.LG", "stat.ML"),
    ),
    Paper(
        id="p02",
        title="On the Causality of Neural Networks",
        authors=("Judea Pearl",),
        abstract="We ask which neurons matter for a prediction.",
        categories=("cs.AI",),
    ),
    Paper(
        id="p03",
        title="A Survey of Causal Inference",
        authors=("Maria Garcia",),
        abstract="This survey reviews methods for estimating effects.",
        categories=("stat.ME",),
    ),
    Paper(
        id="p04",
        title="Aligning a Large Language Model",
        authors=("Wei Chen",),
        abstract="We fine-tune a language model with human feedback.",
        categories=("cs.CL",),
    ),
    Paper(
        id="p05",
        title="Graph Models of Language",
        authors=("Ola Nordmann",),
        abstract="We model the language of proteins with graphs.",
        categories=("cs.CL", "q-bio.BM"),
    ),
    Paper(
        id="p06",
        title="Diffusion Models for Image Synthesis",
        authors=("Jonathan Ho",),
        abstract="Denoising diffusion turns noise into images.",
        categories=("cs.CV",),
    ),
    Paper(
        id="p07",
        title="Flow Matching for Generative Modeling",
        authors=("Yaron Lipman",),
        abstract="Continuous normalizing flows trained without simulation.",
        categories=("cs.LG",),
    ),
    Paper(
        id="p08",
        title="Transformers for Everything",
        authors=("Ashish Vaswani",),
        abstract="A transformer replaces recurrence with attention.",
        categories=("cs.LG", "cs.CL"),
    ),
    Paper(
        id="p09",
        title="Invariant Features under Transformation",
        authors=("Lena Park",),
        abstract="Image features that survive rotations.",
        categories=("cs.CV", "eess.IV"),
    ),
    Paper(
        id="p10",
        title="Attention in Recurrent Networks",
        authors=("Dzmitry Bahdanau", "Kyunghyun Cho", "Yoshua Bengio"),
        abstract="Alignment between source and target sentences.",
        categories=("cs.CL",),
    ),
    Paper(
        id="p11",
        title="Consciousness Priors",
        authors=("Yoshua Park", "Lena Bengio"),
        abstract="A causal account of attention.",
        categories=("hep-th",),
    ),
    Paper(
        id="p12",
        title="Deep Learning Theory: A Survey",
        authors=("Tom Lee",),
        abstract="Results since Bengio and LeCun on the flow of gradients.",
        categories=("math.ST", "stat.ML"),
    ),
)

# What never reaches FTS5 as syntax: quoted strings, our operators, our column names.
SAFE_EVIDENCE = re.compile(r'(?:\s+|"(?:[^"]|"")*"|\(|\)|\*|:|AND|OR|title|NEAR\(|, \d+\))*')
SAFE_FTS = re.compile(r'(?:\s+|"(?:[^"]|"")*"|\(|\)|\*|:|AND|OR|NOT|title|author_text|abstract)*')


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    """The real schema (migration 0001) holding the hand-written papers."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(MIGRATION.read_text("utf-8"))
    conn.executemany(
        "INSERT INTO papers (id, title, abstract, author_text, first_seen, changed_at) "
        "VALUES (?, ?, ?, ?, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
        [(p.id, p.title, p.abstract, ", ".join(p.authors)) for p in PAPERS],
    )
    yield conn
    conn.close()


def run(db: sqlite3.Connection, compiled: CompiledQuery) -> set[str]:
    """Evaluate a compiled query the way search does: FTS5 MATCH, then categories."""
    if compiled.fts is None:
        ids = {p.id for p in PAPERS}
    else:
        rows = db.execute(
            "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid "
            "WHERE papers_fts MATCH ?",
            (compiled.fts,),
        )
        ids = {row[0] for row in rows}
    return {p.id for p in PAPERS if p.id in ids and compiled.matches_categories(p.categories)}


def search(db: sqlite3.Connection, text: str) -> set[str]:
    return run(db, compile_query(text))


# --- The documented examples --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("causal discovery", And((Term("causal"), Term("discovery")))),
        ('"language model"', Phrase(("language", "model"))),
        ("diffusion OR flow", Or((Term("diffusion"), Term("flow")))),
        ("-survey", Not(Term("survey"))),
        ("NOT survey", Not(Term("survey"))),
        ("(a OR b) c", And((Or((Term("a"), Term("b"))), Term("c")))),
        ("title:causal", Term("causal", "title")),
        ("abstract:flow", Term("flow", "abstract")),
        ('author:"Yoshua Bengio"', Phrase(("yoshua", "bengio"), "author")),
        ("cat:cs.LG", Category("cs.LG")),
        ("transform*", Term("transform", prefix=True)),
        (
            "causal (inference OR discovery) -survey",
            And(
                (
                    Term("causal"),
                    Or((Term("inference"), Term("discovery"))),
                    Not(Term("survey")),
                )
            ),
        ),
    ],
)
def test_documented_examples_parse(text: str, tree: object) -> None:
    assert parse_query(text) == tree


@pytest.mark.parametrize(
    ("text", "fts"),
    [
        ("causal discovery", '"causal" AND "discovery"'),
        ('"language model"', '"language model"'),
        ("diffusion OR flow", '("diffusion" OR "flow")'),
        ("a NOT survey", '("a") NOT ("survey")'),
        ("a b -c -d", '("a" AND "b") NOT ("c" OR "d")'),
        ("(a OR b) c", '("a" OR "b") AND "c"'),
        ("title:causal", 'title : ("causal")'),
        ("abstract:flow", 'abstract : ("flow")'),
        ('author:"Yoshua Bengio"', 'author_text : ("yoshua bengio")'),
        ("transform*", '"transform" *'),
        ("TITLE:transform*", 'title : ("transform" *)'),
        (
            "causal (inference OR discovery) -survey",
            '("causal" AND ("inference" OR "discovery")) NOT ("survey")',
        ),
    ],
)
def test_documented_examples_compile(text: str, fts: str) -> None:
    assert compile_query(text).fts == fts


def test_categories_stay_out_of_full_text() -> None:
    compiled = compile_query("diffusion cat:cs.LG (cat:cs.CV OR cat:eess) -cat:cs.RO")
    assert compiled.fts == '"diffusion"'
    assert compiled.include_categories == (("cs.LG",), ("cs.CV", "eess"))
    assert compiled.exclude_categories == ("cs.RO",)


def test_a_categories_only_query_has_no_full_text() -> None:
    compiled = compile_query("cat:(cs.LG OR cs.CL)")
    assert compiled.fts is None
    assert compiled.include_categories == (("cs.LG", "cs.CL"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("causal", {"p01", "p02", "p03", "p11"}),
        ("causality", {"p01", "p02", "p03", "p11"}),
        ("causal discovery", {"p01"}),
        ('"language model"', {"p04"}),
        ("language model", {"p04", "p05"}),
        ('"causal inference"', {"p03"}),
        ("diffusion OR flow", {"p06", "p07", "p12"}),
        ("causal -survey", {"p01", "p02", "p11"}),
        ("causal NOT survey", {"p01", "p02", "p11"}),
        ("(diffusion OR flow) -survey", {"p06", "p07"}),
        ("(diffusion OR flow) theory", {"p12"}),
        ("diffusion OR flow theory", {"p06", "p12"}),
        ("causal (inference OR discovery) -survey", {"p01"}),
        ("title:causal", {"p01", "p02", "p03"}),
        ("abstract:causal", {"p11"}),
        ("abstract:flow", {"p07", "p12"}),
        ('title:"language model"', {"p04"}),
        ("title:(diffusion OR flow)", {"p06", "p07"}),
        ('author:"Yoshua Bengio"', {"p01", "p10"}),
        ("author:Bengio", {"p01", "p10", "p11"}),
        ("Bengio", {"p01", "p10", "p11", "p12"}),
        ('author:bengio -author:"yoshua bengio"', {"p11"}),
        ("transform*", {"p08", "p09"}),
        ("transf*", {"p08", "p09"}),
        ("transf", set()),
        ("cat:cs.LG", {"p01", "p07", "p08"}),
        ("cat:CS.lg", {"p01", "p07", "p08"}),
        ("cat:cs", {"p01", "p02", "p04", "p05", "p06", "p07", "p08", "p09", "p10"}),
        ("cat:stat", {"p01", "p03", "p12"}),
        ("cat:hep-th", {"p11"}),
        ("cat:cs.LG cat:cs.CL", {"p08"}),
        ("model cat:cs.CL", {"p04", "p05"}),
        ("model -cat:cs.CL", {"p06", "p07"}),
        ("(cat:cs.CV OR cat:q-bio) model", {"p05", "p06"}),
        ("learning -cat:cs", {"p12"}),
        ("self-supervised OR fine-tune", {"p04"}),
    ],
)
def test_queries_find_the_right_papers(
    db: sqlite3.Connection, text: str, expected: set[str]
) -> None:
    assert search(db, text) == expected


# --- Leniency and refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        ('"causal', '"causal"'),
        ('causal "language model', 'causal "language model"'),
        ("(causal OR flow", "causal OR flow"),
        ("causal) flow", "causal flow"),
        ("OR causal OR", "causal"),
        ("causal AND OR NOT", "causal"),
        ("causal NOT", "causal"),
        ("causal - flow", "causal flow"),
        ("col:x", "col:x"),
        ("http://example.org", "http://example.org"),
        ("a:b:c", "a:b:c"),
        ("NEAR(causal flow)", "near causal flow"),
        ("'; DROP TABLE papers; --", "drop table papers"),
        ("causal\x00\x07\x1b[31m flow", "causal 31m flow"),
        ("🧠 causal 🤖", "causal"),
        ("or and not", "or and not"),
        ("Title:Causal", "title:causal"),
        ("title: causal", "title:causal"),
        ("title:-survey causal", "-title:survey causal"),
        ("title:(a OR b)", "title:a OR title:b"),
        ("cat:cs.*", "cat:cs"),
        ("NOT NOT causal", "causal"),
        ('"a" * "b"', '"a" "b"'),
    ],
)
def test_lenient_readings(text: str, understood: str) -> None:
    assert compile_query(text).describe() == understood


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-survey", "a query needs at least one word to look for; -survey only excludes"),
        ("NOT survey", "-survey only excludes"),
        ("cat:cs.LG -survey", "-survey only excludes"),
        ("-cat:cs.CV", "-cat:cs.CV only excludes"),
        ("a OR -b", "an excluded word cannot be an OR alternative"),
        ("(-a -b) OR c", "only excludes"),
        ("cat:cs.LG OR diffusion", "cat: cannot be OR-ed with words"),
        ("-(cat:cs.LG diffusion)", "categories and words are filtered separately"),
        ("-(cat:cs.LG cat:cs.CL)", "only single categories can be excluded"),
        ("cat:cs.LG OR -cat:cs.CV", "an excluded category cannot be an OR alternative"),
        ("cat:cs.LG.x", "is not an arXiv category"),
        ("cat:%", "is not an arXiv category"),
        ('cat:"cs LG"', "is not an arXiv category"),
        ("(" * 11 + "a", "nests parentheses more than 10 deep"),
        ("a" * (MAX_LENGTH + 1), "too long"),
        ('"*"', "nothing to search for"),
        ("()", "nothing to search for"),
        ("AND OR NOT", "nothing to search for"),
    ],
)
def test_refusals_say_why_in_one_line(text: str, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message and len(message) < 250


def test_ten_levels_of_parentheses_are_fine() -> None:
    assert compile_query("(" * 10 + "a" + ")" * 10).fts == '"a"'


HOSTILE = [
    '"causal',
    "AND OR NOT",
    '"*"',
    "col:",
    "NEAR(a b)",
    "'; DROP TABLE papers; --",
    "title:",
    '""',
    "()",
    "((((",
    "causal\x00\x01\x7f\u200b\u202e\ud800 flow",
    "x" * 10_000,
    "🧠🤖 😀",
    "^",
    "a:b:c",
    "NOT",
    "-",
    "*",
    "OR OR",
    '"a" * "b"',
    "papers_fts MATCH 'x' OR 1=1",
    "title:(causal OR",
    '"" AND "',
    "{title abstract}: causal",
    "causal + - * ^ : NEAR/3",
    "a " * 150,
    "(a OR " * 10,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_understood_or_refused(db: sqlite3.Connection, text: str) -> None:
    try:
        compiled = compile_query(text)
    except QueryError as exc:
        assert "\n" not in str(exc)
        return
    assert compiled.fts is None or SAFE_FTS.fullmatch(compiled.fts)
    run(db, compiled)


def test_lone_surrogates_never_reach_the_driver(db: sqlite3.Connection) -> None:
    compiled = compile_query("caus\udcffal flow")
    assert compiled.fts is not None and "\udcff" not in compiled.fts
    run(db, compiled)


# --- The compiled object ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (("cs.LG",), True),
        (("cs.CL", "cs.lg"), True),
        (("stat.ML", "cs.LG"), True),
        (("stat.ML",), False),
        (("cs.LG", "cs.RO"), False),
        ((), False),
    ],
)
def test_matches_categories(categories: tuple[str, ...], expected: bool) -> None:
    compiled = compile_query("x cat:cs -cat:cs.RO (cat:cs.LG OR cat:cs.CL)")
    assert compiled.matches_categories(categories) is expected


def test_archive_does_not_match_a_longer_name() -> None:
    compiled = compile_query("cat:cs")
    assert not compiled.matches_categories(("csx.LG",))
    assert compiled.matches_categories(("cs",))


def test_distributes_or_over_category_groups() -> None:
    compiled = compile_query("(cat:a cat:b) OR cat:c")
    assert compiled.include_categories == (("a", "c"), ("b", "c"))
    assert compiled.matches_categories(("c",))
    assert not compiled.matches_categories(("a",))


def test_with_categories_adds_a_feeds_own_filter() -> None:
    compiled = compile_query("causal").with_categories(["cs.LG", "stat.ML"])
    assert compiled.fts == '"causal"'
    assert compiled.include_categories == (("cs.LG", "stat.ML"),)
    assert compiled.describe() == "causal (cat:cs.LG OR cat:stat.ML)"
    assert compile_query("causal").with_categories([]) == compile_query("causal")
    with pytest.raises(QueryError):
        compile_query("causal").with_categories(["not a category"])


def test_highlight_terms_skip_exclusions_and_categories() -> None:
    compiled = compile_query('causal "language model" transform* -survey cat:cs.LG')
    assert compiled.highlight_terms() == ("causal", "language model", "transform")


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("causal", ('title : ("causal")',)),
        (
            '"language model" scaling -survey cat:cs.LG',
            (
                '(title : ("language model")) AND (title : ("scaling"))',
                'title : NEAR("language model" "scaling", 3)',
                'title : ("language model scaling")',
            ),
        ),
        # words meant for another field ask nothing of the title
        (
            "diffusion author:tanaka video",
            (
                '(title : ("diffusion")) AND (title : ("video"))',
                'title : NEAR("diffusion" "video", 2)',
                'title : ("diffusion video")',
            ),
        ),
        # an OR or a prefix has no single phrase: every word in the title is all it asks
        (
            "(diffusion OR flow) model",
            ('((title : ("diffusion")) OR (title : ("flow"))) AND (title : ("model"))',),
        ),
        ("transform* model", ('(title : ("transform" *)) AND (title : ("model"))',)),
        ("(author:bengio OR diffusion) video", ('title : ("video")',)),
        ("author:bengio", ()),
        ("cat:cs.LG", ()),
    ],
)
def test_title_evidence_comes_from_the_wanted_words(text: str, evidence: tuple[str, ...]) -> None:
    compiled = compile_query(text)
    assert compiled.title_evidence == evidence
    assert compiled.with_categories(["cs.CV"]).title_evidence == evidence


def test_str_is_the_description() -> None:
    compiled = compile_query("Causal  (Inference OR discovery)   -SURVEY")
    assert str(compiled) == "causal (inference OR discovery) -survey"


# --- Properties ---------------------------------------------------------------------------

GRAMMAR_PIECES = [
    "causal",
    "Transformers",
    "flow",
    "language model",
    "transform*",
    "x",
    "AND",
    "OR",
    "NOT",
    "-",
    "--",
    "(",
    ")",
    '"',
    "*",
    ":",
    "title:",
    "Author:",
    "abstract:",
    "cat:",
    "cat:cs.LG",
    "cat:cs",
    "-cat:cs.CV",
    "cs.CL",
    "col:",
    "NEAR",
    "^",
    "'",
    ";",
    "{",
    "}",
    "🧠",
    "\x00",
    "é",
    "ǅ",
]
SEPARATORS = ["", " ", "  ", "\t"]
grammar_text = st.lists(
    st.tuples(st.sampled_from(GRAMMAR_PIECES), st.sampled_from(SEPARATORS)), max_size=30
).map(lambda parts: "".join(piece + sep for piece, sep in parts))

PROPERTY_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check(db: sqlite3.Connection, text: str) -> None:
    """Compile succeeds or refuses; a success is safe syntax that FTS5 accepts."""
    try:
        compiled = compile_query(text)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    if compiled.fts is not None:
        assert SAFE_FTS.fullmatch(compiled.fts), compiled.fts
    run(db, compiled)
    # Title evidence is safe too, and each expression implies the one before it.
    found: set[int] | None = None
    for expression in compiled.title_evidence:
        assert SAFE_EVIDENCE.fullmatch(expression), expression
        rows = db.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", (expression,))
        ids = {row[0] for row in rows}
        assert found is None or ids <= found, expression
        found = ids
    again = compile_query(compiled.describe())
    assert (again.fts, again.include_categories, again.exclude_categories) == (
        compiled.fts,
        compiled.include_categories,
        compiled.exclude_categories,
    )


@PROPERTY_SETTINGS
@given(text=st.text(max_size=MAX_LENGTH + 20))
def test_any_text_compiles_safely_or_is_refused(db: sqlite3.Connection, text: str) -> None:
    check(db, text)


@PROPERTY_SETTINGS
@given(text=grammar_text)
def test_grammar_soup_compiles_safely_or_is_refused(db: sqlite3.Connection, text: str) -> None:
    check(db, text)


@PROPERTY_SETTINGS
@given(text=grammar_text)
def test_categories_agree_with_a_direct_reading(text: str) -> None:
    try:
        compiled = compile_query(text)
    except QueryError:
        return
    for paper in PAPERS:
        have = {c.lower() for c in paper.categories}
        archives = {c.split(".")[0] for c in have}
        wanted = all(
            any(v.lower() in have or ("." not in v and v.lower() in archives) for v in group)
            for group in compiled.include_categories
        )
        unwanted = any(
            v.lower() in have or ("." not in v and v.lower() in archives)
            for v in compiled.exclude_categories
        )
        assert compiled.matches_categories(paper.categories) is (wanted and not unwanted)


@PROPERTY_SETTINGS
@given(text=st.one_of(grammar_text, st.text(max_size=80)))
def test_matching_compiles_the_same_query_without_the_ranking_evidence(text: str) -> None:
    try:
        full = compile_query(text)
    except QueryError as exc:
        with pytest.raises(QueryError, match=re.escape(str(exc))):
            compile_query(text, ranking=False)
        return
    assert compile_query(text, ranking=False) == dataclasses.replace(full, title_evidence=())


@PROPERTY_SETTINGS
@given(text=st.text(max_size=80) | grammar_text)
@example(text="a\u00a0b\u3000c\u2028d\u2029e\x1cf\x85g\u200bh\u202ei\tj")
def test_the_lexers_fast_paths_agree_with_a_character_loop(text: str) -> None:
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} else ch for ch in text
    )
    assert _clean(text) == cleaned
    for start, ch in enumerate(cleaned):
        if ch.isspace() or ch in '()"-':
            continue
        end = start
        while end < len(cleaned) and not cleaned[end].isspace() and cleaned[end] not in '()"':
            end += 1
        match = _WORD_RUN.match(cleaned, start)
        assert match is not None and match.end() == end


# --- The package ---------------------------------------------------------------------------


def test_the_package_re_exports_its_public_api() -> None:
    # Callers import from the module that owns a name; `from bot.query import Term, ...` (the
    # other backends' compilers, older branches) keeps working through the package's __all__.
    for name in bot.query.__all__:
        assert getattr(bot.query, name) is not None, name
    assert bot.query.Term is Term and bot.query.compile_query is compile_query
    assert bot.query.parse_query is parse_query and bot.query.QueryError is QueryError
    public = {"And", "Category", "CompiledQuery", "Node", "Not", "Or", "Phrase", "Term"}
    assert public | {"MAX_LENGTH", "compile_query", "parse_query", "render"} <= set(
        bot.query.__all__
    )
