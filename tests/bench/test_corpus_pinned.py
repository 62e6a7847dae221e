"""The generator's output is pinned: reorganising bench/ must not change one byte of a corpus.

Cached corpora and databases are named after a hash of the generator's output, and published
figures were measured on these exact bytes. If a change to the generator is meant to alter
the corpus, update the hashes here in the same commit and say why.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from bench.corpus import write_corpus
from bench.matching import make_feed_queries

# sha256 of write_corpus(n, seed=seed), as committed before the word lists left corpus.py.
PINNED_CORPORA = {
    (300, 0): "c25ef97dd148d71fef727c91958a9491af78db3692acaf4bd030046f165dd4ec",
    (500, 7): "61836ad1e993b0fbcf564db51d687147c954dcb2deda4b2da4d8cf3b1ef758cf",
}
# sha256 of the matching benchmark's feed queries, built from the same word lists.
PINNED_FEEDS = "515088212b5bbcd336cf507e5b0d075c3c11040caa8e65e1f35da9c4e085ca22"


@pytest.mark.parametrize(("n", "seed"), sorted(PINNED_CORPORA))
def test_a_small_corpus_has_its_pinned_bytes(n: int, seed: int) -> None:
    out = io.StringIO()
    write_corpus(n, out, seed=seed)
    assert hashlib.sha256(out.getvalue().encode()).hexdigest() == PINNED_CORPORA[(n, seed)]


def test_the_feed_queries_are_pinned() -> None:
    text = "\n".join(f"{q}\t{','.join(cats)}" for q, cats in make_feed_queries(500, seed=0))
    assert hashlib.sha256(text.encode()).hexdigest() == PINNED_FEEDS
