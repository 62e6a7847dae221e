"""Memory: the peak RSS of a real `paperfeed run` process, idle and during a fan-out.

Idle runs on the largest benchmark store, the fan-out on a scratch one. There is no floor; the
target is an absolute one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fanout import fanout_size
from bench.harness import ROOT, Benchmark, Context, proc_status_kib
from bench.loopback import fake_with_channels, fill_outbox


def _rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, from /proc."""
    status = proc_status_kib(pid)
    return status["VmRSS"], status["VmHWM"]


async def run_memory(db: Path, *, deliveries: int = 0, channels: int = 50, settle_s: float = 5.0,
                     ) -> dict[str, Any]:  # fmt: skip
    """Peak RSS of a real `paperfeed run` process: idle on a database, or during a fan-out."""
    fake, channel_ids = await fake_with_channels(channels)
    assert fake.world is not None
    if deliveries:
        await fill_outbox(str(db), channel_ids, fake.world.guild.id, deliveries)
    with tempfile.TemporaryDirectory(prefix="pf-run-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            f'[database]\npath = "{db}"\n[health]\nport = 0\n'
            "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
        )
        env = {**os.environ, "DISCORD_TOKEN": fake.token}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "run"],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        try:
            began = time.perf_counter()
            await fake.wait_for_gateway("identify", 1, timeout=60)
            connected = time.perf_counter() - began
            peak = 0
            if deliveries:
                deadline = time.perf_counter() + 600
                while len(fake.messages()) < deliveries and time.perf_counter() < deadline:
                    peak = max(peak, _rss_kib(proc.pid)[1])
                    await asyncio.sleep(0.2)
                wall = time.perf_counter() - began - connected
            else:
                await asyncio.sleep(settle_s)  # idle: nothing to wait for but time passing
                wall = 0.0
            current, peak = _rss_kib(proc.pid)
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
            await fake.close()
    out: dict[str, Any] = {"rss_mib": round(current / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
                           "start_to_gateway_s": round(connected, 2), "exit_code": proc.returncode}  # fmt: skip
    if deliveries:
        out.update(
            {"deliveries": deliveries, "posted": len(fake.messages()), "wall_s": round(wall, 2)}
        )
    return out


def measure(ctx: Context) -> dict[str, Any]:
    size = max(ctx.settings.sizes)
    db = ctx.database(size)
    deliveries, channels = fanout_size(ctx)
    with tempfile.TemporaryDirectory(prefix="pf-mem-") as tmp:
        idle = asyncio.run(run_memory(db, settle_s=5.0))
        scratch = Path(tmp) / "fanout.sqlite3"
        busy = asyncio.run(run_memory(scratch, deliveries=deliveries, channels=channels))
    return {
        "description": f"`paperfeed run` against the loopback Discord with the {size:,}-paper "
        "database (idle), and delivering a fan-out; VmHWM from /proc",
        "papers": size,
        "idle": idle,
        "fanout": busy,
        "ratio_vs_floor": None,
    }


BENCHMARK = Benchmark(
    "memory", "peak RSS of a real `paperfeed run` process: idle, and during a fan-out", measure
)
