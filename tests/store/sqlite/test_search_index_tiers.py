"""A title tier asked per field (`_tiers` with a split) holds the same matches and scores as the
plain ``match AND level`` form, also where the title branch is asked without the level."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.query.compile import compile_query
from bot.store import open_store, tantivy_index
from bot.store.sqlite.database import SqliteDatabase
from bot.store.tantivy_index import TantivyIndex, Translation
from tests.store.contract.support import NOW, FakeClock
from tests.store.sqlite.test_search_index import corpus

SPLIT = [
    "causal",
    "causal -graph",
    "deep -survey -test",
    "gra* -survey",
    '"graph network" -survey',
    "causal cat:cs.LG -graph",
    "model -cat:stat",
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    async with open_store(str(tmp_path / "p.sqlite3"), clock=FakeClock(NOW)) as db:
        await db.papers.upsert(corpus(400))
        yield db


@pytest.mark.parametrize("text", SPLIT)
@pytest.mark.parametrize(("since", "hf_only"), [(None, False), (NOW - timedelta(days=300), True)])
async def test_each_tier_per_field_is_the_plain_tier(
    store: SqliteDatabase, text: str, since: object, hf_only: bool
) -> None:
    index = store.papers.index
    assert isinstance(index, TantivyIndex) and index._index is not None
    searcher = index._index.searcher()
    translation = Translation(index._schema, searcher, index._tokens)
    query = compile_query(text)
    built = translation.build(query, since, hf_only)  # type: ignore[arg-type]
    split = translation.split(query, since, hf_only)  # type: ignore[arg-type]
    assert built is not None and split is not None, text
    assert split.in_title.count(True) == 1  # the title alternative is known
    main, levels = built
    assert len(levels) == 1  # the lone level: its title branch is asked without it

    def every(q: object) -> dict[int, float]:
        hits = tantivy_index._hits(searcher, q, 0, 1_000)  # type: ignore[arg-type]
        return {pk: score for score, _, pk in hits}

    per_field = tantivy_index._tiers(main, levels, split)
    plain = tantivy_index._tiers(main, levels)
    assert [t for t, _ in per_field] == [t for t, _ in plain] == [1, 0]
    for (_, asked), (_, expected) in zip(per_field, plain, strict=True):
        got, want = every(asked), every(expected)
        assert got == want, text  # the same matches, the same floats (a level adds 0.0)
    if since is None:
        assert every(per_field[0][1]), text  # the title tier is not empty: the test could fail
