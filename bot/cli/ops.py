"""Commands for operators: check-config, db backup."""

from __future__ import annotations

import argparse
import json

from bot.cli.common import emit
from bot.config import Config, describe
from bot.store import open_store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and print what it means")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser("db", help="database maintenance")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dsub.add_parser("backup", help="write a consistent copy of the live database")
    q.add_argument("path")
    q.set_defaults(handler=cmd_db_backup)


async def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    data = describe(config)
    if args.json:
        emit(data)
        return 0
    print(f"configuration: {config.path or 'none found, using defaults'}")
    for section in ("discord", "database", "health", "logging"):
        for key, value in data[section].items():
            print(f"  [{section}] {key} = {json.dumps(value)}")
    for name, source in data["sources"].items():
        for key, value in source.items():
            print(f"  [sources.{name}] {key} = {json.dumps(value)}")
    print(f"  feeds: {len(config.feeds)}")
    for feed in config.feeds:
        print(
            f"    {feed.name}: channel {feed.channel_id}, {feed.mode.value}, query {feed.query!r}"
        )
    print("ok")
    return 0


async def cmd_db_backup(args: argparse.Namespace, config: Config) -> int:
    async with open_store(config.database.path, create=False) as store:
        dest = await store.backup(args.path)
        papers = await store.count_papers()
    print(f"backed up {papers} papers to {dest}")
    return 0
