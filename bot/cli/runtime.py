"""Commands that talk to the outside world: poll (and, with Discord, run)."""

from __future__ import annotations

import argparse

from bot.app import open_services
from bot.cli.common import emit, iso
from bot.config import Config, with_cluster
from bot.models import SourceHealth
from bot.services.cluster import cluster_status
from bot.services.health import source_health
from bot.sources.registry import NAMES
from bot.store import cluster_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("poll", help="one poll cycle without Discord: fetch, store, match, queue")
    p.add_argument(
        "--source",
        action="append",
        choices=NAMES,
        help="only this source (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_poll)
    register_discord(sub)


async def cmd_poll(args: argparse.Namespace, config: Config) -> int:
    """Exit 1 if any source failed; what the others returned is stored all the same."""
    async with open_services(config) as services:
        await services.feeds.sync_config(config.feeds)
        enabled = list(services.poller.sources)
        wanted = args.source or enabled
        skipped = [name for name in wanted if name not in enabled]
        reports = await services.poller.poll_all([n for n in wanted if n in enabled])
        health = {
            r.name: await source_health(services.store, r.name, services.clock()) for r in reports
        }
    queued = sum(r.queued for r in reports)
    if args.json:
        emit(
            {
                "sources": [
                    {"name": r.name, "fetched": r.fetched, "new": r.new, "updated": r.updated,
                     "queued": r.queued, "error": r.error, "warnings": list(r.warnings),
                     **health_document(health[r.name])}
                    for r in reports
                ]
                + [{"name": n, "fetched": 0, "new": 0, "updated": 0, "queued": 0,
                    "error": "disabled in the configuration", "warnings": []} for n in skipped],
                "queued": queued,
            }
        )  # fmt: skip
    else:
        for r in reports:
            line = f"{r.name}: fetched={r.fetched} new={r.new} updated={r.updated}"
            print(f"{line} error: {r.error}" if r.error else line)
            if r.warnings:  # a successful poll that skipped or ignored something
                print(f"{r.name}: {len(r.warnings)} warning(s); first: {r.warnings[0]}")
            if health[r.name].stale:
                print(f"{r.name}: stale: {health[r.name].stale_reason}")
        for name in skipped:
            print(f"{name}: disabled in the configuration")
        print(f"queued={queued}")
    return 1 if skipped or any(r.error for r in reports) else 0


def register_discord(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the bot: polling, delivery, slash commands, health")
    p.add_argument(
        "--role",
        metavar="ROLES",
        help="this process's part of a cluster: gateway, poller, publisher (a comma list) or "
        "all (default: [cluster] roles, else all); other than all needs PostgreSQL",
    )
    p.add_argument("--shards", metavar="IDS", help='gateway shards to run, e.g. "0-3"')
    p.add_argument(
        "--shard-count", type=int, metavar="N", help="how many shards the bot has in all"
    )
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser(
        "status",
        help="sources' health, queue depth and (on PostgreSQL) every process of the cluster",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser("sync-commands", help="register the slash commands with Discord")
    p.add_argument("--guild", type=int, help="only in this guild (instant)")
    p.set_defaults(handler=cmd_sync_commands)


async def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The bot until SIGTERM/SIGINT; a missing or refused token is exit 2 with one line."""
    from bot.discord.runner import run_bot

    config = with_cluster(config, args.role, args.shards, args.shard_count)
    return await run_bot(config)


async def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """Exit 1 when a process of the cluster is silent (so a cron job or probe notices)."""
    async with open_services(config) as services:
        now = services.clock()
        health = {name: await source_health(services.store, name, now) for name in NAMES}
        enabled = set(services.poller.sources)
        depth = await services.store.outbox.depth()
        cluster = cluster_store(services.store)
        processes = await cluster_status(cluster) if cluster is not None else None
        leases = await cluster.leases() if cluster is not None else []
    silent = [p for p in processes or [] if p.silent]
    if args.json:
        emit(
            {
                "backend": config.database.backend,
                "sources": [
                    {"name": n, "enabled": n in enabled, **health_document(h)}
                    for n, h in health.items()
                ],
                "queue_depth": depth,
                "processes": [p.document() for p in processes] if processes is not None else None,
                "leases": [
                    {"name": x.name, "owner": x.owner, "epoch": x.epoch,
                     "expires_at": iso(x.expires_at)}
                    for x in leases
                ],
                "silent": len(silent),
            }
        )  # fmt: skip
        return 1 if silent else 0
    for name, h in health.items():
        if name not in enabled:
            print(f"{name}: disabled in the configuration")
            continue
        state = "stale: " + (h.stale_reason or "") if h.stale else "ok"
        failures = (
            f", {h.consecutive_failures} failure(s) in a row" if h.consecutive_failures else ""
        )
        print(f"{name}: {state}, last success {iso(h.last_success) or 'never'}{failures}")
    print(f"queue: {depth} delivery(ies) waiting")
    if processes is None:
        print("processes: one (SQLite runs every role in one process)")
    else:
        print(f"processes: {len(processes)} ({len(silent)} silent)")
        for p in processes:
            print(f"  {p.line()}")
        for x in leases:
            print(f"  lease {x.name}: {x.owner} (epoch {x.epoch})")
    return 1 if silent else 0


async def cmd_sync_commands(args: argparse.Namespace, config: Config) -> int:
    from bot.discord.runner import sync_commands

    count = await sync_commands(config, args.guild)
    where = f"guild {args.guild}" if args.guild else "all servers (may take up to an hour to show)"
    print(f"registered {count} slash command(s) for {where}")
    return 0


def health_document(health: SourceHealth) -> dict[str, object]:
    """A source's recorded health, as `poll --json` shows it beside the poll's figures."""
    return {
        "last_success": iso(health.last_success),
        "consecutive_failures": health.consecutive_failures,
        "last_error": health.last_error,
        "stale": health.stale,
        "stale_reason": health.stale_reason,
    }
