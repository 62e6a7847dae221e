"""Resident memory of a real `paperfeed run` with a large search index: idle, then after searches.

Usage::

    python -m bench.idle_rss DB.sqlite3 [--idle S] [--rounds N] [--json OUT]

DB is a store made by `paperfeed import` (its index beside it); the bot catches the index up
and writes to both, so give it a copy. The bot runs as its own process against the loopback
Discord (`tests/fakes/discord`; its slash commands registered first by `paperfeed
sync-commands`), sources off. Once it is connected and its search index is in
use, it sits idle for S seconds; then members run `/search` with every query shape of
`bench/search.py`, N rounds, and it sits idle again. At each point it reads the process's
VmRSS, VmHWM, RssAnon (heap) and RssFile (mapped files: the index segments and the libraries)
from /proc, and the sum over the index's own mappings from /proc/PID/smaps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, proc_status_kib
from bench.search import SEARCH_QUERIES
from tests.fakes.discord.server import FakeDiscord


def memory(pid: int, index: Path) -> dict[str, float]:
    """The process's resident memory in MiB, from /proc: totals, and what the index maps."""
    status = proc_status_kib(pid)
    out = {
        key: round(status[key] / 1024, 1)
        for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
        if key in status
    }
    mapped = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=5)
        if len(first) >= 5 and "-" in first[0] and ":" not in first[0]:
            inside = len(first) == 6 and first[5].startswith(str(index))
        elif inside and line.startswith("Rss:"):
            mapped += int(line.split()[1])
    out["index_mapped"] = round(mapped / 1024, 1)
    return out


async def run(db: Path, idle: float, rounds: int) -> dict[str, Any]:
    fake = await FakeDiscord(openapi=None).start()
    world = fake.world
    assert world is not None
    index = db.with_name(db.name + ".index").resolve()
    result: dict[str, Any] = {"database": str(db), "idle_s": idle, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="pf-idle-rss-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[database]\npath = "{db}"\n[health]\nport = 0\n[logging]\nlevel = "INFO"\n'
            "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        )
        stderr = Path(tmp) / "stderr"
        env = {**os.environ, "DISCORD_TOKEN": fake.token}
        env.pop("PAPERFEED_CONFIG", None)
        # This fake Discord is new: register the slash commands with it as an operator would
        # (`run` only syncs when they changed since the database last did).
        synced = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "--config", str(config), "sync-commands"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert synced.returncode == 0, synced.stderr[-2000:]
        with open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config), "run"],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        try:
            began = time.perf_counter()
            await fake.wait_for_gateway("identify", 1, timeout=120)
            result["start_to_gateway_s"] = round(time.perf_counter() - began, 2)
            result["after_start"] = memory(proc.pid, index)
            await asyncio.sleep(idle)  # idle: nothing to wait for but time passing
            result["idle"] = memory(proc.pid, index)
            users = [
                fake.state.add_member(world.guild.id, fake.state.add_user(f"reader{n}"))
                for n in range(len(SEARCH_QUERIES) * rounds // 4 + 1)
            ]
            took = []
            n = 0
            for _ in range(rounds):
                for shape in SEARCH_QUERIES:
                    member = users[n // 4]  # within the per-member cooldown (5 in 30 s)
                    n += 1
                    t0 = time.perf_counter()
                    record = await fake.invoke("search", {"query": shape.text}, member=member)
                    await fake.wait_for_original(record, timeout=30)
                    took.append(time.perf_counter() - t0)
            result["searches"] = len(took)
            result["search_reply_ms_median"] = round(sorted(took)[len(took) // 2] * 1000, 1)
            result["after_searches"] = memory(proc.pid, index)
            await asyncio.sleep(idle)
            result["idle_after_searches"] = memory(proc.pid, index)
            result["log_mentions_index"] = [
                line
                for line in stderr.read_text(errors="replace").splitlines()
                if "search index" in line
            ][:5]
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
            await fake.close()
    result["exit_code"] = proc.returncode
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before reading")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the ten query shapes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.database.resolve(), args.idle, args.rounds))
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
