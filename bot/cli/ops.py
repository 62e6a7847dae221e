"""Commands for operators: check-config, db backup, invite-url."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bot import PROJECT_URL, __version__
from bot.app import open_command_store
from bot.cli.common import emit
from bot.cli.feeds import snowflake
from bot.config import Config, describe, search_index_path
from bot.errors import ConfigError, PaperfeedError
from bot.secrets import Secret
from bot.store import open_store

if TYPE_CHECKING:
    from bot.store.tantivy_index import ChangeFeed

AUTHORIZE_URL = "https://discord.com/oauth2/authorize"
SCOPES = ("bot", "applications.commands")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and print what it means")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser("db", help="database maintenance")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dsub.add_parser("backup", help="write a consistent copy of the live database")
    q.add_argument("path", help="the new file (its folder must exist; it is never overwritten)")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_db_backup)
    q = dsub.add_parser("copy", help="copy the SQLite store into PostgreSQL (safe to run again)")
    q.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://user@host/dbname (default: [database] url / $PAPERFEED_DATABASE_URL)",
    )
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_db_copy)

    p = sub.add_parser("search-index", help="the Tantivy search index ([search] index_path)")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    q = isub.add_parser("rebuild", help="build the index again from the database, with progress")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_search_index_rebuild)

    p = sub.add_parser("invite-url", help="print the link that adds the bot to a server")
    p.add_argument(
        "--client-id",
        type=snowflake,
        metavar="ID",
        help="the application id (default: asked from Discord with the token)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_invite_url)


async def cmd_search_index_rebuild(args: argparse.Namespace, config: Config) -> int:
    """Rebuild the Tantivy index from the papers (missing, corrupt, or another schema); on
    PostgreSQL, the index in the first slot no running process holds."""
    import time

    from bot.store.tantivy_index import AVAILABLE

    if not AVAILABLE:
        raise PaperfeedError("search-index: the tantivy package is not installed")
    started = time.monotonic()
    base = search_index_path(config)
    if config.database.url is not None:
        from bot.store.index_slots import claim_slot
        from bot.store.postgres.database import open_postgres
        from bot.store.postgres.local_index import database_marker
        from bot.store.postgres.search_feed import PostgresChangeFeed

        async with open_postgres(config.database.url) as pg:
            try:
                slot = claim_slot(base)
            except OSError as exc:
                raise PaperfeedError(f"search-index: {exc}") from None
            try:
                directory = slot.directory
                feed = PostgresChangeFeed(pg.sessions)
                papers = await _rebuild(directory, feed)
                database_marker(directory).write_text(await feed.identity(), "utf-8")
            finally:
                slot.release()
    else:
        from bot.store.sqlite.database import open_store as open_sqlite
        from bot.store.sqlite.search_feed import SqliteChangeFeed

        async with open_sqlite(config.database.path, create=False, search_index=False) as store:
            directory = base
            papers = await _rebuild(directory, SqliteChangeFeed(store.connections))
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    seconds = time.monotonic() - started
    if args.json:
        emit(
            {
                "papers": papers,
                "directory": str(directory),
                "bytes": size,
                "seconds": round(seconds, 2),
            }
        )
    else:
        print(
            f"search index rebuilt: {papers} papers in {directory} ({size / 2**20:.1f} MiB, {seconds:.1f} s)"
        )
    return 0


async def _rebuild(directory: Path, feed: ChangeFeed) -> int:
    """Build the index in `directory` from `feed`, with progress on stderr; how many papers."""
    from bot.progress import Progress
    from bot.store.tantivy_index import TantivyIndex

    index = TantivyIndex(directory, feed)
    progress: Progress | None = None

    def step(done: int, total: int) -> None:
        nonlocal progress
        if progress is None:  # a fill and ETA on a terminal; plain counts in a log
            progress = Progress(sys.stderr, total if sys.stderr.isatty() else None, verb="indexed")
        progress.update(done, done)

    try:
        papers = await index.rebuild(step)
    finally:
        await index.close()
    if progress is not None:
        progress.finish()
    return papers


async def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    data = describe(config)
    if args.json:
        emit(data)
        return 0
    print(f"configuration: {config.path or 'none found, using defaults'}")
    db = config.database
    if db.url:
        print(f"database: PostgreSQL at {db.url.redacted()} ([database] path is ignored)")
    else:
        print(f"database: SQLite file {db.path}")
    index = search_index_path(config)
    slots = f"{index}.0, {index}.1, ... (one per process answering searches)" if db.url else index
    print(f"search index: {slots}")
    for section in ("discord", "cluster", "database", "search", "health", "logging"):
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
    if config.database.url is not None:
        from bot.store.postgres.database import backup_hint

        print(f"paperfeed: {backup_hint(config.database.url)}", file=sys.stderr)
        return 2
    async with open_command_store(config, create=False) as store:
        dest = await store.backup(args.path)
        papers = await store.papers.count()
    if args.json:
        emit({"path": str(dest), "papers": papers})
    else:
        print(f"backed up {papers} papers to {dest}")
    return 0


def bot_permissions() -> int:
    """The permission bits the bot needs, by name, so the integer never drifts from the intent."""
    import discord  # imported here: the other operator commands should not pay for it

    return discord.Permissions(
        view_channel=True,  # see the channels it posts to
        send_messages=True,  # post papers
        embed_links=True,  # as embeds
        send_messages_in_threads=True,  # feeds may target threads and forum posts
        create_public_threads=True,  # a forum channel feed opens one post per paper
        read_message_history=True,  # find its own earlier posts (digests, edits)
    ).value


def invite_url(client_id: int, permissions: int) -> str:
    """The OAuth2 authorisation link for the bot with its slash commands."""
    scope = "+".join(SCOPES)
    return f"{AUTHORIZE_URL}?client_id={client_id}&scope={scope}&permissions={permissions}"


async def fetch_application_id(
    api_base: str,
    token: Secret,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> int:
    """Ask Discord which application the token belongs to (GET /oauth2/applications/@me)."""
    url = f"{api_base.rstrip('/')}/oauth2/applications/@me"
    headers = {
        "Authorization": f"Bot {token.get()}",
        "User-Agent": f"DiscordBot ({PROJECT_URL}, {__version__})",
    }
    try:
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise PaperfeedError(
            f"invite-url: cannot reach Discord at {api_base}: {type(exc).__name__} "
            "(or pass --client-id ID)"
        ) from None
    if response.status_code == 401:
        raise ConfigError(
            "invite-url: Discord refused the token (401): check $DISCORD_TOKEN "
            "or [discord] token_file"
        )
    if response.status_code != 200:
        raise PaperfeedError(
            f"invite-url: Discord answered {response.status_code} to {url} (or pass --client-id ID)"
        )
    try:
        return int(response.json()["id"])
    except (ValueError, KeyError, TypeError):
        raise PaperfeedError(
            f"invite-url: no application id in Discord's answer from {url}"
        ) from None


async def cmd_invite_url(
    args: argparse.Namespace,
    config: Config,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    client_id: int | None = args.client_id
    if client_id is None:
        if not config.discord.token:
            raise ConfigError(
                "invite-url: no application id: pass --client-id ID, or set $DISCORD_TOKEN "
                "(or [discord] token_file) so it can be asked from Discord"
            )
        client_id = await fetch_application_id(
            config.discord.api_base, config.discord.token, transport=transport
        )
    permissions = bot_permissions()
    url = invite_url(client_id, permissions)
    if args.json:
        emit({"url": url, "client_id": str(client_id), "permissions": permissions,
              "scopes": list(SCOPES)})  # fmt: skip
    else:
        print(url)
    return 0


async def cmd_db_copy(args: argparse.Namespace, config: Config) -> int:
    """Copy [database] path (SQLite) into PostgreSQL; exit 1 if a table came up short."""
    from bot.config import database_url_error
    from bot.progress import Progress
    from bot.secrets import DatabaseUrl
    from bot.store.postgres.copy import COUNTED, copy_sqlite
    from bot.store.postgres.database import open_postgres

    if args.to is None and config.database.url is None:
        raise ConfigError("db copy: say where to: --to postgresql://user@host/dbname")
    url = DatabaseUrl(args.to) if args.to is not None else config.database.url
    assert url is not None
    problem = database_url_error(url.get())
    if problem:
        raise ConfigError(f"db copy: --to: {problem}")
    source = config.database.path
    # Opening the SQLite store brings its schema up to date first (and refuses a non-store).
    async with open_store(source, create=False):
        pass
    progress = Progress(sys.stderr, verb="copied", noun="rows")
    async with open_postgres(url) as target:
        report = await copy_sqlite(source, target, progress.update)
    progress.finish()
    if args.json:
        emit(
            {
                "from": source,
                "to": url.redacted(),
                "tables": {
                    t: {
                        "sqlite": report.sqlite[t],
                        "postgresql": report.postgresql[t],
                        "added": report.added[t],
                    }
                    for t in COUNTED
                },
                "ok": not report.missing,
            }
        )
    else:
        print(f"copied {source} to {url.redacted()}")
        for t in COUNTED:
            mark = "" if t not in report.missing else "  <- missing rows"
            print(
                f"  {t}: {report.sqlite[t]:,} in SQLite, {report.postgresql[t]:,} in PostgreSQL "
                f"({report.added[t]:,} added){mark}"
            )
    if report.missing:
        print(
            f"paperfeed: db copy: PostgreSQL has fewer rows in {', '.join(report.missing)}",
            file=sys.stderr,
        )
        return 1
    return 0
