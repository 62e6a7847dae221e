"""The list-style bodies: a daily digest's numbered list of papers and a page of search results.

Pure functions over `bot.models` data, like `bot.discord.embeds`: no I/O and no discord.py
objects. Every entry is fitted into the room its list has (Discord's limits are in
`bot.discord.limits`), so a list never loses its numbering, years or upvotes to truncation.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.discord.embeds import forum_post, short_authors
from bot.discord.limits import (
    DESCRIPTION_MAX,
    SEP,
    TITLE_MAX,
    Json,
    clean,
    cut,
    escape_markdown,
    fit_message,
    inert,
    link_target,
    md,
    no_mentions,
    plain,
)
from bot.models import Paper, SearchHit

DIGEST_MAX = 25  # papers listed in one digest message

COLOUR_DIGEST = 0x5865F2
COLOUR_SEARCH = 0x4F545C


def _entry(number: int, paper: Paper, allowance: int, *, year: bool = False) -> str:
    """`**n.** [Title](url)` over a line of authors (and year) and upvotes, within `allowance`."""
    prefix = f"**{number}.** "
    authors = inert(escape_markdown(short_authors(paper.authors, each=40)))
    tail_parts = []
    if year and paper.published:
        tail_parts.append(str(paper.published.year))
    if paper.upvotes is not None:
        tail_parts.append(f"▲ {paper.upvotes:,}")
    tail = SEP.join(tail_parts)
    title = _label(clean(paper.title, raw=2_000) or clean(paper.id, raw=2_000) or "Untitled paper")
    target = link_target(paper.url)
    # The meta line is whole when everything fits; otherwise it gets a third of the room and
    # only the authors shrink, so the year and the upvotes always survive.
    whole = SEP.join(p for p in (authors, tail) if p)
    needed = len(prefix) + len(title) + len(f"[]({target})" if target else "") + 1 + len(whole)
    cap = len(whole) if needed <= allowance else max(16, allowance // 3)
    if len(whole) > cap and authors:
        room_for_authors = max(1, cap - len(tail) - (len(SEP) if tail else 0))
        authors = cut(authors, room_for_authors)
    meta = SEP.join(p for p in (authors, tail) if p)
    for link in (target, None):
        fixed = len(prefix) + (len(f"[]({link})") if link else 0) + (len(meta) + 1 if meta else 0)
        room = allowance - fixed
        if room < 12 and link:
            continue
        shown = cut(title, max(room, 1))
        line = f"{prefix}[{shown}]({link})" if link else f"{prefix}{shown}"
        text = f"{line}\n{meta}" if meta else line
        if len(text) <= allowance:
            return text
    return cut(f"{prefix}{title}", allowance)


def _label(text: str) -> str:
    """Text for inside `[label](url)`: escaped, and with brackets balanced so the link still parses."""
    depth = 0
    for ch in text if "[" in text or "]" in text else "":
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        text = text.replace("[", "(").replace("]", ")")
    return inert(escape_markdown(text))


def _numbered_list(
    papers: Sequence[Paper], budget: int, *, start: int = 1, year: bool = False
) -> str:
    """Entries joined by newlines within `budget`, sharing the room fairly (short entries stay whole)."""
    if not papers:
        return ""
    n = len(papers)
    room = budget - (n - 1)  # one newline between entries
    natural = [len(_entry(start + i, p, 600, year=year)) for i, p in enumerate(papers)]
    allowance = list(natural)
    if sum(natural) > room:
        remaining, left = room, n
        for i in sorted(range(n), key=natural.__getitem__):
            allowance[i] = min(natural[i], remaining // left)
            remaining -= allowance[i]
            left -= 1
    entries = [_entry(start + i, p, allowance[i], year=year) for i, p in enumerate(papers)]
    return "\n".join(entries)


def digest_heading(feed_name: str, date_label: str) -> str:
    """A digest's embed title; also how a digest cut short by a crash is found again."""
    return md(f"{clean(feed_name) or 'feed'} digest · {clean(date_label)}", TITLE_MAX)


def digest_message(papers: Sequence[Paper], *, feed_name: str, more: int, date_label: str) -> Json:
    """One message for a daily digest: a numbered list of up to 25 papers and how many more matched."""
    shown = list(papers[:DIGEST_MAX])
    more = max(0, more) + max(0, len(papers) - DIGEST_MAX)
    title = digest_heading(feed_name, date_label)
    tail = ""
    if more:
        tail = f"…and {more:,} more matching paper{'s' if more != 1 else ''} (try `/search`)."
    if not shown:
        listing = "No new papers matched this feed."
    else:
        budget = DESCRIPTION_MAX - (len(tail) + 2 if tail else 0)
        listing = _numbered_list(shown, budget)
    description = "\n\n".join(p for p in (listing, tail) if p)
    total = len(shown) + more
    counts = f"{len(shown)} of {total:,} paper{'s' if total != 1 else ''}"
    footer = SEP.join(p for p in (plain(feed_name, 100), counts) if p)
    embed: Json = {
        "title": title,
        "description": description,
        "color": COLOUR_DIGEST,
        "footer": {"text": footer},
    }
    return fit_message({"embeds": [embed], "allowed_mentions": no_mentions()})


def search_results_embed(
    hits: Sequence[SearchHit | Paper],
    *,
    query: str,
    page: int,
    pages: int,
    total: int,
    per_page: int | None = None,
    total_exact: bool = True,
) -> Json:
    """A compact, numbered page of search results (title linked, authors, year, upvotes)."""
    papers = [h.paper if isinstance(h, SearchHit) else h for h in hits][:DIGEST_MAX]
    start = (max(page, 1) - 1) * per_page + 1 if per_page else 1
    similar = [h.similarity if isinstance(h, SearchHit) else None for h in hits][:DIGEST_MAX]
    if any(s is not None for s in similar):  # like: / about: ranked these: say how close
        listing = _scored_list(list(zip(papers, similar, strict=True)), start=start)
    else:
        listing = _numbered_list(papers, DESCRIPTION_MAX, start=start, year=True)
    embed: Json = {
        "title": cut(f"Search: {md(query, TITLE_MAX) or '(empty query)'}", TITLE_MAX),
        "description": listing or "No papers match this search.",
        "color": COLOUR_SEARCH,
        "footer": {
            "text": f"Page {max(page, 1):,} of {max(pages, 1):,}{'+' if not total_exact else ''}{SEP}"
            f"{'' if total_exact else 'more than '}{total:,} result{'s' if total != 1 else ''}"
        },
    }
    fitted: Json = fit_message({"embeds": [embed]})["embeds"][0]
    return fitted


# ---- forum posts ------------------------------------------------------------------------------


def digest_forum_post(
    papers: Sequence[Paper], *, feed_name: str, more: int, date_label: str
) -> Json:
    """A daily digest as a forum post named after the feed and the day."""
    message = digest_message(papers, feed_name=feed_name, more=more, date_label=date_label)
    return forum_post(message, name=f"{clean(feed_name)} digest · {clean(date_label)}")


# ---- related papers (semantic extra) ----------------------------------------------------------

COLOUR_RELATED = 0x3BA55C


def _scored_list(scored: Sequence[tuple[Paper, float | None]], *, start: int = 1) -> str:
    """Numbered entries, each ending with its similarity, sharing the description's room."""
    if not scored:
        return ""
    each = DESCRIPTION_MAX // len(scored) - 1
    lines = []
    for n, (paper, score) in enumerate(scored, start):
        tag = f"{SEP}similarity {score:.2f}" if score is not None else ""
        lines.append(_entry(n, paper, each - len(tag), year=True) + tag)
    return "\n".join(lines)


def related_embed(paper: Paper, similar: Sequence[tuple[Paper, float]]) -> Json:
    """`/related` and the Related button: the nearest papers in meaning, each with its cosine."""
    scored: list[tuple[Paper, float | None]] = list(similar[:DIGEST_MAX])
    embed: Json = {
        "title": cut(f"Related to: {md(paper.title, TITLE_MAX) or paper.id}", TITLE_MAX),
        "description": _scored_list(scored)
        or "No related papers yet: other papers get vectors as they are polled or embedded "
        "(`paperfeed embed`).",
        "color": COLOUR_RELATED,
        "footer": {"text": f"{paper.id}{SEP}by meaning (cosine similarity of title and abstract)"},
    }
    fitted: Json = fit_message({"embeds": [embed]})["embeds"][0]
    return fitted
