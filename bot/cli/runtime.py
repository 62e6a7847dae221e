"""Commands that talk to the outside world: poll (and, with Discord, run)."""

from __future__ import annotations

import argparse

from bot.app import open_services
from bot.cli.common import emit, iso
from bot.config import Config
from bot.models import SourceHealth
from bot.services.feeds import sync_config_feeds
from bot.services.health import source_health


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("poll", help="one poll cycle without Discord: fetch, store, match, queue")
    p.add_argument(
        "--source",
        action="append",
        choices=["huggingface", "arxiv"],
        help="only this source (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_poll)
    register_discord(sub)


async def cmd_poll(args: argparse.Namespace, config: Config) -> int:
    """Exit 1 if any source failed; what the others returned is stored all the same."""
    async with open_services(config) as services:
        await sync_config_feeds(services.store, config.feeds, services.clock())
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
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser("sync-commands", help="register the slash commands with Discord")
    p.add_argument("--guild", type=int, help="only in this guild (instant)")
    p.set_defaults(handler=cmd_sync_commands)


async def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The bot until SIGTERM/SIGINT; a missing or refused token is exit 2 with one line."""
    from bot.discord.runner import run_bot

    return await run_bot(config)


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
