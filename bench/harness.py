"""What every benchmark shares: settings and presets, the cached corpora and databases, timing.

A benchmark is a `Benchmark` (name, one-line description, a function from the `Context` to its
figures); `bench/run.py` lists them and runs the ones asked for. Corpora come from
`bench/corpus.py` (seeded, cached in the work directory) and are loaded with the real
`paperfeed import` (a subprocess, timed, its memory watched); the databases are cached in the
work directory, keyed by size, seed, corpus generator and schema, so re-runs only measure.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import corpus as corpus_module
from bot.models import Paper
from bot.sources.snapshot import parse_snapshot_line
from bot.store.sqlite.migrate import available_migrations

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "paperfeed-bench"
# Bump when the way databases are built changes, so cached ones are rebuilt.
BUILD_VERSION = 1


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Settings and context -------------------------------------------------------------------


@dataclass
class Settings:
    """How much work each benchmark does; presets below, `--sizes` overrides the sizes."""

    preset: str
    sizes: list[int]
    seed: int = 0
    search_reps: int = 100  # timed runs per query, for the bot and for the floor
    search_min_reps: int = 20  # slow queries drop to this many ...
    search_budget_s: float = 30.0  # ... to spend about this long per query and side
    peer_reps: int = 10
    peer_reps_large: int = 3  # at 500k papers and more the LIKE scan takes seconds
    poll_batches: int = 200  # batches of 100 papers
    import_batches: int = 10  # batches of import_batch_size papers
    import_batch_size: int = 10_000
    feeds: int = 10_000
    poll_papers: int = 1_000
    match_reps: int = 5


PRESETS: dict[str, Settings] = {
    "full": Settings("full", [100_000, 1_000_000]),
    "quick": Settings(
        "quick",
        [20_000],
        search_reps=30,
        search_min_reps=10,
        search_budget_s=3.0,
        peer_reps=3,
        poll_batches=30,
        import_batches=2,
        feeds=1_000,
        match_reps=3,
    ),
    "tiny": Settings(
        "tiny",
        [2_000],
        search_reps=5,
        search_min_reps=3,
        search_budget_s=0.5,
        peer_reps=2,
        peer_reps_large=1,
        poll_batches=5,
        import_batches=1,
        import_batch_size=1_000,
        feeds=200,
        poll_papers=200,
        match_reps=1,
    ),
}


@dataclass
class Context:
    """What benchmarks share: settings, the work directory and the cached corpora/databases."""

    settings: Settings
    workdir: Path
    rebuild: bool = False
    imports: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.settings.seed

    def corpus(self, n: int, seed: int | None = None) -> Path:
        """The cached corpus of n papers (generated on first use)."""
        seed = self.seed if seed is None else seed
        path = self.workdir / f"corpus-{n}-s{seed}-{_generator_fingerprint()}.jsonl"
        if not path.exists():
            log(f"generating {n:,} papers (seed {seed}) -> {path}")
            started = time.perf_counter()
            part = path.with_name(path.name + ".part")
            with part.open("w", encoding="utf-8", buffering=1 << 20) as f:
                corpus_module.write_corpus(n, f, seed)
            part.replace(path)
            log(f"generated in {time.perf_counter() - started:.1f} s")
        return path

    def database(self, n: int) -> Path:
        """The database of the n-paper corpus, built with a timed `paperfeed import`."""
        key = f"{n}-s{self.seed}-{_generator_fingerprint()}-{_schema_fingerprint()}"
        db = self.workdir / f"db-{key}.sqlite3"
        sidecar = self.workdir / f"db-{key}.import.json"
        if self.rebuild and n not in self.imports:
            remove_database(db)
            sidecar.unlink(missing_ok=True)
        if db.exists() and sidecar.exists():
            if n not in self.imports:
                self.imports[n] = {**json.loads(sidecar.read_text()), "cached": True}
            return db
        remove_database(db)
        source = self.corpus(n)
        log(f"importing {n:,} papers with `paperfeed import` -> {db}")
        result = timed_subprocess(
            [sys.executable, "-m", "bot", "import", str(source), "--json"],
            env=_config_env(db),
        )
        if result["returncode"] != 0:
            raise RuntimeError(f"paperfeed import failed: {result['stderr'][-2000:]}")
        report = json.loads(result["stdout"])
        if report["new"] != n:
            raise RuntimeError(f"paperfeed import loaded {report['new']} of {n} papers")
        figures = _import_figures(result, n)
        figures["database_mib"] = round(_database_size(db) / 2**20, 1)
        figures["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sidecar.write_text(json.dumps(figures, indent=2))
        self.imports[n] = {**figures, "cached": False}
        log(f"imported in {figures['wall_s']:.1f} s, peak RSS {figures['peak_rss_mib']} MiB")
        return db

    def floor_import(self, n: int) -> dict[str, Any]:
        """The floor loader (bench/floor_import.py) on the same corpus, cached like the database."""
        key = f"{n}-s{self.seed}-{_generator_fingerprint()}-{_schema_fingerprint()}"
        sidecar = self.workdir / f"floor-{key}.import.json"
        if sidecar.exists() and not self.rebuild:
            return {**json.loads(sidecar.read_text()), "cached": True}
        db = self.workdir / f"floor-{key}.sqlite3"
        remove_database(db)
        source = self.corpus(n)
        log(f"floor import of {n:,} papers -> {db}")
        result = timed_subprocess(
            [sys.executable, str(ROOT / "bench" / "floor_import.py"), str(source), str(db)],
            env=dict(os.environ),
        )
        if result["returncode"] != 0:
            raise RuntimeError(f"floor import failed: {result['stderr'][-2000:]}")
        figures = _import_figures(result, n)
        remove_database(db)
        sidecar.write_text(json.dumps(figures, indent=2))
        return {**figures, "cached": False}


@functools.cache
def proc_status_kib(pid: int | str = "self") -> dict[str, int]:
    """The memory lines of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...), in KiB; a process
    that has exited but not been waited for has none."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if value.endswith(" kB"):
            out[key] = int(value.split()[0])
    return out


def _generator_fingerprint() -> str:
    """A hash of what the generator writes (a sample), so cached corpora follow its changes."""
    sample = io.StringIO()
    corpus_module.write_corpus(300, sample, seed=0)
    return hashlib.sha256(sample.getvalue().encode()).hexdigest()[:8]


def _schema_fingerprint() -> str:
    digest = hashlib.sha256(str(BUILD_VERSION).encode())
    for migration in available_migrations():
        digest.update(migration.sql.encode())
    return digest.hexdigest()[:8]


def _config_env(db: Path) -> dict[str, str]:
    config = db.with_suffix(".toml")
    config.write_text(f'[database]\npath = "{db}"\n\n[logging]\nlevel = "WARNING"\n')
    env = dict(os.environ)
    env["PAPERFEED_CONFIG"] = str(config)
    env.pop("DISCORD_TOKEN", None)
    return env


def remove_database(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def _database_size(db: Path) -> int:
    return sum(Path(str(db) + s).stat().st_size for s in ("", "-wal") if Path(str(db) + s).exists())


def _import_figures(result: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "papers": n,
        "wall_s": round(result["wall_s"], 2),
        "papers_per_s": round(n / result["wall_s"]),
        "peak_rss_mib": round(result["peak_rss_kib"] / 1024, 1),
        "rss_mib_at_quarter": result["rss_quarters_mib"],
        "cpu_user_s": round(result["user_s"], 1),
        "cpu_system_s": round(result["system_s"], 1),
    }


def timed_subprocess(
    cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None
) -> dict[str, Any]:
    """Run a command; wall time, CPU (wait4 rusage: its waited-for children's too), peak RSS
    and RSS over time (/proc)."""
    with (
        open(os.devnull, "rb") as devnull,
        _temp_capture() as (out_file, out_path),
        _temp_capture() as (err_file, err_path),
    ):
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdin=devnull, stdout=out_file, stderr=err_file, env=env, cwd=cwd
        )
        samples: list[tuple[float, int]] = []
        high_water = [0]
        done = threading.Event()

        def sample() -> None:
            # VmHWM is the child's own peak (its memory after exec). The rusage of wait4 is
            # not: when the child is forked it inherits the parent's high-water mark.
            status = Path(f"/proc/{proc.pid}/status")
            while not done.is_set():
                with contextlib.suppress(OSError, ValueError):
                    for line in status.read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            samples.append((time.perf_counter() - started, int(line.split()[1])))
                        elif line.startswith("VmHWM:"):
                            high_water[0] = max(high_water[0], int(line.split()[1]))
                done.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        out_file.flush()
        err_file.flush()
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
    quarters = []
    for share in (0.25, 0.5, 0.75, 1.0):
        before = [kib for t, kib in samples if t <= share * wall]
        quarters.append(round(before[-1] / 1024, 1) if before else None)
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "peak_rss_kib": max([high_water[0], *(kib for _, kib in samples)]),
        "user_s": usage.ru_utime,
        "system_s": usage.ru_stime,
        "rss_quarters_mib": quarters,
        "stdout": stdout,
        "stderr": stderr,
    }


@contextlib.contextmanager
def _temp_capture() -> Iterator[tuple[Any, Path]]:
    with tempfile.NamedTemporaryFile("w+b", prefix="bench-", delete=False) as f:
        path = Path(f.name)
        try:
            yield f, path
        finally:
            path.unlink(missing_ok=True)


# --- The benchmarks' shape ------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: `run` takes the context and returns its figures (with `ratio_vs_floor`)."""

    name: str
    description: str
    run: Callable[[Context], dict[str, Any]]


# --- Statistics -----------------------------------------------------------------------------


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (linear interpolation between samples)."""
    ms = sorted(s * 1000 for s in samples_s)
    if len(ms) == 1:
        return {"p50_ms": ms[0], "p95_ms": ms[0], "p99_ms": ms[0]}
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "p99_ms": cuts[98]}


def ratio(a: float, b: float) -> float:
    """A cost ratio: the bot's time (or time per unit) over the other's; lower is better."""
    return round(a / b, 3) if b > 0 else float("inf")


def timed(func: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def read_papers(path: Path, count: int) -> list[Paper]:
    """The first `count` papers of a corpus file, as the arXiv source would have stored them."""
    papers: list[Paper] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(papers) >= count:
                break
            papers.append(replace(parse_snapshot_line(line), sources=frozenset({"arxiv"})))
    return papers
