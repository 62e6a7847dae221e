"""The JSON bodies the bot sends to Discord for one paper: its embed, a feed's post with link
buttons, forum posts, and alerts.

Pure functions over `bot.models` data: no I/O and no discord.py objects, so every body can be
inspected (`paperfeed show ID --payload`), validated against Discord's OpenAPI spec in tests,
and sent as-is. Discord's limits and the text hygiene (cleaning, markdown escaping, inert
mentions, fitting a body to every limit) live in `bot.discord.limits`; the list-style bodies
(digests, search results) in `bot.discord.listings`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC
from typing import Any

from bot.discord.limits import (
    AUTHOR_MAX,
    BUTTON_LABEL_MAX,
    BUTTON_URL_MAX,
    CONTENT_MAX,
    FOOTER_MAX,
    ROW_BUTTONS_MAX,
    SEP,
    SUMMARY_MAX,
    THREAD_NAME_MAX,
    TITLE_MAX,
    Json,
    clean,
    cut,
    escape_markdown,
    fit_message,
    http_url,
    inert,
    link_target,
    md,
    no_mentions,
    plain,
    raw_for,
    summary_text,
)
from bot.models import Paper
from bot.sources.names import ARXIV, HUGGINGFACE, SNAPSHOT
from bot.sources.registry import SOURCES

# ---- our own choices ----------------------------------------------------------------------------

COMMENT_MAX = 300  # characters of arXiv's comment line ("12 pages, 5 figures")
AUTHORS_SHOWN = 3

COLOUR_HUGGINGFACE = 0xFFD21E
COLOUR_ARXIV = 0xB31B1B

SOURCE_LABELS = {kind.name: kind.label for kind in SOURCES} | {SNAPSHOT: "arXiv snapshot"}
LINK_LABELS = {
    ARXIV: "arXiv",
    "pdf": "PDF",
    HUGGINGFACE: "Hugging Face",
    "code": "Code",
    "project": "Project",
}
# Link buttons under a feed's post, in this order (at most one action row of five).
BUTTON_LABELS = {
    ARXIV: "Abstract",
    "pdf": "PDF",
    HUGGINGFACE: "Hugging Face",
    "code": "Code",
    "project": "Project",
}
FEED_PLACEHOLDER = "<feed>"  # the feed name `paperfeed show --payload` shows without --feed


# ---- papers -------------------------------------------------------------------------------------


def _source_label(source: str | None) -> str | None:
    """How a source is named to readers: its label, not its stored name."""
    if not source:
        return None
    return SOURCE_LABELS.get(source) or plain(source, 40) or None


def _colour(paper: Paper, source: str | None) -> int:
    """Hugging Face yellow for papers that came (or also came) through HF, arXiv red otherwise."""
    if source == HUGGINGFACE or (source is None and HUGGINGFACE in paper.sources):
        return COLOUR_HUGGINGFACE
    return COLOUR_ARXIV


def _timestamp(paper: Paper) -> str | None:
    """ISO 8601 of when the paper appeared; naive times are UTC, as everywhere in paperfeed."""
    when = paper.published or paper.hf_submitted_at
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat()


def short_authors(authors: Sequence[str], *, shown: int = AUTHORS_SHOWN, each: int = 60) -> str:
    """`A, B, C et al.`: the first few cleaned names, each cut to a sane length (plain text)."""
    names: list[str] = []
    for author in authors:
        if name := clean(author, raw=raw_for(each)):
            names.append(name)
            if len(names) > shown:
                break
    if not names:
        return ""
    text = ", ".join(cut(n, each) for n in names[:shown])
    return text + (" et al." if len(names) > shown else "")


def summary(paper: Paper, limit: int = SUMMARY_MAX) -> tuple[str, bool]:
    """The text to show under the title (plain), and whether it is Hugging Face's AI summary."""
    ai = clean(paper.ai_summary, raw=raw_for(2 * limit))
    if ai:
        return summary_text(ai, limit), True
    return summary_text(clean(paper.abstract, raw=raw_for(2 * limit)), limit), False


def links_line(paper: Paper, limit: int = 1000, *, skip: Collection[str] = ()) -> str:
    """`[arXiv](…) · [PDF](…) · …` for the links that exist, in `Paper.links()` order, within `limit`.

    Links named in `skip` (those already shown as buttons) are left out.
    """
    parts: list[str] = []
    used = 0
    for key, url in paper.links().items():
        if key in skip:
            continue
        target = link_target(url)
        if target is None:
            continue
        part = f"[{LINK_LABELS.get(key, key)}]({target})"
        extra = len(part) + (len(SEP) if parts else 0)
        if used + extra > limit:
            continue
        parts.append(part)
        used += extra
    return SEP.join(parts)


def _fields(paper: Paper) -> list[Json]:
    """Inline fields for the numbers we know (None means unknown and is not shown) and categories."""
    fields: list[Json] = []
    for name, value in (
        ("Upvotes", paper.upvotes),
        ("Comments", paper.num_comments),
        ("Stars", paper.github_stars),
    ):
        if value is not None:
            fields.append({"name": name, "value": f"{value:,}", "inline": True})
    cats = [c for c in (md(c, 40) for c in paper.categories) if c]
    if cats:
        listed = _join_within([f"**{cats[0]}**", *cats[1:]], 300)
        name = "Categories" if len(cats) > 1 else "Category"
        fields.append({"name": name, "value": listed, "inline": True})
    return fields


def _join_within(items: Sequence[str], limit: int) -> str:
    """Join with ` · ` up to `limit` characters, ending in `+N more` when some did not fit."""
    shown: list[str] = []
    for i, item in enumerate(items):
        rest = len(items) - i - 1
        tail = len(f"{SEP}+{len(items)} more")
        if len(SEP.join([*shown, item])) + (tail if rest else 0) > limit:
            break
        shown.append(item)
    more = len(items) - len(shown)
    text = SEP.join(shown)
    if more:
        text = f"{text}{SEP}+{more} more" if shown else f"{more} categories"
    return text


def _footer(paper: Paper, feed_name: str | None, source: str | None) -> str:
    """`feed · via Source · arXiv:id`: why this paper is here, and the id `/paper` accepts."""
    parts = [plain(feed_name, 100), f"via {label}" if (label := _source_label(source)) else ""]
    ident = plain(f"{paper.id}{paper.version_label or ''}", 60)
    parts.append(f"arXiv:{ident}" if ident else "")
    return SEP.join(p for p in parts if p)


def credited_source(paper: Paper) -> str:
    """The source a feed's post credits: Hugging Face when it listed the paper, else arXiv.

    One rule for the runner and `paperfeed show --payload`, so the CLI prints what feeds post.
    """
    return HUGGINGFACE if HUGGINGFACE in paper.sources else ARXIV


def comment_line(paper: Paper) -> str:
    """arXiv's own comment ("12 pages, 5 figures"), escaped and cut, as an italic line; "" if none."""
    text = md(paper.comments, COMMENT_MAX)
    return f"*{text}*" if text else ""


def _button_url(url: str | None) -> str | None:
    """A URL a link button accepts: http(s), valid for Discord, at most 512 characters."""
    good = http_url(url)
    return good if good is not None and len(good) <= BUTTON_URL_MAX else None


def link_buttons(paper: Paper) -> list[Json]:
    """One action row of link buttons (Abstract, PDF, Hugging Face, Code, Project) for the links
    that exist and fit a button; an empty list when none does."""
    buttons: list[Json] = []
    for key, url in paper.links().items():
        label = BUTTON_LABELS.get(key)
        target = _button_url(url)
        if label is None or target is None:
            continue
        buttons.append({"type": 2, "style": 5, "label": label[:BUTTON_LABEL_MAX], "url": target})
        if len(buttons) == ROW_BUTTONS_MAX:
            break
    return [{"type": 1, "components": buttons}] if buttons else []


def _button_keys(components: Sequence[Json], paper: Paper) -> set[str]:
    """Which of the paper's links the buttons already carry (so the text need not repeat them)."""
    urls = {b.get("url") for row in components for b in row.get("components", [])}
    return {key for key, url in paper.links().items() if _button_url(url) in urls}


def paper_embed(
    paper: Paper,
    *,
    feed_name: str | None = None,
    source: str | None = None,
    skip_links: Collection[str] = (),
) -> Json:
    """One paper as a rich embed: linked title, summary, arXiv's comment, links, authors,
    numbers, source footer. Links in `skip_links` are shown elsewhere (buttons) and left out."""
    text, is_ai = summary(paper)
    body = inert(escape_markdown(text))
    if is_ai and body:
        body = "*AI summary:* " + body
    parts = (cut(body, 2000), comment_line(paper), links_line(paper, skip=skip_links))
    description = "\n\n".join(p for p in parts if p)
    embed: Json = {
        "title": md(paper.title, TITLE_MAX) or md(paper.id, TITLE_MAX) or "Untitled paper"
    }
    if url := http_url(paper.url):
        embed["url"] = url
    if description:
        embed["description"] = description
    embed["color"] = _colour(paper, source)
    if authors := plain(short_authors(paper.authors), AUTHOR_MAX):
        embed["author"] = {"name": authors}
    if fields := _fields(paper):
        embed["fields"] = fields
    if thumb := http_url(paper.thumbnail):
        embed["thumbnail"] = {"url": thumb}
    if footer := _footer(paper, feed_name, source):
        embed["footer"] = {"text": cut(footer, FOOTER_MAX)}
    if stamp := _timestamp(paper):
        embed["timestamp"] = stamp
    return embed


def paper_message(
    paper: Paper,
    *,
    feed_name: str | None = None,
    source: str | None = None,
    buttons: bool = False,
) -> Json:
    """The exact body to POST to `/channels/{id}/messages` for one paper (the caller adds a nonce).

    With `buttons`, the links become a row of link buttons (message components) and leave the
    description; without, they stay a markdown line (for replies sent through discord.py, which
    carries components as views, not raw rows).
    """
    components = link_buttons(paper) if buttons else []
    skip = _button_keys(components, paper)
    embed = paper_embed(paper, feed_name=feed_name, source=source, skip_links=skip)
    body: Json = {"embeds": [embed], "allowed_mentions": no_mentions()}
    if components:
        body["components"] = components
    return fit_message(body)


def feed_message(paper: Paper, feed_name: str) -> Json:
    """Exactly what a feed posts for a paper: the feed's name and the credited source in the
    footer, and the links as buttons. Channel messages and forum starter messages both take
    components, so every channel a feed can post to shows them."""
    return paper_message(paper, feed_name=feed_name, source=credited_source(paper), buttons=True)


# ---- forum posts and alerts ---------------------------------------------------------------------


def thread_name(text: str | None, *, fallback: str = "New paper") -> str:
    """A forum post / thread name: one clean line of 1-100 characters (Discord shows no markdown there)."""
    for candidate in (text, fallback):
        if name := cut(inert(clean(candidate)), THREAD_NAME_MAX):
            return name
    return "paperfeed"


def forum_post(message: Mapping[str, Any], *, name: str) -> Json:
    """The body for `POST /channels/{forum_id}/threads`: a named post whose starter is `message`."""
    starter = {k: v for k, v in message.items() if k not in ("nonce", "enforce_nonce")}
    starter["allowed_mentions"] = no_mentions()
    return {"name": thread_name(name), "message": fit_message(starter)}


def paper_forum_post(
    paper: Paper, *, feed_name: str | None = None, source: str | None = None, buttons: bool = False
) -> Json:
    """One paper as a forum post named after its title (its starter message may carry buttons)."""
    message = paper_message(paper, feed_name=feed_name, source=source, buttons=buttons)
    return forum_post(message, name=clean(paper.title) or paper.id)


def alert_message(text: str) -> Json:
    """A notice for the alerts channel: plain content that pings nobody and previews no links."""
    content = (
        cut(inert(clean(text, multiline=True, raw=raw_for(CONTENT_MAX))), CONTENT_MAX)
        or "paperfeed: (empty alert)"
    )
    return {"content": content, "allowed_mentions": no_mentions(), "flags": 1 << 2}
