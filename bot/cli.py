"""The command line: parse arguments, open what a command needs, call the services, print."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot import __version__
from bot.config import Config, describe, load_config, parse_duration
from bot.errors import PaperfeedError
from bot.logs import setup_logging
from bot.models import Paper, SearchPage, parse_paper_id
from bot.query import compile_query
from bot.store import open_store
from bot.store.store import utcnow

Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperfeed",
        description="Research papers from arXiv and Hugging Face Papers, delivered to Discord.",
    )
    parser.add_argument("--version", action="version", version=f"paperfeed {__version__}")
    parser.add_argument("--config", metavar="PATH", help="configuration file (default: $PAPERFEED_CONFIG or ./config.toml)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("run", help="run the bot: polling, delivery, slash commands")
    p = sub.add_parser("check-config", help="validate the configuration and print what it means")
    p.add_argument("--json", action="store_true", help="print one JSON document")

    p = sub.add_parser("poll", help="one poll cycle without Discord: fetch, store, match, queue")
    p.add_argument("--source", action="append", choices=["huggingface", "arxiv"], help="only this source (repeatable)")  # fmt: skip
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("search", help="search the local database")
    p.add_argument("query", help="a query, e.g. 'causal (inference OR discovery) -survey'")
    p.add_argument("--limit", type=_positive_int, default=10, help="results to show (default 10)")
    p.add_argument(
        "--since", type=_duration_arg, help='only papers from this recent period, e.g. "7d"'
    )
    p.add_argument("--sort", choices=["relevance", "recent", "upvotes"], default="relevance")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", help="show one paper from the local database")
    p.add_argument("id", help="an arXiv id or an arXiv / Hugging Face paper URL")
    p.add_argument("--payload", action="store_true", help="print the exact JSON body the bot would post to Discord")  # fmt: skip
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("feeds", help="manage feeds from the shell")
    fsub = p.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    q = fsub.add_parser("list", help="list feeds")
    q.add_argument("--json", action="store_true")
    for action in ("remove", "pause", "resume"):
        q = fsub.add_parser(action, help=f"{action} a feed")
        q.add_argument("feed", help="feed id or name")
    q = fsub.add_parser("add", help="add a feed")
    q.add_argument("name")
    q.add_argument("--channel", type=int, required=True, help="Discord channel id")
    q.add_argument("--guild", type=int, help="Discord guild id (learned from Discord when omitted)")
    q.add_argument("--query", required=True)
    q = fsub.add_parser("export", help="write feeds as TOML [[feeds]] tables")
    q.add_argument("file", nargs="?")
    q = fsub.add_parser("import", help="read feeds from TOML [[feeds]] tables")
    q.add_argument("file")

    p = sub.add_parser("sync-commands", help="register the slash commands with Discord")
    p.add_argument("--guild", type=int, help="only in this guild (instant)")

    p = sub.add_parser("db", help="database maintenance")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dsub.add_parser("backup", help="write a consistent copy of the live database")
    q.add_argument("path")

    p = sub.add_parser("import", help="load papers from an arXiv metadata snapshot (JSON lines)")
    p.add_argument("file", help='a .json / .jsonl file, or "-" for standard input')
    p.add_argument("--json", action="store_true")

    sub.add_parser("invite-url", help="print the URL that adds the bot to a server")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("expected a number from 1 to 1000")
    return value


def _duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a duration like "7d", got "{text}"') from None


def _emit(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def paper_summary(paper: Paper, score: float | None = None) -> dict[str, Any]:
    """The compact form used by `search --json`."""
    out: dict[str, Any] = {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "published": _iso(paper.published),
        "upvotes": paper.upvotes,
        "url": paper.url,
    }
    if score is not None:
        out["score"] = round(score, 4)
    return out


def paper_document(paper: Paper) -> dict[str, Any]:
    """The full paper object printed by `show --json`."""
    return {
        "id": paper.id,
        "version": paper.version_label,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published": _iso(paper.published),
        "updated": _iso(paper.updated),
        "links": paper.links(),
        "upvotes": paper.upvotes,
        "comments": paper.num_comments,
        "stars": paper.github_stars,
        "sources": sorted(paper.sources),
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "arxiv_comments": paper.comments,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "thumbnail": paper.thumbnail,
        "organization": paper.organization,
        "first_seen": _iso(paper.first_seen),
    }


async def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    data = describe(config)
    if args.json:
        _emit(data)
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


async def cmd_search(args: argparse.Namespace, config: Config) -> int:
    compiled = compile_query(args.query)
    since = utcnow() - args.since if args.since else None
    async with open_store(config.database.path) as store:
        page = await store.search(compiled, limit=args.limit, since=since, sort=args.sort)
    if args.json:
        _emit(
            {
                "query": args.query,
                "total": page.total,
                "results": [paper_summary(h.paper, h.score) for h in page.hits],
            }
        )
        return 0
    _print_search(args.query, page)
    return 0


def _print_search(query: str, page: SearchPage) -> None:
    if not page.hits:
        print(f"no papers match {query!r}")
        return
    print(f"{page.total} paper{'s' if page.total != 1 else ''} match {query!r}:")
    for n, hit in enumerate(page.hits, 1):
        p = hit.paper
        authors = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        year = p.published.year if p.published else "?"
        votes = f", {p.upvotes} upvotes" if p.upvotes is not None else ""
        print(f"{n:>3}. {p.title}")
        print(f"     {authors} ({year}{votes})  {p.url}")


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    ref = parse_paper_id(args.id)
    if args.payload:
        raise PaperfeedError("`show --payload` is not available in this version yet")
    async with open_store(config.database.path) as store:
        paper = await store.get_paper(ref.id)
    if paper is None:
        raise PaperfeedError(
            f"{ref.id}: not in the local database (run `paperfeed poll` or `paperfeed import`)"
        )
    if args.json:
        _emit(paper_document(paper))
        return 0
    print(f"{paper.title}  [{paper.id}{paper.version_label or ''}]")
    if paper.authors:
        print("by " + ", ".join(paper.authors))
    facts = [f"categories: {' '.join(paper.categories)}"] if paper.categories else []
    if paper.published:
        facts.append(f"published {paper.published:%Y-%m-%d}")
    if paper.upvotes is not None:
        facts.append(f"{paper.upvotes} upvotes")
    if paper.github_stars is not None:
        facts.append(f"{paper.github_stars} stars")
    if facts:
        print(" · ".join(facts))
    print()
    print(paper.ai_summary or paper.abstract)
    print()
    for name, url in paper.links().items():
        print(f"{name}: {url}")
    return 0


async def cmd_db(args: argparse.Namespace, config: Config) -> int:
    async with open_store(config.database.path, create=False) as store:
        dest = await store.backup(args.path)
        papers = await store.count_papers()
    print(f"backed up {papers} papers to {dest}")
    return 0


async def cmd_import(args: argparse.Namespace, config: Config) -> int:
    from bot.services.importer import import_lines

    if args.file == "-":
        stream = sys.stdin
    else:
        try:
            stream = open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise PaperfeedError(f"{args.file}: cannot read: {exc.strerror}") from None
    try:
        async with open_store(config.database.path) as store:
            report = await import_lines(store, stream)
    finally:
        if stream is not sys.stdin:
            stream.close()
    for problem in report.problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if report.bad > len(report.problems):
        print(f"{args.file}: ... and {report.bad - len(report.problems)} more bad lines", file=sys.stderr)  # fmt: skip
    if args.json:
        _emit({"lines": report.lines, "new": report.new, "updated": report.updated,
               "unchanged": report.unchanged, "bad": report.bad})  # fmt: skip
    else:
        print(
            f"imported {report.loaded} papers from {report.lines} lines: new={report.new} "
            f"updated={report.updated} unchanged={report.unchanged} bad={report.bad}"
        )
    return 0


async def cmd_not_yet(args: argparse.Namespace, config: Config) -> int:
    raise PaperfeedError(f"`paperfeed {args.command}` is not available in this version yet")


HANDLERS: dict[str, Handler] = {
    "check-config": cmd_check_config,
    "search": cmd_search,
    "show": cmd_show,
    "db": cmd_db,
    "import": cmd_import,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; expected failures print one line and set the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, os.environ)
        setup_logging(config.logging)
        handler = HANDLERS.get(args.command, cmd_not_yet)
        return asyncio.run(handler(args, config))
    except PaperfeedError as exc:
        print(f"paperfeed: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("paperfeed: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
