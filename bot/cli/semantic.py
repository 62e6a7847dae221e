"""Commands of the semantic extra: `embed` (vectors for stored papers) and `related`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.app import open_command_store
from bot.cli.common import duration_arg, emit, paper_summary, positive_int
from bot.clock import utcnow
from bot.config import Config
from bot.errors import PaperfeedError, UsageError
from bot.models import parse_paper_id
from bot.semantic.availability import require_semantic
from bot.store.interfaces import Database

if TYPE_CHECKING:
    from bot.services.semantic import Semantic


def semantic_of(store: Database, config: Config) -> Semantic | None:
    """The semantic service with the configured thresholds, when the extra is installed."""
    from bot.services.semantic import open_semantic

    return open_semantic(
        store,
        about_threshold=config.semantic.about_threshold,
        like_threshold=config.semantic.like_threshold,
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "embed", help="embed stored papers that have no vector yet (semantic extra; resumable)"
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--since", type=duration_arg, help='only papers from this recent period, e.g. "30d"'
    )
    when.add_argument("--all", action="store_true", help="every stored paper (the default)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_embed)

    p = sub.add_parser("related", help="the stored papers most similar to one (semantic extra)")
    p.add_argument("id", help="an arXiv id or an arXiv / Hugging Face paper URL")
    p.add_argument("--limit", type=positive_int, default=10, help="results to show (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=cmd_related)


async def cmd_embed(args: argparse.Namespace, config: Config) -> int:
    require_semantic()  # before anything is opened: one line and exit 2 without the extra
    from bot.progress import Progress
    from bot.services.semantic import Semantic

    since = utcnow() - args.since if args.since else None
    async with open_command_store(config) as store:
        semantic = Semantic(store)
        model = await semantic.model_id()
        progress: Progress | None = None

        def on_batch(done: int, total: int) -> None:
            nonlocal progress
            if progress is None:
                progress = Progress(
                    sys.stderr, total, verb="embedded", size=lambda n: f"{n:,.0f} papers"
                )
            progress.update(done, done)

        try:
            embedded = await semantic.embed_stored(since=since, progress=on_batch)
        finally:
            if progress is not None:
                progress.finish()
        stored = await store.vectors.count(model)
    if args.json:
        emit({"model": model, "embedded": embedded, "vectors": stored})
    else:
        print(f"embedded {embedded} papers with {model}; {stored} papers have a vector")
    return 0


async def cmd_related(args: argparse.Namespace, config: Config) -> int:
    require_semantic()
    from bot.services.semantic import Semantic

    paper_id = parse_paper_id(args.id).id
    async with open_command_store(config, create=False) as store:
        paper = await store.papers.get(paper_id)
        if paper is None:
            raise UsageError(f"{paper_id}: not in the database (fetch it with `paperfeed show`)")
        semantic = Semantic(store)
        if not await store.vectors.count(await semantic.model_id()):
            raise PaperfeedError("no paper has a vector yet: run `paperfeed embed` first")
        related = await semantic.related(paper_id, args.limit)
    if args.json:
        emit(
            {
                "id": paper_id,
                "title": paper.title,
                "results": [
                    {**paper_summary(r.paper), "similarity": round(r.similarity, 4)}
                    for r in related
                ],
            }
        )
        return 0
    print(f"papers most similar to {paper_id} ({paper.title}):")
    if not related:
        print("  none yet: other papers need vectors (`paperfeed embed`)")
    for n, r in enumerate(related, 1):
        print(f"{n:>3}. {r.similarity:.2f}  {r.paper.title}  {r.paper.url}")
    return 0
