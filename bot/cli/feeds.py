"""`paperfeed feeds ...`: the /feed slash commands from the shell, plus export and import as TOML.

Exported files are `[[feeds]]` tables, the same shape as in config.toml, and an import reads
them through the configuration's own reader, whose values pass the feeds service's one gate,
so a file that imports is a file the bot understands. Feeds made here are database feeds (origin "discord"); those written in the
configuration file stay managed by the file and are not removed or overwritten from here.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.app import open_command_store
from bot.cli.common import emit, iso
from bot.cli.semantic import semantic_of
from bot.clock import utcnow
from bot.config import Config, feed_spec_to_dict, parse_config_text
from bot.errors import ConfigError, PaperfeedError, UsageError
from bot.models import Feed, FeedMode, FeedSpec
from bot.services.feeds import FeedService, FileManagedFeed
from bot.store.interfaces import Database

_SNOWFLAKE_MAX = 2**63 - 1
_PAUSE_REASON = "paused from the command line"


def snowflake(text: str) -> int:
    """A Discord id on the command line."""
    if text.isdigit() and 0 < int(text) <= _SNOWFLAKE_MAX:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a Discord id (a positive number), got {text!r}")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("feeds", help="list, add, remove, pause, resume, export and import feeds")
    fsub = p.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)

    q = fsub.add_parser("list", help="every feed, with its state")
    q.add_argument("--guild", type=snowflake, metavar="ID", help="only this guild's feeds")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_list)

    q = fsub.add_parser("add", help="create a feed (its recent matches are queued, as in Discord)")
    q.add_argument("name", help="the feed's name, unique in its guild")
    q.add_argument("--channel", type=snowflake, required=True, metavar="ID", help="channel id")
    q.add_argument("--query", required=True, help="what to follow, in the query language")
    q.add_argument("--guild", type=snowflake, metavar="ID", help="the channel's guild")
    q.add_argument("--mode", choices=["instant", "digest"])
    q.add_argument("--digest-time", metavar="HH:MM", help="UTC time of the digest")
    q.add_argument("--digest-size", type=int, metavar="N", help="papers per digest (1-25)")
    q.add_argument("--categories", type=_csv, metavar="LIST", help="e.g. cs.LG,cs.CL")
    q.add_argument("--sources", type=_csv, metavar="LIST", help="huggingface,arxiv")
    q.add_argument("--min-upvotes", type=int, metavar="N", help="Hugging Face upvotes needed")
    q.add_argument("--backfill", type=int, metavar="N", help="recent matches to post (0-50)")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_add)

    for action, handler, text in (
        ("remove", cmd_remove, "delete a feed (not one from the configuration file)"),
        ("pause", cmd_pause, "stop posting to a feed until it is resumed"),
        ("resume", cmd_resume, "start posting to a paused feed again"),
    ):
        q = fsub.add_parser(action, help=text)
        q.add_argument("feed", help="the feed's id or name")
        q.add_argument("--guild", type=snowflake, metavar="ID", help="where to look for the name")
        if action == "pause":
            q.add_argument("--reason", default=_PAUSE_REASON, help="shown by `feeds list`")
        q.add_argument("--json", action="store_true", help="print one JSON document")
        q.set_defaults(handler=handler)

    q = fsub.add_parser("export", help="write feeds as TOML [[feeds]] tables")
    q.add_argument("file", nargs="?", help="where to write (default: standard output)")
    q.add_argument("--guild", type=snowflake, metavar="ID", help="only this guild's feeds")
    q.set_defaults(handler=cmd_export)

    q = fsub.add_parser("import", help="create or update feeds from TOML [[feeds]] tables")
    q.add_argument("file", help='a file written by `feeds export` ("-" for standard input)')
    q.add_argument("--guild", type=snowflake, metavar="ID", help="the guild the feeds belong to")
    q.add_argument(
        "--no-backfill", action="store_true", help="queue nothing for the feeds it creates"
    )
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler=cmd_import)


# -- documents ------------------------------------------------------------------------------


def feed_document(feed: Feed) -> dict[str, Any]:
    """A feed as `feeds list --json` prints it; Discord ids are strings, as Discord sends them."""
    spec = feed_spec_to_dict(feed.spec)
    return {
        "id": feed.id,
        "name": feed.name,
        "guild_id": str(feed.guild_id) if feed.guild_id else None,
        "channel_id": str(feed.channel_id),
        "query": feed.spec.query,
        "mode": feed.spec.mode.value,
        "origin": feed.origin.value,
        "paused": feed.paused,
        "pause_reason": feed.pause_reason,
        "categories": spec["categories"],
        "sources": spec["sources"],
        "min_upvotes": spec["min_upvotes"],
        "digest_time": spec["digest_time"],
        "digest_size": spec["digest_size"],
        "backfill": spec["backfill"],
        "created_at": iso(feed.created_at),
        "last_post_at": iso(feed.last_post_at),
    }


def _describe(feed: Feed) -> str:
    guild = f"guild {feed.guild_id}" if feed.guild_id else "guild not yet known"
    return f'feed {feed.id} "{feed.name}" ({guild}, channel {feed.channel_id})'


# -- TOML writing (tomllib only reads) ------------------------------------------------------


def _needs_escape(ch: str) -> bool:
    code = ord(ch)
    return (code < 0x20 and ch != "\t") or code == 0x7F


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}  # fmt: skip


def toml_string(text: str) -> str:
    """Quote a string for TOML: plain "..." when it can be, '...' for quotes and backslashes."""
    if not any(_needs_escape(c) for c in text):
        if '"' not in text and "\\" not in text:
            return f'"{text}"'
        if "'" not in text:
            return f"'{text}'"  # a literal string: a query's "phrases" stay readable
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _needs_escape(ch):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def feeds_to_toml(specs: Sequence[FeedSpec]) -> str:
    """`[[feeds]]` tables for the given feeds, in order, loadable by `feeds import` and config.toml."""
    lines = [
        f"# paperfeed feeds ({len(specs)}), as [[feeds]] tables.",
        "# Load them with `paperfeed feeds import FILE`, or paste them into config.toml.",
    ]
    for spec in specs:
        lines.append("")
        lines.append("[[feeds]]")
        for key, value in feed_spec_to_dict(spec).items():
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def parse_feeds_toml(text: str, name: str) -> tuple[FeedSpec, ...]:
    """Read `[[feeds]]` tables with the configuration's validation (one line per problem, exit 2)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    others = sorted(k for k in raw if k != "feeds")
    if others:
        raise ConfigError(
            f"{name}: only [[feeds]] tables can be imported, found {', '.join(others)}"
        )
    return parse_config_text(text, {}, name=name).feeds


# -- commands -------------------------------------------------------------------------------


async def find_feed_arg(store: Database, text: str, guild_id: int | None) -> Feed:
    """A feed named on the command line, by id or by name; an ambiguous name is refused."""
    feeds = await store.feeds.list(guild_id=guild_id)
    wanted = text.strip()
    if wanted.isdigit():
        for feed in feeds:
            if feed.id == int(wanted):
                return feed
    matches = [f for f in feeds if f.name == wanted] or [
        f for f in feeds if f.name.casefold() == wanted.casefold()
    ]
    if not matches:
        where = f" in guild {guild_id}" if guild_id else ""
        raise PaperfeedError(f'no feed "{wanted}"{where} (see `paperfeed feeds list`)')
    if len(matches) > 1:
        ids = ", ".join(str(f.id) for f in matches)
        raise UsageError(
            f'several feeds are named "{wanted}" (ids {ids}): give the id, or --guild ID'
        )
    return matches[0]


async def cmd_list(args: argparse.Namespace, config: Config) -> int:
    async with open_command_store(config) as store:
        feeds = await store.feeds.list(guild_id=args.guild)
    if args.json:
        emit({"feeds": [feed_document(f) for f in feeds]})
        return 0
    if not feeds:
        print("no feeds (add one with `paperfeed feeds add` or /feed add in Discord)")
        return 0
    for feed in feeds:
        spec = feed.spec
        state = f"paused: {feed.pause_reason or 'no reason given'}" if feed.paused else "active"
        mode = f"digest at {spec.digest_time} UTC" if spec.mode.value == "digest" else "instant"
        print(f"{_describe(feed)}, {mode}, {feed.origin.value}, {state}")
        print(f"    query: {spec.query}")
    return 0


async def cmd_add(args: argparse.Namespace, config: Config) -> int:
    """Parse the options into a spec; the feeds service validates and creates it as /feed add does."""
    d = FeedSpec(name=args.name, channel_id=args.channel, query=args.query)
    spec = FeedSpec(
        name=args.name,
        channel_id=args.channel,
        query=args.query,
        categories=d.categories if args.categories is None else tuple(args.categories),
        sources=d.sources if args.sources is None else tuple(args.sources),
        min_upvotes=d.min_upvotes if args.min_upvotes is None else args.min_upvotes,
        mode=d.mode if args.mode is None else FeedMode(args.mode),
        digest_time=d.digest_time if args.digest_time is None else args.digest_time,
        digest_size=d.digest_size if args.digest_size is None else args.digest_size,
        backfill=d.backfill if args.backfill is None else args.backfill,
    )
    async with open_command_store(config) as store:
        feeds = FeedService(store, utcnow, semantic=semantic_of(store, config))
        feed, queued = await feeds.create(spec, guild_id=args.guild)
    if args.json:
        emit({"feed": feed_document(feed), "queued": queued})
    else:
        print(f"added {_describe(feed)}; {queued} recent match(es) queued")
    return 0


async def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    async with open_command_store(config) as store:
        feed = await find_feed_arg(store, args.feed, args.guild)
        try:
            await FeedService(store, utcnow).remove(feed)
        except FileManagedFeed:
            raise UsageError(
                f'feed "{feed.name}" comes from the configuration file: '
                "remove its [[feeds]] table there instead"
            ) from None
    if args.json:
        emit({"removed": feed_document(feed)})
    else:
        print(f"removed {_describe(feed)}")
    return 0


async def cmd_pause(args: argparse.Namespace, config: Config) -> int:
    return await _set_paused(args, config, paused=True)


async def cmd_resume(args: argparse.Namespace, config: Config) -> int:
    return await _set_paused(args, config, paused=False)


async def _set_paused(args: argparse.Namespace, config: Config, *, paused: bool) -> int:
    async with open_command_store(config) as store:
        feed = await find_feed_arg(store, args.feed, args.guild)
        feeds = FeedService(store, utcnow)
        changed = await (feeds.pause(feed, args.reason) if paused else feeds.resume(feed))
        if changed:
            feed = await feeds.get(feed.id) or feed
    if args.json:
        emit({"feed": feed_document(feed), "changed": changed})
    elif changed:
        print(f"{'paused' if paused else 'resumed'} {_describe(feed)}")
    else:
        print(f"{_describe(feed)} was already {'paused' if paused else 'active'}")
    return 0


async def cmd_export(args: argparse.Namespace, config: Config) -> int:
    async with open_command_store(config) as store:
        feeds = await store.feeds.list(guild_id=args.guild)
    seen: dict[str, Feed] = {}
    for feed in feeds:
        other = seen.setdefault(feed.name.casefold(), feed)
        if other is not feed:
            raise UsageError(
                f'feeds {other.id} and {feed.id} are both named "{feed.name}" (in different '
                "guilds), and one file cannot hold both: export one guild at a time with --guild ID"
            )
    text = feeds_to_toml([f.spec for f in feeds])
    if not args.file or args.file == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PaperfeedError(f"{path}: cannot write: {exc.strerror}") from None
    print(f"exported {len(feeds)} feed(s) to {path}")
    return 0


async def cmd_import(args: argparse.Namespace, config: Config) -> int:
    """Create or update feeds (matched by name, or by channel and query), in one transaction."""
    name = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PaperfeedError(f"{name}: cannot read: {reason}") from None
    specs = parse_feeds_toml(text, name)
    async with open_command_store(config) as store:
        result = await FeedService(store, utcnow, semantic=semantic_of(store, config)).import_specs(
            specs, guild_id=args.guild, backfill=not args.no_backfill
        )
    outcome = {"created": result.created, "updated": result.updated,
               "unchanged": result.unchanged}  # fmt: skip
    skipped, queued = result.skipped, result.queued
    if args.json:
        emit({"file": name, **outcome, "skipped": skipped, "queued": queued})
        return 0
    for verb in ("created", "updated"):
        for feed_name in outcome[verb]:
            print(f'{verb} "{feed_name}"')
    for item in skipped:
        print(f'skipped "{item["name"]}": {item["reason"]}')
    counts = " ".join(f"{k}={len(v)}" for k, v in outcome.items())
    print(f"imported {len(specs)} feed(s) from {name}: {counts} skipped={len(skipped)}")
    return 0
