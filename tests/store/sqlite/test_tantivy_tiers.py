"""The title tiers asked as per-field branches (`Split`) hold the same papers with the same
scores as ``match AND level``: the split changes how Tantivy walks them, never the answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.query.compile import compile_query
from bot.store.sqlite.database import SqliteDatabase
from bot.store.tantivy_index import Translation, _tiers
from tests.store.contract.support import NOW
from tests.store.sqlite.test_search_index import QUERIES, store, the_index

__all__ = ["store"]  # the fixture, shared

SPLIT = ["causal", '"graph network"', "causal -graph", "transform*", "gra*", "causal cat:cs.LG"]


@pytest.mark.parametrize("text", QUERIES + SPLIT)
@pytest.mark.parametrize("filtered", [False, True])
async def test_split_tiers_match_and_score_as_the_plain_ones(
    store: SqliteDatabase, text: str, filtered: bool
) -> None:
    index = the_index(store)
    assert index._index is not None
    searcher = index._index.searcher()
    translation = Translation(index._schema, searcher, index._tokens)
    query = compile_query(text)
    since = NOW - timedelta(days=200) if filtered else None
    built = translation.build(query, since, filtered)
    if built is None:
        return
    split = translation.split(query, since, filtered)
    if text in SPLIT:
        assert split is not None and len(split.alternatives) >= 2, text
    plain, branched = _tiers(*built), _tiers(*built, split)
    for (tier, a), (same, b) in zip(plain, branched, strict=True):
        assert tier == same
        want = [(score, hit.segment_ord, hit.doc) for score, hit in searcher.search(a, 1000).hits]
        got = [(score, hit.segment_ord, hit.doc) for score, hit in searcher.search(b, 1000).hits]
        assert got == want, (text, tier)
