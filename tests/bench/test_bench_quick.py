"""The benchmark tools: the corpus has the statistics it promises, the runner's JSON its keys.

No timing is asserted here; bench/run.py measures, these tests only check it can.
"""

from __future__ import annotations

import io
import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import PLANTED, write_corpus
from bot.sources.snapshot import parse_snapshot_line

ROOT = Path(__file__).resolve().parents[2]
N = 2_000
SEED = 7
# The document-frequency ranges issue #7 asks of the planted terms.
DF_RANGES = {
    "narrow": (0.0005, 0.002),  # ~0.1 %
    "medium": (0.01, 0.05),  # 1-5 %
    "broad": (0.20, 0.50),  # 20-50 %
    "phrase": (0.005, 0.02),
}


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "corpus.py"), str(N), str(out), "--seed", str(SEED)],
        check=True,
        timeout=60,
    )
    return out.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def objects(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def test_every_line_parses_with_the_snapshot_parser_and_ids_are_unique(lines: list[str]) -> None:
    assert len(lines) == N
    papers = [parse_snapshot_line(line) for line in lines]
    ids = [p.id for p in papers]
    assert len(set(ids)) == N
    assert all(re.fullmatch(r"\d{4}\.\d{5}", i) for i in ids)
    assert ids == sorted(ids)  # submission order, like the real snapshot
    for paper in papers:
        assert paper.title and paper.abstract and paper.categories and paper.authors
        assert paper.published is not None and paper.id[:4] == paper.published.strftime("%y%m")


def test_planted_terms_have_their_document_frequencies(objects: list[dict[str, Any]]) -> None:
    for name, planted in PLANTED.items():
        pattern = re.compile(rf"\b{re.escape(planted.text)}\b", re.IGNORECASE)
        df = sum(1 for o in objects if pattern.search(o["title"] + " " + o["abstract"])) / N
        low, high = DF_RANGES[name]
        assert low <= df <= high, f"{name} ({planted.text!r}) is in {df:.2%} of papers"
        assert df == pytest.approx(planted.rate, abs=0.002)


def test_the_shape_is_arxiv_like(objects: list[dict[str, Any]]) -> None:
    primaries = Counter(o["categories"].split()[0] for o in objects)
    assert [c for c, _ in primaries.most_common(3)] == ["cs.LG", "cs.CV", "cs.CL"]
    assert any(c.startswith("math.") for c in primaries)
    assert any(c.startswith(("hep-", "quant-ph", "astro-ph")) for c in primaries)
    authors = [len(o["authors_parsed"]) for o in objects]
    assert min(authors) >= 1 and max(authors) <= 30 and 3 <= statistics.mean(authors) <= 7
    title_words = statistics.mean(len(o["title"].split()) for o in objects)
    abstract_words = statistics.mean(len(o["abstract"].split()) for o in objects)
    assert 8 <= title_words <= 13 and 140 <= abstract_words <= 200
    years = {o["update_date"][:4] for o in objects}
    assert len(years) >= 10


def test_the_same_seed_gives_the_same_bytes() -> None:
    runs = []
    for seed in (SEED, SEED, SEED + 1):
        out = io.StringIO()
        write_corpus(300, out, seed=seed)
        runs.append(out.getvalue())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_the_runner_prints_one_json_object_with_the_documented_keys(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--tiny",
            "--json",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = json.loads(result.stdout)
    assert set(doc) >= {"machine", "settings", "benchmarks", "targets", "pending"}
    machine = doc["machine"]
    assert isinstance(machine["cpu_count"], int)
    assert isinstance(machine["python"], str) and isinstance(machine["sqlite"], str)

    benchmarks = doc["benchmarks"]
    assert set(benchmarks) == {
        "search",
        "ingest",
        "matching",
        "fanout",
        "memory",
        "interaction",
        "daily_dms",
    }
    for name in ("search", "ingest", "matching", "fanout"):
        assert _number(benchmarks[name]["ratio_vs_floor"])
    daily = benchmarks["daily_dms"]
    assert daily["members"] > 0 and _number(daily["seconds"]) and daily["messages"] > 0
    search = benchmarks["search"]
    assert _number(search["ratio_vs_peer"])
    queries = search["sizes"][str(N)]
    assert set(queries) == {
        "narrow",
        "medium",
        "broad",
        "phrase",
        "negation",
        "title",
        "author",
        "prefix",
        "category",
        "category_only",
    }
    for q in queries.values():
        for key in ("p50_ms", "p95_ms", "p99_ms", "ratio_vs_floor", "ratio_vs_peer", "total"):
            assert _number(q[key]), key
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            assert _number(q["floor"][key]) and _number(q["peer"][key])
    assert (
        queries["narrow"]["total"] >= 1 and queries["broad"]["total"] > queries["medium"]["total"]
    )

    ingest = benchmarks["ingest"]
    for key in ("poll_batch", "import_batch"):
        for figure in ("papers_per_s", "floor_papers_per_s", "ratio_vs_floor"):
            assert _number(ingest[key][figure])
    full = ingest["full_import"][str(N)]
    for figure in ("wall_s", "peak_rss_mib", "papers_per_s", "ratio_vs_floor"):
        assert _number(full[figure])

    matching = benchmarks["matching"]
    for figure in ("seconds", "floor_seconds", "ratio_vs_floor", "pairs", "feeds"):
        assert _number(matching[figure])

    fanout = benchmarks["fanout"]
    assert fanout["posted"] == fanout["deliveries"] and fanout["responses_429"] == 0
    for figure in ("wall_s", "floor_s"):
        assert _number(fanout[figure])
    memory = benchmarks["memory"]
    assert _number(memory["idle"]["peak_rss_mib"]) and memory["idle"]["exit_code"] == 0
    assert memory["fanout"]["posted"] == memory["fanout"]["deliveries"]
    interaction = benchmarks["interaction"]
    assert interaction["samples"] > 0 and _number(interaction["p99_ms"])
    assert doc["pending"] == {}
    assert all(isinstance(t["met"], bool) for t in doc["targets"])


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
