"""The VectorIndex contract, run against every implementation (one today: numpy brute force)."""

from __future__ import annotations

import pytest

from bot.semantic import INSTALL_HINT, semantic_available

if not semantic_available():
    pytest.skip(INSTALL_HINT, allow_module_level=True)

from collections.abc import Callable

import numpy as np

from bot.semantic.vectors import NumpyIndex, VectorIndex, from_blob, to_blob, unit

DIM = 8
IMPLEMENTATIONS: list[Callable[[int], VectorIndex]] = [NumpyIndex]


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda f: getattr(f, "__name__", str(f)))
def index(request: pytest.FixtureRequest) -> VectorIndex:
    factory: Callable[[int], VectorIndex] = request.param
    return factory(DIM)


def axis(i: int, j: int | None = None, weight: float = 1.0) -> np.ndarray:
    """A vector along axis i, tilted towards axis j by `weight` (cosine with axis i known)."""
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    if j is not None:
        v[j] = weight
    return v


def test_top_k_returns_the_most_similar_first_with_cosines(index: VectorIndex) -> None:
    index.add("exact", axis(0))
    index.add("close", axis(0, 1, 0.5))  # cos = 1/sqrt(1.25) ≈ 0.894
    index.add("far", axis(0, 1, 3.0))  # cos = 1/sqrt(10) ≈ 0.316
    index.add("orthogonal", axis(2))
    index.add("opposite", -axis(0))
    hits = index.top_k(axis(0), 3)
    assert [h[0] for h in hits] == ["exact", "close", "far"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    assert hits[1][1] == pytest.approx(1 / np.sqrt(1.25), abs=1e-6)
    assert hits[2][1] == pytest.approx(1 / np.sqrt(10), abs=1e-6)
    everything = index.top_k(axis(0), 100)
    assert [h[0] for h in everything][-2:] == ["orthogonal", "opposite"]
    assert everything[-1][1] == pytest.approx(-1.0, abs=1e-6)


def test_the_query_and_stored_vectors_are_normalised(index: VectorIndex) -> None:
    index.add("long", axis(0) * 7)
    assert np.linalg.norm(index.vector("long")) == pytest.approx(1.0, abs=1e-6)
    assert index.top_k(axis(0) * 0.01, 1)[0][1] == pytest.approx(1.0, abs=1e-6)


def test_allowed_limits_the_candidates(index: VectorIndex) -> None:
    index.add_many(["a", "b", "c"], np.stack([axis(0), axis(0, 1, 0.2), axis(0, 1, 1.0)]))
    assert [h[0] for h in index.top_k(axis(0), 5, allowed={"b", "c", "unknown"})] == ["b", "c"]
    assert index.top_k(axis(0), 5, allowed=[]) == []
    assert index.top_k(axis(0), 5, allowed=["nobody"]) == []


def test_exclude_drops_papers_and_still_fills_k(index: VectorIndex) -> None:
    index.add_many(["a", "b", "c"], np.stack([axis(0), axis(0, 1, 0.2), axis(0, 1, 1.0)]))
    assert [h[0] for h in index.top_k(axis(0), 2, exclude={"a"})] == ["b", "c"]
    assert [h[0] for h in index.top_k(axis(0), 5, allowed=["a", "b"], exclude=["a"])] == ["b"]
    assert index.top_k(axis(0), 5, exclude={"a", "b", "c"}) == []


def test_add_replaces_a_papers_vector(index: VectorIndex) -> None:
    index.add("p", axis(0))
    index.add("q", axis(1))
    index.add("p", axis(1))
    assert len(index) == 2
    assert index.similarity("p", "q") == pytest.approx(1.0, abs=1e-6)
    index.add_many(["q", "r", "r"], np.stack([axis(2), axis(3), axis(4)]))
    assert len(index) == 3
    assert index.similarity("q", "p") == pytest.approx(0.0, abs=1e-6)
    assert index.top_k(axis(4), 1) == [("r", pytest.approx(1.0, abs=1e-6))]  # last one wins


def test_remove_forgets_a_paper_and_keeps_the_others_intact(index: VectorIndex) -> None:
    ids = [f"p{i}" for i in range(DIM)]
    index.add_many(ids, np.eye(DIM, dtype=np.float32))
    assert index.remove("p2")
    assert not index.remove("p2")
    assert "p2" not in index and len(index) == DIM - 1
    # Every other paper still answers with its own vector.
    for i, paper in enumerate(ids):
        if paper != "p2":
            assert index.top_k(axis(i), 1)[0] == (paper, pytest.approx(1.0, abs=1e-6))
    assert all(h[0] != "p2" for h in index.top_k(axis(2), DIM))
    with pytest.raises(KeyError):
        index.vector("p2")
    index.add("p2", axis(2))
    assert index.top_k(axis(2), 1)[0][0] == "p2"


def test_similarity_of_two_stored_papers(index: VectorIndex) -> None:
    index.add("a", axis(0))
    index.add("b", axis(0, 1, 1.0))
    assert index.similarity("a", "b") == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert index.similarity("a", "b") == pytest.approx(index.similarity("b", "a"), abs=1e-7)
    with pytest.raises(KeyError):
        index.similarity("a", "missing")


def test_ties_are_ordered_by_id_and_k_is_bounded(index: VectorIndex) -> None:
    for name in ("c", "a", "b"):
        index.add(name, axis(0))
    assert [h[0] for h in index.top_k(axis(0), 3)] == ["a", "b", "c"]
    assert index.top_k(axis(0), 0) == []
    assert len(index.top_k(axis(0), 10)) == 3


def test_an_empty_index_answers_nothing(index: VectorIndex) -> None:
    assert len(index) == 0
    assert index.top_k(axis(0), 5) == []


def test_growing_past_the_first_allocation(index: VectorIndex) -> None:
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((3000, DIM)).astype(np.float32)
    ids = [f"x{i}" for i in range(3000)]
    for start in range(0, 3000, 700):  # several calls, each growing the matrix
        index.add_many(ids[start : start + 700], matrix[start : start + 700])
    assert len(index) == 3000
    # Brute force is exact: it agrees with a direct computation.
    unit_rows = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    query = matrix[42]
    expected = np.argsort(-(unit_rows @ (query / np.linalg.norm(query))))[:5]
    assert [h[0] for h in index.top_k(query, 5)] == [ids[i] for i in expected]


def test_bad_vectors_are_refused(index: VectorIndex) -> None:
    with pytest.raises(ValueError, match="8 numbers"):
        index.add("a", np.ones(DIM + 1))
    with pytest.raises(ValueError, match="zero"):
        index.add("a", np.zeros(DIM))
    with pytest.raises(ValueError, match="non-finite"):
        index.add_many(["a", "b"], np.stack([axis(0), np.full(DIM, np.nan, dtype=np.float32)]))
    with pytest.raises(ValueError, match="matrix"):
        index.add_many(["a"], np.ones((2, DIM)))
    assert len(index) == 0  # a refused batch changes nothing


def test_blob_round_trip_is_exact() -> None:
    v = unit(np.arange(1, DIM + 1), DIM)
    blob = to_blob(v)
    assert len(blob) == DIM * 4
    assert np.array_equal(from_blob(blob, DIM), v)
    with pytest.raises(ValueError, match="bytes"):
        from_blob(blob[:-1], DIM)


def test_reserve_keeps_what_is_stored() -> None:
    index = NumpyIndex(DIM)
    index.add("a", axis(1))
    index.reserve(5000)
    index.reserve(10)  # never shrinks
    assert index.top_k(axis(1), 1) == [("a", pytest.approx(1.0, abs=1e-6))]
