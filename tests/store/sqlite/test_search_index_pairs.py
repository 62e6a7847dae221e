"""Common-word pairs (issue 19): a phrase holding a common word, asked through the abstract's
pair field, matches exactly the papers the word phrase matches, with the word phrase's BM25."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import tantivy

from bot.models import Paper
from bot.query.compile import compile_query
from bot.store import open_store
from bot.store.common.tokens import Fts5Tokens
from bot.store.sqlite.database import SqliteDatabase
from bot.store.tantivy_index import (
    COMMON,
    FILLER,
    TantivyIndex,
    Translation,
    pair_text,
)
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import assert_windows_of_the_floor, fts5_ids

# The English words COMMON stands for (its comment lists them).
ENGLISH = ("the", "of", "and", "a", "in", "to")
VOCABULARY = ["of", "the", "to", "a", "mixture", "experts", "state", "art", "learning", "rank"]
ADVERSARIAL = [
    "mixture of experts",  # the phrase, whole
    "experts of mixture of",  # the pairs, in the wrong order
    "mixture of the experts of",  # mixture|of and of|... but never of|experts after it
    "a mixture of mixture of experts",  # the phrase after a false start
    "the state of the art of the art",  # the phrase twice, overlapping words
    "of of of",  # repeated words: "of of" twice, overlapping
    "learning to",  # the phrase's first pair at the field's end
    "to rank learning",  # its second pair at the start, the first nowhere
    "learning to rank",
    "art",
    "",
]
PHRASES = [
    "mixture of experts",
    "state of the art",
    "learning to rank",
    "of of",
    "of of of",
    "of the",
    "the of the",
    "the art of",
    "to rank",
    "experts of mixture",
]


def test_the_common_tokens_are_the_tokenizers_forms_of_the_listed_words() -> None:
    with Fts5Tokens() as tokens:
        assert {t for word in ENGLISH for t in tokens(word)} == COMMON


def test_a_pair_sits_at_its_first_words_position_and_other_positions_are_filled() -> None:
    assert pair_text(["mixtur", "of", "expert"]).split() == ["mixtur|of", "of|expert", FILLER]
    assert pair_text(["deep", "net", "of"]).split() == [FILLER, "net|of", FILLER]
    assert pair_text(["of"]).split() == [FILLER]
    assert pair_text(["of", "of", "x", "y"]).split() == ["of|of", "of|x", FILLER, FILLER]


def corpus(n: int, seed: int) -> list[Paper]:
    rng = random.Random(seed)
    abstracts = ADVERSARIAL + [
        " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 14)))
        for _ in range(n - len(ADVERSARIAL))
    ]
    return [
        Paper(
            id=f"2502.{i:05d}",
            title=rng.choice(["Mixture of experts", "State of the art", "Sparse models"]),
            abstract=abstract,
            authors=("Ada Smith",),
            categories=("cs.LG",),
            published=NOW - timedelta(days=rng.randint(0, 900)),
            upvotes=None,
            sources=frozenset({"arxiv"}),
        )
        for i, abstract in enumerate(abstracts)
    ]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "p.sqlite3"), clock=FakeClock(NOW)) as db:
        papers = corpus(600, seed=19)
        await db.papers.upsert(papers)
        # Changed and deleted papers: their old postings stay in the segments until a merge
        # (doc frequencies count them), as in a long-running index.
        await db.papers.upsert([replace(p, abstract="of the art") for p in papers[300:340]])
        async with db.transaction():
            await db.connections.writer.execute("DELETE FROM papers WHERE id LIKE '2502.004%'")
        assert isinstance(db.papers.index, TantivyIndex)
        yield db


def matches(searcher: tantivy.Searcher, query: tantivy.Query) -> dict[int, float]:
    found = searcher.search(query, 10_000).hits
    pks = searcher.fast_field_values("pk", [address for _, address in found])
    return {int(pk or 0): score for (score, _), pk in zip(found, pks, strict=True)}


def qualifies(words: tuple[str, ...]) -> bool:
    return all({a, b} & {"of", "the"} for a, b in itertools.pairwise(words))


@pytest.mark.parametrize(
    "phrase",
    PHRASES
    + [
        " ".join(p)
        for n in (2, 3)
        for p in itertools.product(["mixture", "of", "the", "art"], repeat=n)
        if qualifies(p)
    ],
)
async def test_the_pair_phrase_matches_and_scores_as_the_word_phrase(
    store: SqliteDatabase, phrase: str
) -> None:
    index = store.papers.index
    assert isinstance(index, TantivyIndex) and index._index is not None
    searcher = index._index.searcher()
    with Fts5Tokens() as tokens:
        words = tokens(phrase)
        translation = Translation(index._schema, searcher, tokens)
        paired = translation._in_field("abstract", words, prefix=False)
        assert translation._pairs(words) is not None  # every phrase here qualifies
    assert paired is not None
    by_words = tantivy.Query.phrase_query(index._schema, "abstract", list(words))
    expected, found = matches(searcher, by_words), matches(searcher, paired)
    assert found.keys() == expected.keys()
    for pk, score in expected.items():
        assert found[pk] == pytest.approx(score, rel=1e-5), pk


async def test_only_phrases_whose_every_pair_holds_a_common_word_use_the_pairs(
    store: SqliteDatabase,
) -> None:
    index = store.papers.index
    assert isinstance(index, TantivyIndex) and index._index is not None
    searcher = index._index.searcher()
    with Fts5Tokens() as tokens:
        translation = Translation(index._schema, searcher, tokens)
        assert translation._pairs(tokens("mixture of experts")) is not None
        assert translation._pairs(tokens("the of")) is not None  # common words only
        assert translation._pairs(tokens("mixture experts")) is None
        assert translation._pairs(tokens("state of art learning")) is None  # art|learn


@pytest.mark.parametrize("text", ['"mixture of experts"', '"state of the art" -rank', '"of of"'])
async def test_pages_of_a_pair_phrase_are_the_floors_and_fts5s(
    store: SqliteDatabase, text: str
) -> None:
    index = store.papers.index
    assert isinstance(index, TantivyIndex)
    query = compile_query(text)
    floor = index.search_now(
        query, now=NOW, limit=1_000, offset=0, since=None, hf_only=False, exhaustive=True
    )
    total, expected = await fts5_ids(store, text)
    assert floor.total == total == len(floor.hits) >= 3
    page = await store.papers.search(query, limit=1_000)
    assert {h.paper.id for h in page.hits} == expected
    windows = [(0, 10), (3, 4), (floor.total - 2, 5)]
    assert_windows_of_the_floor(index, query, floor, (1, 5, 500), windows)
