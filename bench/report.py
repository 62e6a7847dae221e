"""What a run reports besides the figures: the machine, the targets of issue #7, a text table."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
from pathlib import Path
from typing import Any


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue #7 with the measured value and whether it is met.

    The search and import targets are stated for a million papers, so they are evaluated only
    at sizes of 1,000,000 and more; smaller sizes report their figures without a verdict.
    """
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, op: str, target: float) -> None:
        met = value <= target if op == "<=" else value >= target
        out.append({"target": name, "value": value, "op": op, "goal": target, "met": met})

    search = results.get("search", {}).get("sizes", {})
    for size, queries in search.items():
        if int(size) < 1_000_000:
            continue
        for name, q in queries.items():
            add(
                f"search {size} {name} p99 ms ({q['class']})", q["p99_ms"], "<=", q["target_p99_ms"]
            )
            add(f"search {size} {name} x floor (p50)", q["ratio_vs_floor"], "<=", 1.3)
            add(f"search {size} {name} speed-up vs peer (p50)", q["speedup_vs_peer"], ">=", 50.0)
    ingest = results.get("ingest")
    if ingest:
        for key in ("poll_batch", "import_batch"):
            add(f"ingest {key} share of floor papers/s", ingest[key]["share_of_floor"], ">=", 0.7)
        full = ingest["full_import"]
        for size, f in full.items():
            if int(size) >= 1_000_000:
                add(f"full import {size} wall s", f["wall_s"], "<=", 180.0 * int(size) / 1_000_000)
        if len(full) >= 2:
            sizes = sorted(full, key=int)
            growth = full[sizes[-1]]["peak_rss_mib"] / full[sizes[0]]["peak_rss_mib"]
            add(
                f"import peak RSS {sizes[-1]} / {sizes[0]} (constant memory)",
                round(growth, 3),
                "<=",
                1.25,
            )
    fanout = results.get("fanout")
    if fanout:
        add(f"fan-out {fanout['deliveries']} x floor", fanout["ratio_vs_floor"], "<=", 1.15)
        add("fan-out 429s", fanout["responses_429"], "<=", 0)
    memory = results.get("memory")
    if memory and memory["papers"] >= 1_000_000:
        add(
            f"idle RSS MiB ({memory['papers']:,} papers)",
            memory["idle"]["peak_rss_mib"],
            "<=",
            150.0,
        )
    interaction = results.get("interaction")
    if interaction and interaction["papers"] >= 1_000_000:
        add("/search first response p99 ms", interaction["p99_ms"], "<=", 500.0)
    matching = results.get("matching")
    if matching:
        add(
            f"matching {matching['papers']} x {matching['feeds']} s", matching["seconds"], "<=", 2.0
        )
        if "with_follows_seconds" in matching:
            add(
                f"matching {matching['papers']} x {matching['feeds']} feeds + "
                f"{matching['follows']} follows s",
                matching["with_follows_seconds"],
                "<=",
                2.0,
            )
    daily = results.get("daily_dms")
    if daily:
        add(f"daily DM build {daily['members']} members s", daily["seconds"], "<=", 5.0)
    return out


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def print_report(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    print(
        f"machine: {m['cpu_count']} x {m['cpu_model']}, {m['memory_gib']} GiB, "
        f"Python {m['python']}, SQLite {m['sqlite']}"
    )
    search = doc["benchmarks"].get("search")
    if search:
        print(
            "\nsearch (ms)                          total    p50     p95     p99   floor p50  x floor  peer p50  x faster than peer"
        )
        for size, queries in search["sizes"].items():
            for name, q in queries.items():
                print(
                    f"{int(size):>9,} {name:<9} {q['class']:<7} {q['total']:>9} {q['p50_ms']:>7.2f} "
                    f"{q['p95_ms']:>7.2f} {q['p99_ms']:>7.2f} {q['floor']['p50_ms']:>9.2f} "
                    f"{q['ratio_vs_floor']:>7.2f} {q['peer']['p50_ms']:>9.0f} {q['speedup_vs_peer']:>10.0f}"
                )
    ingest = doc["benchmarks"].get("ingest")
    if ingest:
        print("\ningest")
        for key in ("poll_batch", "import_batch"):
            i = ingest[key]
            print(
                f"  {key}: {i['papers_per_s']:,} papers/s vs floor {i['floor_papers_per_s']:,} "
                f"({i['share_of_floor']:.2f} of the floor)"
            )
        for size, f in ingest["full_import"].items():
            print(
                f"  full import {int(size):,}: {f['wall_s']} s ({f['papers_per_s']:,} papers/s), "
                f"peak RSS {f['peak_rss_mib']} MiB, floor {f['floor']['wall_s']} s"
            )
    matching = doc["benchmarks"].get("matching")
    if matching:
        print(
            f"\nmatching: {matching['papers']} papers x {matching['feeds']} feeds: "
            f"{matching['seconds']} s (compile {matching['compile_seconds']} s, "
            f"match {matching['match_seconds']} s), floor {matching['floor_seconds']} s; "
            f"with {matching.get('follows', 0)} follows {matching.get('with_follows_seconds')} s "
            f"({matching.get('with_follows_cpu_seconds')} s CPU)"
        )
    daily = doc["benchmarks"].get("daily_dms")
    if daily:
        print(f"daily DMs: {daily['members']} members: {daily['seconds']} s, "
              f"{daily['messages']} messages")  # fmt: skip
    print("\ntargets")
    for t in doc["targets"]:
        print(
            f"  {'ok  ' if t['met'] else 'MISS'} {t['target']}: {t['value']} ({t['op']} {t['goal']})"
        )
    if doc["pending"]:
        print("\npending (not measured yet): " + ", ".join(doc["pending"]))
