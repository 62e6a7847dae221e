"""The offline command line, end to end: import a corpus, search it, show, back up, refuse nonsense."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.cli import papers as cli_papers
from bot.store import tantivy_index
from bot.store.sqlite.search_feed import SqliteChangeFeed

FIXTURE = Path(__file__).parent / "fixtures" / "papers.jsonl"


@pytest.fixture
def env(cli_env: Path) -> Path:
    """A working directory with a config pointing at a fresh database, corpus imported."""
    return cli_env


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def ids(result: dict) -> list[str]:  # type: ignore[type-arg]
    return [r["id"] for r in result["results"]]


def test_both_words_in_the_title_rank_first(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "search", "causal discovery")
    assert set(ids(result)[:2]) == {"2410.00101", "2410.00102"}
    assert result["total"] >= 4
    first = result["results"][0]
    assert set(first) == {"id", "title", "authors", "published", "upvotes", "url", "score"}
    scores = [r["score"] for r in result["results"]]
    assert scores == sorted(scores, reverse=True)


def test_negation_excludes_every_paper_mentioning_the_word(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_json(capsys, "search", "interpretability -causal")
    assert set(ids(result)) == {"2410.00104", "2410.00106"}
    for r in result["results"]:
        assert "causal" not in r["title"].lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'title:"language model"',
            {"2410.00104", "2410.00106", "2410.00107", "2410.00116", "2410.00120"},
        ),
        ("author:Bengio", {"2410.00110", "2410.00111"}),
        ('author:"Yoshua Bengio"', {"2410.00110", "2410.00111"}),
        ("transform*", {"2410.00104", "2410.00112", "2410.00113", "2410.00115"}),
        ("(diffusion OR flow) generative", {"2410.00108", "2410.00109", "2410.00111"}),
        ("cat:cs.CV", {"2410.00108", "2410.00115"}),
        ("causal cat:stat.ML", {"2410.00101", "2410.00111"}),
        ("cat:hep-th", {"hep-th/9901001"}),
        (
            "causality",
            {"2410.00101", "2410.00102", "2410.00103", "2410.00105", "2410.00111", "2410.00117"},
        ),
    ],
)
def test_query_language_behaves_as_documented(
    env: Path, capsys: pytest.CaptureFixture[str], query: str, expected: set[str]
) -> None:
    result = run_json(capsys, "search", query, "--limit", "50")
    assert set(ids(result)) == expected


def test_show_prints_the_paper_object(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "show", "https://arxiv.org/abs/2410.00109v1")
    assert doc["id"] == "2410.00109"
    assert doc["version"] == "v1"
    assert doc["authors"] == ["Yaron Lipman", "Ricky T. Q. Chen"]
    assert doc["links"] == {
        "arxiv": "https://arxiv.org/abs/2410.00109",
        "pdf": "https://arxiv.org/pdf/2410.00109",
    }
    assert doc["sources"] == ["import"]


def test_show_of_an_unknown_paper_is_one_line_exit_1(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "2501.99999"]) == 1
    err = capsys.readouterr().err
    assert "not in the local database" in err and err.count("\n") == 1


def test_a_second_import_adds_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "import", str(FIXTURE))
    assert report["new"] == 0 and report["updated"] == 0 and report["bad"] == 0
    assert run_json(capsys, "search", "cat:cs")["total"] == 19


def test_backup_then_search_the_copy(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = env / "backup.sqlite3"
    assert main(["db", "backup", str(dest)]) == 0
    assert oct(os.stat(dest).st_mode & 0o777) == "0o600"
    (env / "copy.toml").write_text(f'[database]\npath = "{dest}"\n')
    capsys.readouterr()
    assert main(["--config", str(env / "copy.toml"), "search", "flow matching", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["id"] == "2410.00109"


HOSTILE = [
    '"causal',
    "AND OR NOT",
    '"*"',
    "col:",
    "NEAR(causal discovery)",
    "'; DROP TABLE papers; --",
    "title:",
    '""',
    "()",
    "((((causal",
    "causal\x00\x07\x1b[31m discovery",
    "causal " * 1500,
    "🧠 causal 🤖",
    "^causal",
    "a:b:c",
    "NOT",
    "-",
    "*",
    "OR OR causal",
    '"a" * "b"',
    "papers_fts MATCH 'x'",
    "title:(causal OR",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_give_results_or_one_line_exit_2(
    env: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    capsys.readouterr()
    status = main(["search", query, "--json"])
    out, err = capsys.readouterr()
    assert status in (0, 2)
    if status == 0:
        json.loads(out)
    else:
        assert out == ""
        assert err.startswith("paperfeed: ") and err.count("\n") == 1
        assert "Traceback" not in err and "sqlite" not in err.lower()


def test_check_config_never_prints_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "MTIz.SECRET-TOKEN.abc")
    assert main(["check-config"]) == 0
    assert main(["check-config", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "SECRET-TOKEN" not in out + err
    assert '"token": "set"' in out


def test_bad_config_exits_2_with_one_line_as_a_real_process(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[sources.arxiv]\ninterval = "soon"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(bad), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DISCORD_TOKEN": ""},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f'paperfeed: {bad}: [sources.arxiv] interval: expected a duration like "30m", got "soon"'
    )


def test_search_as_a_real_process(env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "search", "causal discovery", "--limit", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["query"] == "causal discovery"


def test_check_config_names_the_backend_and_never_prints_the_database_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", "postgresql://pf:PG-SECRET-PW@db:5432/pf")
    assert main(["check-config"]) == 0
    out, _ = capsys.readouterr()
    assert "database: PostgreSQL at postgresql://pf:***@db:5432/pf" in out
    assert "search index: data/search-index.0, data/search-index.1, ..." in out
    assert main(["check-config", "--json"]) == 0
    out_json, err = capsys.readouterr()
    assert json.loads(out_json)["backend"] == "postgresql"
    assert "PG-SECRET-PW" not in out + out_json + err
    monkeypatch.delenv("PAPERFEED_DATABASE_URL")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "database: SQLite file data/paperfeed.sqlite3" in out
    assert "search index: data/paperfeed.sqlite3.index" in out


def test_postgresql_down_at_start_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on port 1: one line naming the server (password redacted), exit 1."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", "postgresql://pf:PG-SECRET-PW@127.0.0.1:1/pf")
    for command in (["search", "causal"], ["feeds", "list"], ["poll", "--source", "arxiv"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith("paperfeed: cannot connect to PostgreSQL at postgresql://pf:")
        assert len(err.splitlines()) == 1 and "PG-SECRET-PW" not in err, err
    assert not (tmp_path / "data").exists()  # never SQLite after all


def test_db_backup_on_postgresql_points_to_pg_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", "postgresql://pf:PG-SECRET-PW@db/pf")
    assert main(["db", "backup", str(tmp_path / "copy")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and len(err.splitlines()) == 1 and "PG-SECRET-PW" not in err
    assert list(tmp_path.iterdir()) == []


def test_search_says_more_than_when_the_count_stopped_at_its_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.papers import print_search
    from bot.models import SearchHit, SearchPage
    from tests.store.contract.support import paper

    hit = SearchHit(paper("2401.00001", "Framework"), 1.0)
    print_search("framework", SearchPage(total=2000, hits=(hit,), total_exact=False))
    assert capsys.readouterr().out.startswith("more than 2000 papers match 'framework':")
    print_search("framework", SearchPage(total=3, hits=(hit,)))
    assert capsys.readouterr().out.startswith("3 papers match 'framework':")


def test_search_index_rebuild_replaces_a_damaged_index(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run_json(capsys, "search", "causal discovery")
    directories = list(env.rglob("*.index"))
    assert len(directories) == 1
    (directories[0] / "meta.json").write_text("garbage")
    report = run_json(capsys, "search-index", "rebuild")
    assert report["papers"] >= 19  # every paper of the corpus, 19 of them in cs
    assert report["directory"] == str(directories[0]) and report["bytes"] > 0
    assert run_json(capsys, "search", "causal discovery") == before


def test_search_waits_for_a_lost_index_to_be_rebuilt(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index answers every word search and FTS5 is no longer kept: with the index gone, a
    search waits for the rebuild (in the background, as a large database's) and says so."""
    before = run_json(capsys, "search", "causal discovery")
    shutil.rmtree(env / "papers.sqlite3.index")
    monkeypatch.setattr(tantivy_index, "BUILD_INLINE_MAX", 0)
    # The build reads its first papers only once the search was refused (else it may be done
    # before the search starts: 20 papers).
    refused = asyncio.Event()  # bound to the command's loop when first awaited
    wait, scan = cli_papers._index_built, SqliteChangeFeed.scan

    async def waiting(store: Any) -> bool:
        refused.set()
        return await wait(store)

    async def gated_scan(self: SqliteChangeFeed, after_pk: int, limit: int) -> Any:
        await refused.wait()
        return await scan(self, after_pk, limit)

    monkeypatch.setattr(cli_papers, "_index_built", waiting)
    monkeypatch.setattr(SqliteChangeFeed, "scan", gated_scan)
    capsys.readouterr()
    assert main(["search", "causal discovery", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == before
    said = [line for line in err.splitlines() if line.startswith("paperfeed: ")]
    assert len(said) == 1 and "search index is being built" in said[0]
    assert (env / "papers.sqlite3.index" / "meta.json").exists()
