"""Discord's documented limits, and the pure text helpers that enforce them.

Every limit in Discord's docs (reference/upstream.md §3.1-3.2) lives here and is enforced by
truncation, never left to Discord to reject: `cut` and `summary_text` shorten text, `fit_message`
cuts a whole body down to size, and `embed_length` / `message_length` do the 6,000-character
accounting. Text that comes from papers or users is cleaned (control and bidi-override characters
removed), markdown-escaped where Discord renders markdown, and mentions are made inert;
`no_mentions()` is the `allowed_mentions` that parses nothing, set on every body as well.
No I/O and no discord.py objects: the bodies built from these (`embeds`, `listings`) stay pure.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

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
RAW_MAX = 10_000  # characters of any one input text worth cleaning (a message shows ≤ 6,000)

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
    return cut(inert(clean(text, raw=raw_for(limit))), limit)


def raw_for(limit: int) -> int:
    """Input worth reading for `limit` characters of output, with room for removed junk."""
    return max(4 * limit, 256)


def md(text: str | None, limit: int) -> str:
    """Cleaned, escaped, mention-free text for places Discord renders markdown."""
    return cut(inert(escape_markdown(clean(text, raw=raw_for(limit)))), limit)


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


def link_target(url: str | None) -> str | None:
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
