"""The JSON bodies the bot sends to Discord: paper embeds, digests, forum posts, search results, alerts.

Pure functions over `bot.models` data: no I/O and no discord.py objects, so every body can be
inspected (`paperfeed show ID --payload`), validated against Discord's OpenAPI spec in tests,
and sent as-is. Every limit in Discord's docs (reference/upstream.md §3.1-3.2) is enforced here
by truncation, never left to Discord to reject. Text that comes from papers or users is
cleaned (control and bidi-override characters removed), markdown-escaped where Discord renders
markdown, and mentions are made inert; `allowed_mentions` parses nothing on every body as well.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bot.models import Paper, SearchHit

Json = dict[str, Any]

# ---- Discord's limits (reference/upstream.md §3.1, §3.2) --------------------------------------

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
EMBEDS_MAX = 10
CONTENT_MAX = 2000
URL_MAX = 2048
THREAD_NAME_MAX = 100
ROW_BUTTONS_MAX = 5  # components in one action row
BUTTON_LABEL_MAX = 80
BUTTON_URL_MAX = 512  # a link button's url (Discord's spec: ButtonComponentForMessageRequest)

# ---- our own choices ----------------------------------------------------------------------------

SUMMARY_MAX = 600  # characters of abstract or AI summary shown under a paper's title
SUMMARY_MIN = 300  # a sentence boundary earlier than this is too short a summary; cut at a word
COMMENT_MAX = 300  # characters of arXiv's comment line ("12 pages, 5 figures")
AUTHORS_SHOWN = 3
RAW_MAX = 10_000  # characters of any one input text worth cleaning (a message shows ≤ 6,000)
DIGEST_MAX = 25  # papers listed in one digest message

COLOUR_HUGGINGFACE = 0xFFD21E
COLOUR_ARXIV = 0xB31B1B
COLOUR_DIGEST = 0x5865F2
COLOUR_SEARCH = 0x4F545C

SOURCE_LABELS = {"huggingface": "Hugging Face", "arxiv": "arXiv", "import": "arXiv snapshot"}
LINK_LABELS = {
    "arxiv": "arXiv",
    "pdf": "PDF",
    "huggingface": "Hugging Face",
    "code": "Code",
    "project": "Project",
}
# Link buttons under a feed's post, in this order (at most one action row of five).
BUTTON_LABELS = {
    "arxiv": "Abstract",
    "pdf": "PDF",
    "huggingface": "Hugging Face",
    "code": "Code",
    "project": "Project",
}
FEED_PLACEHOLDER = "<feed>"  # the feed name `paperfeed show --payload` shows without --feed
ELLIPSIS = "…"
ZWSP = "\u200b"
SEP = " · "


def no_mentions() -> dict[str, list[str]]:
    """A fresh `allowed_mentions` that parses nothing: no post may ping anyone (CONTRACT.md)."""
    return {"parse": []}


# ---- text hygiene -------------------------------------------------------------------------------

# Invisible format characters that reorder or hide text (bidi embeddings, overrides, isolates and
# marks; zero-width space, word joiner and friends; BOM). ZWJ/ZWNJ stay: emoji and scripts need them.
_DROP = frozenset(
    [
        0x061C,
        0x200B,
        0x200E,
        0x200F,
        0xFEFF,
        0xFFF9,
        0xFFFA,
        0xFFFB,
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x2070),
    ]
)
_MAX_COMBINING = 4  # stacked diacritics beyond this are "zalgo" that spills over other lines
_MARKDOWN = {ord(ch): "\\" + ch for ch in "\\*_~`|>#[]()"}
_LINE_START = re.compile(r"^(\d+)\.(?=\s)|^([-+])(?=\s)")
_EVERYONE = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_ANGLE_MENTION = re.compile(r"<(?=[@#/])")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    {"al", "cf", "eg", "etc", "fig", "figs", "eq", "eqs", "ie", "ref", "refs", "resp", "sec", "vs"}
    | {"approx", "no", "vol", "dr", "prof", "st"}
)


def _deletions() -> dict[int, str | None]:
    """A `str.translate` table: whitespace controls become spaces; other controls, surrogates and _DROP go."""
    table: dict[int, str | None] = dict.fromkeys(_DROP)
    table.update(dict.fromkeys(range(0xD800, 0xE000)))
    for cp in (*range(0x20), *range(0x7F, 0xA0)):
        table[cp] = " " if chr(cp).isspace() else None
    return table


_SINGLE_LINE = _deletions()
_MULTI_LINE = {**_SINGLE_LINE, ord("\n"): "\n", ord("\r"): "\n"}


def clean(text: str | None, *, multiline: bool = False, raw: int = RAW_MAX) -> str:
    """Drop characters that break a layout (controls, bidi overrides, lone surrogates, zalgo).

    Single-line mode (titles, names, summaries) also collapses every run of whitespace, because
    arXiv hard-wraps its titles and abstracts. Only the first `raw` characters are read: no part
    of a message can show more, and a 100k-character abstract must not cost a second.
    """
    if not text:
        return ""
    text = text[:raw]
    if multiline:
        text = text.replace("\r\n", "\n").translate(_MULTI_LINE)
    else:
        text = text.translate(_SINGLE_LINE)
    if not text.isascii():
        text = _limit_marks(text)
    if not multiline:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _limit_marks(text: str) -> str:
    """Keep at most a few combining marks on one character: deeper stacks spill over other lines."""
    out: list[str] = []
    marks = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks > _MAX_COMBINING:
                continue
        else:
            marks = 0
        out.append(ch)
    return "".join(out)


def inert(text: str) -> str:
    """Break every mention (`@everyone`, `@here`, `<@id>`, `<@&id>`, `<#id>`, `</cmd:id>`) with a ZWSP."""
    text = _EVERYONE.sub("@" + ZWSP, text)
    return _ANGLE_MENTION.sub("<" + ZWSP, text)


def escape_markdown(text: str) -> str:
    """Backslash-escape Discord markdown so titles and abstracts render literally (no masked links)."""
    escaped = text.translate(_MARKDOWN)
    return _LINE_START.sub(
        lambda m: f"{m.group(1)}\\." if m.group(1) else f"\\{m.group(2)}", escaped
    )


def plain(text: str | None, limit: int) -> str:
    """Cleaned, mention-free text for places Discord shows without markdown (author, footer)."""
    return cut(inert(clean(text, raw=_raw(limit))), limit)


def _raw(limit: int) -> int:
    """Input worth reading for `limit` characters of output, with room for removed junk."""
    return max(4 * limit, 256)


def md(text: str | None, limit: int) -> str:
    """Cleaned, escaped, mention-free text for places Discord renders markdown."""
    return cut(inert(escape_markdown(clean(text, raw=_raw(limit)))), limit)


def cut(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis, at a word if one is near, never mid-escape."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit * 0.7:
        head = head[:space]
    head = _drop_dangling_escape(head).rstrip()
    return head + ELLIPSIS


def _drop_dangling_escape(text: str) -> str:
    """Remove a trailing backslash whose escaped character was cut away, so it escapes nothing."""
    run = len(text) - len(text.rstrip("\\"))
    return text[:-1] if run % 2 else text


def summary_text(text: str, limit: int = SUMMARY_MAX, floor: int = SUMMARY_MIN) -> str:
    """Cut cleaned prose to a sentence end (else a word) so a summary reads as whole sentences."""
    if len(text) <= limit:
        return text
    best = -1
    for match in _SENTENCE_END.finditer(text, 0, limit - 1):
        end = match.end()
        if end > limit - 2:
            break
        if _is_sentence_end(text, match.start(), end):
            best = end
    if best >= floor:
        return text[:best] + " " + ELLIPSIS
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + ELLIPSIS


def _is_sentence_end(text: str, dot: int, end: int) -> bool:
    """A full stop followed by a capital, digit or opening quote, and not after e.g. or an initial."""
    rest = text[end:].lstrip()
    if not rest or not (rest[0].isupper() or rest[0].isdigit() or rest[0] in '"“‘(['):
        return False
    if text[dot] != ".":
        return True
    word = text[:dot].rsplit(" ", 1)[-1].replace(".", "").lower()
    return len(word) > 1 and word not in _ABBREVIATIONS


_URL_SAFE = "/?#!$&'()*+,;=%~:"  # reserved characters kept as they are after the host (not @)


def http_url(url: str | None) -> str | None:
    """An http(s) URL Discord accepts (≤2048, no spaces or credentials, percent-encoded), else None.

    `@` after the host is encoded too, so no URL can carry mention-like text into a message.
    """
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp", "Cs") for ch in url):
        return None
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        if parts.username is not None or parts.password is not None:
            return None
        netloc = parts.netloc if parts.netloc.isascii() else parts.netloc.encode("idna").decode()
    except (ValueError, UnicodeError):
        return None
    rest = url[url.index("//") + 2 + len(parts.netloc) :]
    safe = f"{parts.scheme}://{quote(netloc, safe=':[]')}{quote(rest, safe=_URL_SAFE)}"
    return safe if len(safe) <= URL_MAX else None


def _link_target(url: str | None) -> str | None:
    """A URL safe inside markdown `[label](url)`: parentheses encoded so the link cannot end early."""
    good = http_url(url)
    return good.replace("(", "%28").replace(")", "%29") if good else None


# ---- measuring and fitting ----------------------------------------------------------------------


def _text_len(value: Any) -> int:
    """Length of a string part; anything else counts as nothing, like Discord's own sum."""
    return len(value) if isinstance(value, str) else 0


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters that count towards Discord's 6,000 per message: title, description, fields, footer, author."""
    total = _text_len(embed.get("title")) + _text_len(embed.get("description"))
    for fld in embed.get("fields") or ():
        total += _text_len(fld.get("name")) + _text_len(fld.get("value"))
    total += _text_len((embed.get("footer") or {}).get("text"))
    total += _text_len((embed.get("author") or {}).get("name"))
    return total


def message_length(body: Mapping[str, Any]) -> int:
    """The 6,000-rule sum over every embed of one message body."""
    return sum(embed_length(e) for e in body.get("embeds") or ())


def fit_message(body: Mapping[str, Any]) -> Json:
    """A copy of `body` cut down until it meets every documented limit, so Discord never rejects it.

    Per-field limits first, bad URLs dropped, at most 10 embeds; then, while the embeds exceed
    6,000 characters together: descriptions shrink, then fields, then footers, authors and titles,
    and last whole embeds are dropped from the end.
    """
    out: Json = copy.deepcopy(dict(body))
    if isinstance(out.get("content"), str):
        out["content"] = cut(out["content"].strip(), CONTENT_MAX)
        if not out["content"]:
            del out["content"]
    if "embeds" not in out:
        return out
    embeds = [e for e in (_fit_embed(e) for e in (out["embeds"] or [])[:EMBEDS_MAX]) if e]
    excess = sum(embed_length(e) for e in embeds) - EMBED_TOTAL_MAX
    for shrink in (_shrink_descriptions, _shrink_fields, _shrink_labels):
        if excess <= 0:
            break
        excess = shrink(embeds, excess)
    embeds = [e for e in embeds if _visible(e)]
    while len(embeds) > 1 and sum(embed_length(e) for e in embeds) > EMBED_TOTAL_MAX:
        embeds.pop()
    out["embeds"] = embeds
    return out


def _fit_embed(embed: Mapping[str, Any]) -> Json | None:
    """One embed within its per-field limits, with invalid URLs and empty parts removed."""
    out: Json = {k: v for k, v in embed.items() if k not in _UNSETTABLE and v is not None}
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        _fit_key(out, key, limit)
    colour = out.get("color")
    if "color" in out and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
        del out["color"]
    if "timestamp" in out and not _iso(out["timestamp"]):
        del out["timestamp"]
    if "url" in out and (url := http_url(out["url"])) is None:
        del out["url"]
    elif "url" in out:
        out["url"] = url
    for key in ("thumbnail", "image"):
        media = out.get(key)
        if media is not None:
            url = http_url(media.get("url")) if isinstance(media, Mapping) else None
            if url is None:
                del out[key]
            else:
                out[key] = {**media, "url": url}
    for key, text_key, limit in (("footer", "text", FOOTER_MAX), ("author", "name", AUTHOR_MAX)):
        part = out.get(key)
        if part is None:
            continue
        part = dict(part) if isinstance(part, Mapping) else {}
        _fit_key(part, text_key, limit)
        if not part.get(text_key):
            del out[key]
            continue
        for url_key in ("url", "icon_url"):
            if url_key in part and (url := http_url(part[url_key])) is None:
                del part[url_key]
            elif url_key in part:
                part[url_key] = url
        out[key] = part
    if "fields" in out:
        fields = []
        for item in (out["fields"] or [])[:FIELDS_MAX]:
            if not isinstance(item, Mapping):
                continue
            fld = dict(item)
            _fit_key(fld, "name", FIELD_NAME_MAX)
            _fit_key(fld, "value", FIELD_VALUE_MAX)
            if fld.get("name") and fld.get("value"):
                fields.append(fld)
        if fields:
            out["fields"] = fields
        else:
            del out["fields"]
    return out if _visible(out) else None


_UNSETTABLE = ("type", "provider", "video")  # Discord sets these itself on sent embeds


def _iso(value: Any) -> bool:
    """Whether `value` is an ISO 8601 timestamp Discord will parse."""
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _fit_key(part: Json, key: str, limit: int) -> None:
    """Trim `part[key]` (whitespace, then length); remove the key when nothing is left."""
    value = part.get(key)
    if value is None:
        return
    value = cut(str(value).strip(), limit)
    if value:
        part[key] = value
    else:
        del part[key]


def _visible(embed: Mapping[str, Any]) -> bool:
    """Discord refuses an embed that shows nothing."""
    return any(
        embed.get(k)
        for k in ("title", "description", "fields", "author", "footer", "image", "thumbnail")
    )


def _shrink_text(part: Json, key: str, excess: int, keep: int = 0) -> int:
    """Take up to `excess` characters off `part[key]` (leaving at least `keep`); return what remains owed."""
    value = part.get(key)
    if not isinstance(value, str) or len(value) <= keep:
        return excess
    target = max(keep, len(value) - excess)
    new = cut(value, target) if target > 0 else ""
    if new:
        part[key] = new
    else:
        del part[key]
    return excess - (len(value) - len(new))


def _shrink_descriptions(embeds: list[Json], excess: int) -> int:
    """Descriptions are the longest, least essential text: the last embed's goes first."""
    for embed in reversed(embeds):
        if excess <= 0:
            break
        excess = _shrink_text(embed, "description", excess)
    return excess


def _shrink_fields(embeds: list[Json], excess: int) -> int:
    """Long field values are cut to a line first; then fields are dropped from the end."""
    for embed in reversed(embeds):
        for fld in reversed(embed.get("fields") or []):
            if excess <= 0:
                return excess
            excess = _shrink_text(fld, "value", excess, keep=64)
    for embed in reversed(embeds):
        fields = embed.get("fields") or []
        while fields and excess > 0:
            fld = fields.pop()
            excess -= _text_len(fld.get("name")) + _text_len(fld.get("value"))
        if not fields:
            embed.pop("fields", None)
    return excess


def _shrink_labels(embeds: list[Json], excess: int) -> int:
    """Footers, author names and titles are cut last, each to a readable minimum."""
    for key, text_key, keep in (
        ("footer", "text", 100),
        ("author", "name", 64),
        ("title", None, 64),
    ):
        for embed in reversed(embeds):
            if excess <= 0:
                return excess
            if text_key is None:
                excess = _shrink_text(embed, key, excess, keep=keep)
            elif isinstance(embed.get(key), dict):
                excess = _shrink_text(embed[key], text_key, excess, keep=keep)
                if not embed[key].get(text_key):
                    del embed[key]
    return excess


# ---- papers -------------------------------------------------------------------------------------


def _source_label(source: str | None) -> str | None:
    """How a source is named to readers ("Hugging Face", not "huggingface")."""
    if not source:
        return None
    return SOURCE_LABELS.get(source) or plain(source, 40) or None


def _colour(paper: Paper, source: str | None) -> int:
    """Hugging Face yellow for papers that came (or also came) through HF, arXiv red otherwise."""
    if source == "huggingface" or (source is None and "huggingface" in paper.sources):
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
        if name := clean(author, raw=_raw(each)):
            names.append(name)
            if len(names) > shown:
                break
    if not names:
        return ""
    text = ", ".join(cut(n, each) for n in names[:shown])
    return text + (" et al." if len(names) > shown else "")


def summary(paper: Paper, limit: int = SUMMARY_MAX) -> tuple[str, bool]:
    """The text to show under the title (plain), and whether it is Hugging Face's AI summary."""
    ai = clean(paper.ai_summary, raw=_raw(2 * limit))
    if ai:
        return summary_text(ai, limit), True
    return summary_text(clean(paper.abstract, raw=_raw(2 * limit)), limit), False


def links_line(paper: Paper, limit: int = 1000, *, skip: Collection[str] = ()) -> str:
    """`[arXiv](…) · [PDF](…) · …` for the links that exist, in `Paper.links()` order, within `limit`.

    Links named in `skip` (those already shown as buttons) are left out.
    """
    parts: list[str] = []
    used = 0
    for key, url in paper.links().items():
        if key in skip:
            continue
        target = _link_target(url)
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
    return "huggingface" if "huggingface" in paper.sources else "arxiv"


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


# ---- lists: digests and search results ----------------------------------------------------------


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
    target = _link_target(paper.url)
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


def digest_message(papers: Sequence[Paper], *, feed_name: str, more: int, date_label: str) -> Json:
    """One message for a daily digest: a numbered list of up to 25 papers and how many more matched."""
    shown = list(papers[:DIGEST_MAX])
    more = max(0, more) + max(0, len(papers) - DIGEST_MAX)
    title = md(f"{clean(feed_name) or 'feed'} digest · {clean(date_label)}", TITLE_MAX)
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
) -> Json:
    """A compact, numbered page of search results (title linked, authors, year, upvotes)."""
    papers = [h.paper if isinstance(h, SearchHit) else h for h in hits][:DIGEST_MAX]
    start = (max(page, 1) - 1) * per_page + 1 if per_page else 1
    listing = _numbered_list(papers, DESCRIPTION_MAX, start=start, year=True)
    embed: Json = {
        "title": cut(f"Search: {md(query, TITLE_MAX) or '(empty query)'}", TITLE_MAX),
        "description": listing or "No papers match this search.",
        "color": COLOUR_SEARCH,
        "footer": {
            "text": f"Page {max(page, 1):,} of {max(pages, 1):,}{SEP}{total:,} result{'s' if total != 1 else ''}"
        },
    }
    fitted: Json = fit_message({"embeds": [embed]})["embeds"][0]
    return fitted


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


def digest_forum_post(
    papers: Sequence[Paper], *, feed_name: str, more: int, date_label: str
) -> Json:
    """A daily digest as a forum post named after the feed and the day."""
    message = digest_message(papers, feed_name=feed_name, more=more, date_label=date_label)
    return forum_post(message, name=f"{clean(feed_name)} digest · {clean(date_label)}")


def alert_message(text: str) -> Json:
    """A notice for the alerts channel: plain content that pings nobody and previews no links."""
    content = (
        cut(inert(clean(text, multiline=True, raw=_raw(CONTENT_MAX))), CONTENT_MAX)
        or "paperfeed: (empty alert)"
    )
    return {"content": content, "allowed_mentions": no_mentions(), "flags": 1 << 2}
