"""The messages of a personal-follows DM: one embed per paper, as few messages as Discord allows.

A message takes at most 10 embeds and 6,000 embed characters in all; each paper's embed is
fitted first (so one embed alone always fits), then papers are packed in order. The heading
opens the first message; the count of papers that did not make it closes the last.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.discord.embeds import credited_source, paper_embed
from bot.discord.limits import (
    EMBED_TOTAL_MAX,
    EMBEDS_MAX,
    Json,
    clean,
    embed_length,
    fit_message,
    no_mentions,
)
from bot.models import Paper

_CACHE_MAX = 4096
# paper id -> (the paper it was built from, its embed, the embed's length). A day's DMs to many
# members share papers (the store hands out one object per paper), so each is built once; a
# changed paper is a new object and is built again.
_cache: dict[str, tuple[Paper, Json, int]] = {}


def _embed(paper: Paper) -> tuple[Json, int]:
    """One paper's embed, fitted, and its length towards the 6,000."""
    hit = _cache.get(paper.id)
    if hit is not None and (hit[0] is paper or hit[0] == paper):
        return hit[1], hit[2]
    fitted: Json = fit_message({"embeds": [paper_embed(paper, source=credited_source(paper))]})
    embed: Json = fitted["embeds"][0]
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[paper.id] = (paper, embed, embed_length(embed))
    return embed, _cache[paper.id][2]


def dm_messages(papers: Sequence[Paper], more: int, heading: str) -> list[Json]:
    """The DM's bodies, in order; every paper is in exactly one of them, as one embed.

    Bodies of different DMs may share embed objects: send them as they are, never edit them.
    """
    groups: list[list[Json]] = []
    size = 0
    for paper in papers:
        embed, length = _embed(paper)
        if not groups or len(groups[-1]) >= EMBEDS_MAX or size + length > EMBED_TOTAL_MAX:
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += length
    bodies: list[Json] = [{"embeds": g, "allowed_mentions": no_mentions()} for g in groups]
    if not bodies:
        return []
    bodies[0]["content"] = f"**{clean(heading)}**"
    if more > 0:
        tail = f"…and {more:,} more matched (try `/search`)."
        last = bodies[-1]
        last["content"] = f"{last['content']}\n{tail}" if "content" in last else tail
    return bodies
