"""Commands about papers: search, show, import."""

from __future__ import annotations

import argparse
import lzma
import sys
from typing import Any, BinaryIO, TextIO

from bot.app import open_command_store
from bot.cli.common import (
    duration_arg,
    emit,
    paper_document,
    paper_summary,
    positive_int,
)
from bot.cli.semantic import semantic_of
from bot.clock import utcnow
from bot.config import Config, format_duration
from bot.errors import PaperfeedError, SearchIndexBuilding, UsageError
from bot.models import SearchHit, SearchPage, parse_paper_id
from bot.query.compile import compile_query
from bot.semantic.availability import require_semantic
from bot.services.library import Library
from bot.store.interfaces import Database


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="search the local database")
    p.add_argument(
        "query",
        nargs="+",
        help="a query, e.g. 'causal (inference OR discovery) -survey'; it may start with '-'",
    )
    p.add_argument("--limit", type=positive_int, default=10, help="results to show (default 10)")
    p.add_argument(
        "--since", type=duration_arg, help='only papers from this recent period, e.g. "7d"'
    )
    p.add_argument("--sort", choices=["relevance", "recent", "upvotes"], default="relevance")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("show", help="show one paper from the local database")
    p.add_argument("id", help="an arXiv id or an arXiv / Hugging Face paper URL")
    p.add_argument(
        "--payload",
        action="store_true",
        help="print the exact JSON body a feed would post to Discord for it",
    )
    p.add_argument(
        "--feed",
        metavar="NAME",
        help="the feed name its footer shows with --payload (default: a placeholder)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("import", help="load papers from an arXiv metadata snapshot (JSON lines)")
    p.add_argument("file", nargs="?", help='a .json / .jsonl file, or "-" for standard input')
    p.add_argument(
        "--sample",
        action="store_true",
        help="load the small sample of real papers shipped with paperfeed",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_import)


async def cmd_search(args: argparse.Namespace, config: Config) -> int:
    query = " ".join(args.query)  # unquoted words are one query: `search causal -survey`
    compiled = compile_query(query)
    since = utcnow() - args.since if args.since else None
    outside = stored = None
    if compiled.is_semantic:
        require_semantic()  # like: / about: without the extra: one line, exit 2
    async with open_command_store(config) as store:
        library = Library(store, utcnow, semantic=semantic_of(store, config))
        try:
            page = await library.search(compiled, per_page=args.limit, since=since, sort=args.sort)
        except SearchIndexBuilding:
            if not await _index_built(store):
                raise
            page = await library.search(compiled, per_page=args.limit, since=since, sort=args.sort)
        if not page.hits and not args.json:
            # Say why nothing matched: an empty database, or a window that is too narrow.
            stored = await store.papers.count()
            if stored and since is not None:
                outside = (await library.search(compiled, per_page=1)).total
    if args.json:
        emit(
            {
                "query": query,
                "total": page.total,
                "results": [_hit_summary(h) for h in page.hits],
            }
        )
        return 0
    if stored == 0:
        print(
            "the database is empty: load papers with `paperfeed import FILE` (arXiv's metadata "
            "snapshot) or fetch the latest with `paperfeed poll`"
        )
        return 0
    if outside:
        window = format_duration(args.since)
        older = f"{outside} older paper{'s' if outside != 1 else ''}"
        print(
            f"no papers from the last {window} match {query!r} "
            f"({older} {'do' if outside != 1 else 'does'}: widen or drop --since)"
        )
        return 0
    print_search(query, page)
    return 0


async def _index_built(store: Database) -> bool:
    """Wait for the search index's build (a command has nothing else to do); whether it is
    ready now."""
    print(
        "paperfeed: the search index is being built from the database (a minute or two a "
        "million papers); the search runs when it is done",
        file=sys.stderr,
        flush=True,
    )
    return await store.papers.search_index_built()


def _hit_summary(hit: SearchHit) -> dict[str, Any]:
    out = paper_summary(hit.paper, hit.score)
    if hit.similarity is not None:
        out["similarity"] = round(hit.similarity, 4)
    return out


def print_search(query: str, page: SearchPage) -> None:
    if not page.hits:
        print(f"no papers match {query!r}")
        return
    more = "" if page.total_exact else "more than "  # words count up to a cap (README, Limits)
    print(f"{more}{page.total} paper{'s' if page.total != 1 else ''} match {query!r}:")
    for n, hit in enumerate(page.hits, 1):
        p = hit.paper
        authors = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        year = p.published.year if p.published else "?"
        votes = f", {p.upvotes} upvotes" if p.upvotes is not None else ""
        similar = f", similarity {hit.similarity:.2f}" if hit.similarity is not None else ""
        print(f"{n:>3}. {p.title}")
        print(f"     {authors} ({year}{votes}{similar})  {p.url}")


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    ref = parse_paper_id(args.id)
    async with open_command_store(config) as store:
        paper = await store.papers.get(ref.id)
    if paper is None:
        raise PaperfeedError(
            f"{ref.id}: not in the local database (run `paperfeed poll` or `paperfeed import`)"
        )
    if args.payload:
        # The body a feed posts (footer: feed name and source; link buttons). The publisher
        # adds only the per-(feed, paper) nonce when it sends it.
        from bot.discord.embeds import FEED_PLACEHOLDER, feed_message

        emit(feed_message(paper, args.feed or FEED_PLACEHOLDER))
        return 0
    if args.json:
        emit(paper_document(paper))
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


async def cmd_import(args: argparse.Namespace, config: Config) -> int:
    from bot.progress import Progress, bytes_read, file_size
    from bot.services.importer import ImportReport, import_lines
    from bot.sources.snapshot import (
        FirstLine,
        SnapshotFormatError,
        describe_unreadable,
        open_snapshot,
    )

    if args.sample == (args.file is not None):
        raise UsageError("give a FILE to import, or --sample (not both)")
    if args.sample:
        from bot.data import sample_path

        args.file = str(sample_path())
    raw: BinaryIO | None = None
    if args.file == "-":
        stream: TextIO = sys.stdin
    else:
        try:
            stream, raw = open_snapshot(args.file)
        except OSError as exc:
            raise PaperfeedError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
        except SnapshotFormatError as exc:
            raise PaperfeedError(f"{args.file}: {exc}") from None
    progress = Progress(sys.stderr, file_size(stream))
    lines = FirstLine(stream)

    def position() -> int | None:
        # The raw file's offset, so progress is right for a compressed file too.
        return raw.tell() if raw is not None else bytes_read(stream)

    def on_batch(done: ImportReport) -> None:
        progress.update(done.loaded, position())

    try:
        async with open_command_store(config, bulk=True) as store:
            report = await import_lines(store, lines, progress=on_batch)
    except (OSError, EOFError, lzma.LZMAError) as exc:  # a truncated or corrupt .gz/.bz2/.xz
        raise PaperfeedError(f"{args.file}: cannot read: {exc}") from None
    finally:
        if stream is not sys.stdin:
            stream.close()
        if raw is not None:
            raw.close()
    progress.finish()
    if report.bad and not report.loaded:  # nothing at all could be read: the wrong kind of file
        first = report.problems[0] if report.problems else None
        raise PaperfeedError(f"{args.file}: {describe_unreadable(lines.text, first)}")
    for problem in report.problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if report.bad > len(report.problems):
        print(f"{args.file}: ... and {report.bad - len(report.problems)} more bad lines", file=sys.stderr)  # fmt: skip
    if args.json:
        emit({"lines": report.lines, "new": report.new, "updated": report.updated,
               "unchanged": report.unchanged, "bad": report.bad})  # fmt: skip
    else:
        print(
            f"imported {report.loaded} papers from {report.lines} lines: new={report.new} "
            f"updated={report.updated} unchanged={report.unchanged} bad={report.bad}"
        )
    return 0
