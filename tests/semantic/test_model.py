"""The real model (all-MiniLM-L6-v2 int8 on onnxruntime): offline, pinned, deterministic, meaningful.

Runs only with the semantic extra installed (CI installs it in a step of its own).
"""

from __future__ import annotations

import pytest

from bot.semantic import INSTALL_HINT, semantic_available

if not semantic_available():
    pytest.skip(INSTALL_HINT, allow_module_level=True)

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import SemanticUnavailable
from bot.semantic import model as model_module
from bot.semantic.model import (
    DIM,
    MODEL_SHA256,
    OnnxEmbedder,
    default_model_path,
    file_sha256,
    paper_text,
)
from bot.semantic.tokenizer import split_words

FIXTURE = Path(__file__).parent.parent / "fixtures" / "real_papers.jsonl"


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(threads=2)


@pytest.fixture(scope="module")
def papers() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def paper_vectors(embedder: OnnxEmbedder, papers: list[dict[str, Any]]) -> np.ndarray:
    return embedder.embed([paper_text(p["title"], p["abstract"]) for p in papers])


def test_the_model_file_is_the_pinned_one(embedder: OnnxEmbedder) -> None:
    assert file_sha256(default_model_path()) == MODEL_SHA256
    assert embedder.model_id == "all-MiniLM-L6-v2-onnx-int8@8199be6f"
    assert embedder.dim == DIM == 384


def test_a_changed_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module, "MODEL_SHA256", "0" * 64)
    with pytest.raises(SemanticUnavailable, match="not the expected one"):
        OnnxEmbedder().embed(["x"])


def test_loading_and_embedding_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    vectors = OnnxEmbedder(threads=1).embed(["offline embedding"])
    assert vectors.shape == (1, DIM)


def test_without_onnxruntime_the_embedder_answers_with_the_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(SemanticUnavailable) as caught:
        OnnxEmbedder().embed(["x"])
    assert str(caught.value) == INSTALL_HINT


def test_vectors_are_unit_length_float32(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed(["Graph neural networks", "A study of heat-bath random walks", "x"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_with_nothing_to_embed_gives_a_zero_row(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed(["", " \t\n", "\u200b\x00", "graph"])
    assert not vectors[:3].any()
    assert np.linalg.norm(vectors[3]) == pytest.approx(1.0, abs=1e-5)
    assert embedder.embed([]).shape == (0, DIM)


def test_embedding_is_deterministic_across_runs_instances_and_batches(
    embedder: OnnxEmbedder, papers: list[dict[str, Any]]
) -> None:
    texts = [paper_text(p["title"], p["abstract"]) for p in papers[:9]]
    first = embedder.embed(texts)
    assert embedder.embed(texts).tobytes() == first.tobytes()
    other = OnnxEmbedder(threads=2).embed(texts)
    assert other.tobytes() == first.tobytes()
    for batch_size in (2, 4, 9):
        assert np.abs(embedder.embed(texts, batch_size=batch_size) - first).max() <= 1e-6
    # A text's vector does not depend on its neighbours in the call.
    assert np.abs(embedder.embed(texts[4:5])[0] - first[4]).max() <= 1e-6


def test_golden_vector(embedder: OnnxEmbedder) -> None:
    """Catches drift in the tokenizer, onnxruntime or the model file (recorded from this code)."""
    head = embedder.embed(["Attention Is All You Need"])[0][:8]
    expected = [0.0525, -0.0192, -0.0161, -0.0312, 0.0623, 0.0571, 0.0482, -0.0388]
    assert np.allclose(head, expected, atol=2e-3)


def _content_words(text: str) -> set[str]:
    """Words that carry meaning: function words ("very", "their", "each") do not count."""
    stop = set(
        [
            "a",
            "an",
            "the",
            "of",
            "for",
            "and",
            "or",
            "to",
            "in",
            "on",
            "by",
            "with",
            "from",
            "as",
            "at",
            "is",
            "are",
            "be",
            "that",
            "this",
            "which",
            "it",
            "its",
            "how",
            "very",
            "their",
            "them",
            "they",
            "we",
            "our",
            "each",
            "every",
            "one",
        ]
    )
    return {w for w in split_words(text.lower()) if w.isalpha() and w not in stop}


@pytest.mark.parametrize(
    ("about", "paper_id", "margin"),
    [
        # Hot Jupiters from transit surveys: no word in common with the description.
        (
            "how often giant gas worlds circle very near their suns, counted from dips in starlight",
            "astro-ph/0601001",
            0.3,
        ),
        # Adam: "adaptive estimates of lower-order moments" in other words.
        (
            "an optimiser that rescales each weight update by running averages of past slopes",
            "1412.6980",
            0.1,
        ),
    ],
)
def test_a_description_finds_its_paper_without_sharing_a_word(
    embedder: OnnxEmbedder,
    papers: list[dict[str, Any]],
    paper_vectors: np.ndarray,
    about: str,
    paper_id: str,
    margin: float,
) -> None:
    target = next(i for i, p in enumerate(papers) if p["id"] == paper_id)
    paper = papers[target]
    assert not _content_words(about) & _content_words(paper["title"] + " " + paper["abstract"])
    scores = paper_vectors @ embedder.embed([about])[0]
    order = np.argsort(-scores)
    assert order[0] == target
    assert scores[order[0]] - scores[order[1]] >= margin


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2112.10752", "2006.11239"),  # latent diffusion and denoising diffusion models
        ("1202.4527", "1812.11470"),  # two papers on automated GUI testing
    ],
)
def test_papers_on_the_same_problem_are_mutual_nearest_neighbours(
    papers: list[dict[str, Any]], paper_vectors: np.ndarray, a: str, b: str
) -> None:
    ids = [p["id"] for p in papers]
    sims = paper_vectors @ paper_vectors.T
    np.fill_diagonal(sims, -1.0)
    i, j = ids.index(a), ids.index(b)
    assert int(np.argmax(sims[i])) == j
    assert int(np.argmax(sims[j])) == i


def test_speed_is_in_the_measured_range(
    embedder: OnnxEmbedder, papers: list[dict[str, Any]]
) -> None:
    texts = [paper_text(p["title"], p["abstract"]) for p in papers] * 2
    start = time.perf_counter()
    embedder.embed(texts)
    # Measured about 1.5 s on 2 shared cores; the bound only catches a pathological slowdown.
    assert time.perf_counter() - start < 20
